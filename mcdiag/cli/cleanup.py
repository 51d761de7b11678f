"""``mcdiag cleanup``: remove what crashed runs left behind."""

from __future__ import annotations

import argparse
import sys

from mcdiag.active.executor import cleanup_leftovers
from mcdiag.cli.flags import add_flags
from mcdiag.cli.output import say
from mcdiag.run.options import CLUSTERS, Options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cleanup`` sub-command."""
    p = sub.add_parser(
        "cleanup",
        help="delete probe pods, services and namespaces that crashed runs left behind",
        description=(
            "Delete every object labelled app.kubernetes.io/managed-by=mcdiag (probe pods, echo Deployments, "
            "Services, ServiceExports, the probe namespace) in every given cluster. Runs clean up after "
            "themselves; this is for runs that were killed."
        ),
    )
    add_flags(p, CLUSTERS)
    p.add_argument("--run-id", help="only objects of this run (default: every mcdiag run)")
    p.set_defaults(func=cmd_cleanup)


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Delete leftovers in every cluster; exit 1 when something could not be deleted."""
    from mcdiag.gather.kubeconfig import load_cluster

    options = Options.from_values(args)
    options.validate()
    status = 0
    for spec in options.specs():
        source = load_cluster(spec, options.request_timeout)
        deleted, problems = cleanup_leftovers(source, args.run_id)
        where = spec.resolved_context or spec.server
        say(f"{where}: deleted {len(deleted)} object(s)" + (": " + ", ".join(deleted) if deleted else ""), sys.stdout)
        for problem in problems:
            say(f"mcdiag: {where}: {problem}")
            status = 1
    return status
