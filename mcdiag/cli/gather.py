"""``mcdiag gather``: save what the passive checks read, for ``mcdiag all --from-snapshot``."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from mcdiag.cli.flags import add_flags
from mcdiag.errors import UsageError
from mcdiag.run.options import CLUSTERS, Options


def register(subparsers: Any) -> None:
    """Add ``mcdiag gather`` to the CLI."""
    p = subparsers.add_parser(
        "gather",
        help="save what the passive checks read, for `mcdiag all --from-snapshot`",
        description="Read from every cluster what the passive checks need and save it (redacted) as JSON files. "
        "`mcdiag all --from-snapshot DIR` then runs the passive checks offline with the same verdicts.",
        epilog="example:\n  mcdiag gather --kubeconfig A --remote-kubeconfig B -o snap/\n  mcdiag all --from-snapshot snap/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(p, CLUSTERS)
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="new or empty directory to write")
    p.set_defaults(func=cmd_gather)


def _check_output(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"--output {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(f"--output {path}: directory is not empty; give a new or empty one")


def cmd_gather(args: argparse.Namespace) -> int:
    """Gate and name the clusters as ``mcdiag all`` does, run the passive checks, save what they read."""
    from mcdiag.cli.output import interrupts, say
    from mcdiag.run.session import Session

    out = Path(args.output)
    _check_output(out)
    session = Session(Options.from_values(args, passive=True))
    for problem in session.registry.problems:
        say(f"mcdiag: warning: {problem}")
    # Running the passive checks (results discarded) records whatever they read, declared or not.
    with interrupts(session.interrupt):
        report = session.run()
        return _save(out, session, report)


def _save(out: Path, session: Any, report: Any) -> int:
    from mcdiag.cli.output import say
    from mcdiag.gather.resources import from_key
    from mcdiag.gather.snapshot import MANIFEST, save_snapshot
    from mcdiag.run.session import reads_of

    views = session.views
    declared = reads_of([*session.checks, *session.gates])
    # a query narrower than a declared one (one namespace or one name of it, known at run time) is declared too
    undeclared = sorted({k for v in views for k in v.recorded()["lists"]
                         if not any(d.key == k or d.covers(from_key(k)) for d in declared)})
    notes = [f"read without being declared in a check's reads: {', '.join(undeclared)}"] if undeclared else []
    notes += list(report.notes)
    if report.interrupted:
        notes.append("interrupted: some checks did not finish, so the snapshot may lack lists they would have read")
    try:
        manifest = save_snapshot(out, views, checks=[c.id for c in session.checks], notes=notes)
    except RuntimeError as exc:
        say(f"mcdiag: error: {exc}")
        shutil.rmtree(out, ignore_errors=True)
        return 1
    except OSError as exc:
        say(f"mcdiag: error: cannot write the snapshot to {out}: {exc.strerror or exc}")
        return 1
    for entry in manifest["clusters"]:
        state = f"unreachable: {entry['unreachable']}" if entry["unreachable"] else f"{entry['objects']} objects"
        say(f"{entry['name']}: {entry['lists']} lists saved to {out / entry['dir']} ({state})", sys.stdout)
    for note in notes:
        say(f"mcdiag: note: {note}")
    say(f"snapshot: {out / MANIFEST}; run the checks offline with `mcdiag all --from-snapshot {out}`", sys.stdout)
    unreachable = [e["name"] for e in manifest["clusters"] if e["unreachable"]]
    return 1 if unreachable or report.interrupted else 0
