"""The command line's spelling of the run options (:data:`mcdiag.run.options.FLAGS`), and its parser class."""

from __future__ import annotations

import argparse
from typing import Any

from mcdiag.run.options import ACTIVE, CLUSTERS, NETWORK, SELECTION, Flag, flags

GROUP_HELP = {
    CLUSTERS: "Two or more clusters. Without any option: the current context of $KUBECONFIG.",
    SELECTION: None,
    NETWORK: None,
    ACTIVE: None,
}


class Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and one line, as every usage error of mcdiag."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"mcdiag: error: {message}{_did_you_mean(message)} (see --help)\n")


def _did_you_mean(message: str) -> str:
    """`` (did you mean all?)`` for argparse's "invalid choice: 'al' (choose from ...)"."""
    import difflib
    import re

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return ""
    choices = re.findall(r"'([^']*)'", found.group(2)) or [c.strip() for c in found.group(2).split(",")]
    close = difflib.get_close_matches(found.group(1), choices, n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def add_flags(parser: argparse.ArgumentParser, *groups: str) -> None:
    """Add the :data:`~mcdiag.run.options.FLAGS` of ``groups`` to ``parser``, spelled for the command line."""
    made: dict[str, Any] = {}
    for f in flags(*groups):
        group = made.get(f.group)
        if group is None:
            group = made[f.group] = parser.add_argument_group(f.group, GROUP_HELP.get(f.group))
        group.add_argument(*(f.cli or (f.flag,)), dest=f.dest, **_argparse_kwargs(f))


def _argparse_kwargs(f: Flag) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": f.help}
    if f.kind is bool:
        kwargs["action"] = "store_true"
        return kwargs
    if f.kind is list:
        kwargs.update(action="append", default=[])
    else:
        kwargs.update(type=f.kind, default=f.default)
    if f.metavar:
        kwargs["metavar"] = f.metavar
    if f.choices:
        kwargs["choices"] = f.choices
    return kwargs
