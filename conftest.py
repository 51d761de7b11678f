"""Lets ``pytest -m inter-cluster --kubeconfig A --remote-kubeconfig B`` work from a checkout.

Installed, the plugin loads through its ``pytest11`` entry point (registered
under the same name, so it is never loaded twice).
"""

pytest_plugins = ["mcdiag.pytest_plugin"]
