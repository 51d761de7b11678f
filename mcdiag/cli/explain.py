"""Learning the CLI: ``mcdiag list`` (header, titles, filters), ``mcdiag explain ID``, "did you mean", ``-V``."""

from __future__ import annotations

import argparse
import difflib
import inspect
import textwrap
from collections.abc import Iterable, Sequence

from mcdiag import __version__
from mcdiag.errors import UsageError
from mcdiag.model import Check

#: The image that runs the CLI (the Job and CronJob in deploy/); the release workflow pushes it.
CLI_IMAGE_NAME = "mcdiag"


def cli_image() -> str:
    """``ghcr.io/mcdiag/mcdiag:VERSION``: where the release workflow publishes the CLI image."""
    from mcdiag.active.executor import DEFAULT_IMAGE_REPOSITORY

    return f"{DEFAULT_IMAGE_REPOSITORY}/{CLI_IMAGE_NAME}:{__version__}"


def version_text() -> str:
    """``mcdiag --version``: the version, and the probe image active checks will use by default."""
    from mcdiag.active.executor import probe_image

    return f"mcdiag {__version__} (probe image {probe_image()})"


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(close)}?)"


def filter_checks(checks: Sequence[type[Check]], tags: Sequence[str] = (), provider: str | None = None) -> list[type[Check]]:
    """Checks with any of ``tags`` (all when none) that apply to clusters of ``provider`` (all when none)."""
    out = [c for c in checks if not tags or set(tags) & set(c.tags)]
    if provider:
        out = [c for c in out if not c.providers or provider in c.providers]
    return out


def render_table(checks: Sequence[type[Check]], everything: Sequence[type[Check]] | None = None) -> str:
    """``mcdiag list``: a header, one row per check (id, scope, tags, title), and how to learn more."""
    rows = [("ID", "SCOPE", "TAGS", "TITLE")]
    rows += [(c.id, c.scope.value, " ".join(c.metadata()["tags"]), c.title) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]
    total = len(everything) if everything is not None else len(checks)
    shown = f"{len(checks)} of {total} checks" if len(checks) != total else f"{total} checks"
    lines += ["", f"{shown}. `mcdiag explain ID` tells what a check reads, when it fails and how to fix it."]
    return "\n".join(lines)


def explain(check: type[Check], registry_checks: Sequence[type[Check]] = ()) -> str:
    """What a check reads, when it passes/warns/fails, what it depends on, how to fix, docs."""
    from mcdiag.reports.catalogue import reads_if_needed_text, reads_text

    meta = check.metadata()
    width = 96
    doc = inspect.cleandoc(check.__doc__ or check.title)
    lines = [f"{check.id}: {check.title}", ""]
    lines += [textwrap.fill(p, width) for p in doc.split("\n\n")]
    lines.append("")
    scope = {"cluster": "once per cluster", "pair": "once per pair of clusters",
             "ordered-pair": "once per direction between two clusters (A->B and B->A)"}[meta["scope"]]
    lines.append(f"Runs:        {scope}; tags {' '.join(meta['tags'])}")
    lines.append("Applies to:  " + (", ".join(sorted(check.providers)) + " clusters (skips on others)"
                                     if check.providers else "every provider"))
    reads = list(dict.fromkeys(reads_text(check).replace("`", "").split(", ")))
    lines += textwrap.wrap(f"Reads:       {', '.join(reads)}", width, subsequent_indent=" " * 13)
    if check.reads_if_needed:
        lines += textwrap.wrap(f"If needed:   {reads_if_needed_text(check).replace('`', '')}", width, subsequent_indent=" " * 13)
    mode = "starts probe pods and sends packets (not with --passive)" if "active" in check.tags else "API reads only"
    lines.append(f"Acts:        {mode}")
    deps = [d for d in check.depends]
    if not check.fatal:
        deps.append("api-access")
    lines.append(f"Depends on:  {', '.join(deps) if deps else 'nothing'} (their failures are named as its likely cause)")
    if check.fatal:
        lines.append("Fatal:       when it does not pass, every other check of that cluster is skipped")
    dependents = [c.id for c in registry_checks if check.id in c.depends]
    if dependents:
        lines.append(f"Explains:    {', '.join(dependents)}")
    lines.append("Statuses:    pass as described above; fail or warn with a hint; skip when it does not apply;")
    lines.append("             error when it cannot decide (API unreachable or forbidden, probe pod never started)")
    lines.append("")
    fix = check.hint or "each failure and warning carries its own hint, naming what to change and where"
    lines += textwrap.wrap(f"How to fix:  {fix}", width, subsequent_indent=" " * 13)
    if check.docs:
        lines.append(f"Docs:        {check.docs}")
    lines.append(f"Run it:      mcdiag run {check.id} --kubeconfig A --remote-kubeconfig B")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mcdiag explain ID``."""
    p = sub.add_parser("explain", help="what one check reads, when it fails and how to fix it",
                       description="Explain a check: what it reads, when it passes, warns or fails, what it depends on, "
                                   "how to fix it and where the docs are.")
    p.add_argument("id", metavar="ID", help="check id (see `mcdiag list`)")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    """``mcdiag explain ID``."""
    from mcdiag.run.registry import resolve

    reg = resolve()
    check = reg.get(args.id)
    if check is None:
        raise UsageError(f"unknown check id {args.id!r}{suggest(args.id, reg.ids())} (see `mcdiag list`)")
    print(explain(check, reg.checks))
    return 0
