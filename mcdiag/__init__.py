"""mcdiag: diagnostics and conformance checks for networking between Kubernetes clusters."""

__version__ = "0.1.0"
