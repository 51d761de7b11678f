"""The command line's front door: ``mcdiag`` (see :func:`mcdiag.cli.main.main`)."""

from mcdiag.cli.main import main

__all__ = ["main"]
