"""The ``mcdiag`` command line.

Exit codes: 0 no fail and no error; 1 at least one fail or error (an
unreachable API server included); 2 the invocation itself is unusable, with a
one-line reason and no traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from mcdiag import __version__
from mcdiag.errors import UsageError
from mcdiag.model import KNOWN_TAGS, Result, Status
from mcdiag.registry import resolve
from mcdiag.runner import DEFAULT_CHECK_TIMEOUT, Runner, RunReport
from mcdiag.session import DEFAULT_REQUEST_TIMEOUT, PROVIDERS, Options

EPILOG_ALL = """\
examples:
  mcdiag all --kubeconfig ~/.kube/config --remote-kubeconfig ~/.kube/config-1
  mcdiag all --cluster east=~/.kube/east --cluster west=~/.kube/west:admin@west
  mcdiag all --kubeconfig A --remote-kubeconfig B --passive     # API reads only
  mcdiag run cidr-overlap gateway-connections --kubeconfig A --remote-kubeconfig B
  mcdiag all ... --junit-xml junit.xml                          # for CI

Reports (JSON, JUnit, HTML) go to --report-dir (default reports/) unless a
path is given for each. Exit status: 0 all good, 1 a check failed or could not
decide (error), 2 the command line or a kubeconfig is unusable.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and one line, as every usage error of mcdiag."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"mcdiag: error: {message} (see --help)\n")


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("clusters", "Two or more clusters. Without any option: the current context of $KUBECONFIG.")
    g.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig of the local cluster (default: $KUBECONFIG or ~/.kube/config)")
    g.add_argument("--context", metavar="NAME", help="context in --kubeconfig (default: its current-context)")
    g.add_argument("--remote-kubeconfig", metavar="PATH", help="kubeconfig of the remote cluster (default: --kubeconfig)")
    g.add_argument("--remote-context", metavar="NAME", help="context in --remote-kubeconfig")
    g.add_argument(
        "--cluster",
        action="append",
        default=[],
        metavar="NAME=PATH[:CONTEXT]",
        help="a named cluster; repeat for N clusters (names must be unique)",
    )
    g.add_argument("--provider", choices=PROVIDERS, help="what joins the clusters (default: detected per cluster)")
    g.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="S",
        help=f"seconds one API request may take (default {DEFAULT_REQUEST_TIMEOUT:g})",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("selection and execution")
    g.add_argument("--passive", action="store_true", help="only checks that read the API: no pod, no packet, no write request")
    g.add_argument("--tag", action="append", default=[], choices=KNOWN_TAGS, help="only checks with this tag (repeatable)")
    g.add_argument("--jobs", "-j", type=int, default=8, help="checks run in parallel (default 8)")
    g.add_argument(
        "--check-timeout",
        type=float,
        metavar="S",
        help=f"seconds each check may take (default {DEFAULT_CHECK_TIMEOUT:g}, or the check's own)",
    )
    g.add_argument("--from-snapshot", metavar="DIR", help="run the passive checks on a snapshot written by `mcdiag gather`")
    n = p.add_argument_group("network facts")
    n.add_argument("--pod-cidr", action="append", default=[], metavar="[CLUSTER=]CIDR", help="pod CIDR(s), overriding discovery")
    n.add_argument(
        "--service-cidr", action="append", default=[], metavar="[CLUSTER=]CIDR", help="service CIDR(s), overriding discovery"
    )
    n.add_argument("--netmaker-subnet", action="append", default=[], metavar="CIDR", help="Netmaker network subnet(s)")
    a = p.add_argument_group("active checks")
    a.add_argument("--service", metavar="NS/NAME", help="exported service to probe (default: a temporary echo service)")
    a.add_argument("--max-rtt", type=float, default=100.0, metavar="MS", help="latency warns above this RTT (default 100)")
    a.add_argument("--image", help="probe pod image (default: mcdiag's probe image)")
    a.add_argument("--image-repository", metavar="REPO", help="registry mirror for the probe image")
    a.add_argument("--probe-namespace", default="mcdiag-probes", metavar="NS", help="namespace for probe pods (default mcdiag-probes)")
    a.add_argument(
        "--probe-start-timeout", type=float, default=60.0, metavar="S", help="seconds a probe pod may take to start (default 60)"
    )
    r = p.add_argument_group("reports")
    r.add_argument("--report-dir", default="reports", metavar="DIR", help="where reports go (default reports/)")
    r.add_argument("--json", type=Path, metavar="FILE", help="JSON report path")
    r.add_argument("--junit-xml", type=Path, metavar="FILE", help="JUnit XML report path")
    r.add_argument("--html", type=Path, metavar="FILE", help="HTML report path")
    r.add_argument("--no-report-files", action="store_true", help="write no report files, terminal only")
    r.add_argument("--quiet", "-q", action="store_true", help="terminal: show only what is not a pass")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(
        prog="mcdiag",
        description="Diagnose networking between Kubernetes clusters (Submariner, Netmaker/WireGuard, routed).",
        epilog="Start with `mcdiag all --kubeconfig A --remote-kubeconfig B`. `mcdiag list` shows every check.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcdiag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p_all = sub.add_parser(
        "all",
        help="run every check on the clusters",
        description="Run every registered check on every cluster and pair of clusters.",
        epilog=EPILOG_ALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _cluster_options(p_all)
    _run_options(p_all)
    p_all.set_defaults(func=cmd_run, ids=[])

    p_run = sub.add_parser(
        "run",
        help="run the checks named by id",
        description="Run only the named checks (ids from `mcdiag list`).",
        epilog=EPILOG_ALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument("ids", nargs="+", metavar="ID", help="check id, e.g. cidr-overlap")
    _cluster_options(p_run)
    _run_options(p_run)
    p_run.set_defaults(func=cmd_run)

    p_list = sub.add_parser("list", help="list every registered check", description="List every check: id, scope, tags, title.")
    p_list.add_argument("--tag", action="append", default=[], choices=KNOWN_TAGS, help="only checks with this tag")
    p_list.add_argument("--json", action="store_true", help="as JSON")
    p_list.set_defaults(func=cmd_list)

    _register_optional(sub)
    return parser


def _register_optional(sub: Any) -> None:
    """Sub-commands that live in their own packages (snapshots, probes, lab, cleanup)."""
    import importlib

    for module in ("mcdiag.snapshot", "mcdiag.probes.cli", "mcdiag.lab.cli", "mcdiag.active.cli"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        register = getattr(mod, "register", None)
        if register:
            register(sub)


def cmd_list(args: argparse.Namespace) -> int:
    """``mcdiag list``."""
    import json

    reg = resolve()
    checks = [c for c in reg.checks if not args.tag or set(args.tag) & set(c.tags)]
    if args.json:
        print(json.dumps([c.metadata() for c in checks], indent=2))
    else:
        width = max((len(c.id) for c in checks), default=10)
        for c in checks:
            meta = c.metadata()
            print(f"{c.id:<{width}}  {meta['scope']:<12}  {' '.join(meta['tags']):<46}  {c.title}")
    for problem in reg.problems:
        print(f"mcdiag: warning: {problem}", file=sys.stderr)
    return 0


def options_from_args(args: argparse.Namespace) -> Options:
    """The shared :class:`Options` from parsed arguments (sub-commands without an option get its default)."""
    defaults = Options()
    fields = (
        "kubeconfig", "context", "remote_kubeconfig", "remote_context", "cluster", "provider", "passive",
        "request_timeout", "pod_cidr", "service_cidr", "netmaker_subnet", "max_rtt", "service", "image",
        "image_repository", "from_snapshot",
    )
    values = {f: getattr(args, f, getattr(defaults, f)) for f in fields}
    values["tags"] = list(getattr(args, "tag", []) or [])
    return Options(**values)


class Progress:
    """Progress on stderr while checks run: a line per finished result on a TTY, a count otherwise."""

    def __init__(self, total: int, stream: Any = None):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()

    def note(self, text: str) -> None:
        """A stage message (listing resources, starting probes)."""
        print(f"mcdiag: {text}", file=self.stream, flush=True)

    def __call__(self, result: Result) -> None:
        """One result arrived."""
        self.done += 1
        if self.tty:
            mark = {Status.PASS: "✓", Status.WARN: "⚠", Status.SKIP: "–"}.get(result.status, "✗")
            print(f"\r\033[K[{self.done}/{self.total}] {mark} {result.test_name}", end="", file=self.stream, flush=True)
            if self.done == self.total:
                print(file=self.stream)


def cmd_run(args: argparse.Namespace) -> int:
    """``mcdiag all`` and ``mcdiag run``."""
    from mcdiag import session

    options = options_from_args(args)
    options.validate()
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    reg = resolve()
    for problem in reg.problems:
        print(f"mcdiag: warning: {problem}", file=sys.stderr)
    checks = session.select_checks(reg, args.ids, options.tags, options.passive)
    notes: list[str] = []
    if options.from_snapshot:
        from mcdiag.snapshot import load_snapshot_views

        if options.kubeconfig or options.context or options.remote_kubeconfig or options.remote_context or options.cluster:
            raise UsageError("--from-snapshot replaces the cluster options; give one or the other")
        views = load_snapshot_views(Path(options.from_snapshot), options)
        dropped = [c.id for c in checks if "passive" not in c.tags]
        checks = [c for c in checks if "passive" in c.tags]
        notes.append(f"offline run from the snapshot {options.from_snapshot}: passive checks only")
        if dropped and args.ids:
            notes.append(f"not run (active checks need live clusters): {', '.join(dropped)}")
    else:
        views = session.load_views(options.specs(), options)
    gates = session.gate_checks(reg)
    progress = Progress(len(checks) * max(1, len(views)))
    executor = None
    if any("active" in c.tags for c in checks):
        from mcdiag.active.executor import ProbeExecutor

        executor = ProbeExecutor(
            {id(v): v.source for v in views},
            image=options.image,
            image_repository=options.image_repository,
            namespace=args.probe_namespace,
            start_timeout=args.probe_start_timeout,
        )
    runner = Runner(views, {}, jobs=args.jobs, check_timeout=args.check_timeout, progress=progress, probes=executor)

    def after_gate() -> None:
        session.resolve_names(views)
        runner.options.update(options.check_options([v.name for v in views]))
        if executor is not None:
            executor.sources = {v.name: v.source for v in views}
            progress.note(f"probe pods: namespace {executor.namespace}, image {executor.image}, run id {executor.run_id}")
        wanted = session.reads_of(checks)
        reachable = [v for v in views if not v.unreachable]
        if reachable:
            progress.note(f"reading {len(wanted)} resource lists from {', '.join(v.name for v in reachable)}")
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, len(reachable))) as pool:
            list(pool.map(lambda v: v.prefetch(wanted), reachable))

    progress.note(f"checking {len(views)} cluster(s): {len(checks)} check(s)")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        report = runner.run(checks, gates, after_gate=after_gate)
        report.notes.extend(notes)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if executor is not None:
            progress.note("deleting probe pods and objects of this run")
            for problem in executor.cleanup():
                print(f"mcdiag: cleanup: {problem} (run `mcdiag cleanup --run-id {executor.run_id}`)", file=sys.stderr)
    return finish(report, args)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def finish(report: RunReport, args: argparse.Namespace) -> int:
    """Print the terminal report, write the files, and return the exit code."""
    from mcdiag.reports import render_terminal, write_reports
    from mcdiag.reports.terminal import use_colour

    print(render_terminal(report, colour=use_colour(sys.stdout), verbose=not args.quiet))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.no_report_files:
        written, problems = write_reports(
            report, report_dir=Path(args.report_dir), json_path=args.json, junit_path=args.junit_xml, html_path=args.html
        )
        for problem in problems:
            print(f"mcdiag: {problem}", file=sys.stderr)
        if written:
            print("reports: " + ", ".join(str(p) for p in written.values()), file=sys.stderr)
        if problems:
            return max(report.exit_code, 1)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mcdiag`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"mcdiag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mcdiag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
