"""The ``mcdiag`` command line: ``all``, ``run``, ``list``, and the sub-commands of their own modules.

Exit codes: 0 no fail and no error; 1 at least one fail or error (an
unreachable API server included, and a run that was interrupted or reached its
time limit); 2 the invocation itself is unusable, with a one-line reason and no
traceback.

From the first moment a run holds its own SIGINT and SIGTERM: they stop it
within a second or two and the reports are still written (files first, then the
terminal, which never fails on characters it cannot encode). Every line printed
passes through :mod:`mcdiag.gather.redact`, and so does the client libraries'
own logging.

``mcdiag probe`` and ``mcdiag lab`` are dispatched to their own parsers only
when named, so a run never imports the probes (scapy) or the lab.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from mcdiag.cli.flags import Parser, add_flags
from mcdiag.cli.output import interrupts, say
from mcdiag.errors import UsageError
from mcdiag.model import KNOWN_TAGS, RunReport
from mcdiag.run.options import PROVIDERS, Options

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

#: Sub-commands whose parser lives in a module imported only when the command is named.
LAZY_COMMANDS = {
    "probe": ("mcdiag.probes.cli", "run one network probe and print JSON"),
    "lab": ("mcdiag.lab.cli", "a two-cluster lab in network namespaces (root; needs mcdiag[lab])"),
}


def _report_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("reports")
    r.add_argument("--report-dir", default="reports", metavar="DIR", help="where reports go (default reports/)")
    r.add_argument("--json", type=Path, metavar="FILE", help="JSON report path (`-` for stdout, as -o json)")
    r.add_argument("--junit-xml", type=Path, metavar="FILE", help="JUnit XML report path")
    r.add_argument("--html", type=Path, metavar="FILE", help="HTML report path")
    r.add_argument("--no-report-files", action="store_true", help="write no report files, terminal only")
    r.add_argument("--quiet", "-q", action="store_true", help="terminal: show only what is not a pass")
    r.add_argument("--verbose", "-v", action="store_true",
                   help="terminal: also the evidence of each result (what was read, probe commands and output; redacted)")
    r.add_argument("--output", "-o", choices=("text", "json"), default="text",
                   help="what goes to stdout: the text report (default) or the JSON report (then all else to stderr)")


class _VersionAction(argparse.Action):
    """``--version``/``-V``: the version and the default probe image (worked out only when asked)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from mcdiag.cli.explain import version_text

        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = Parser(
        prog="mcdiag",
        description="Diagnose networking between Kubernetes clusters (Submariner, Netmaker/WireGuard, routed).",
        epilog="Start with `mcdiag all --kubeconfig A --remote-kubeconfig B`. `mcdiag list` shows every check.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action=_VersionAction, help="show the version and the probe image it uses")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    for name, helptext, description in (
        ("all", "run every check on the clusters", "Run every registered check on every cluster and pair of clusters."),
        ("run", "run the checks named by id", "Run only the named checks (ids from `mcdiag list`)."),
    ):
        p = sub.add_parser(
            name, help=helptext, description=description, epilog=EPILOG_ALL, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        if name == "run":
            p.add_argument("ids", nargs="+", metavar="ID", help="check id, e.g. cidr-overlap")
        add_flags(p)
        _report_options(p)
        p.set_defaults(func=cmd_run, **({"ids": []} if name == "all" else {}))

    p_list = sub.add_parser("list", help="list every registered check", description="List every check: id, scope, tags, title.")
    p_list.add_argument("--tag", action="append", default=[], choices=KNOWN_TAGS, help="only checks with this tag (repeatable: any of them)")
    p_list.add_argument("--provider", choices=PROVIDERS, help="only checks that apply to clusters of this provider")
    p_list.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                        help="table (default), json, or markdown (the catalogue in docs/checks.md)")
    p_list.add_argument("--json", action="store_const", const="json", dest="format", help="same as --format json")
    p_list.set_defaults(func=cmd_list)

    from mcdiag.cli import cleanup, completion, explain, gather, rbac

    explain.register(sub)
    completion.register(sub, parser)
    gather.register(sub)
    cleanup.register(sub)
    rbac.register(sub)
    for name, (_module, helptext) in LAZY_COMMANDS.items():
        sub.add_parser(name, help=helptext, add_help=False)
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    """``mcdiag list``."""
    import json

    from mcdiag.cli.explain import filter_checks, render_table
    from mcdiag.run.registry import resolve

    reg = resolve()
    checks = filter_checks(reg.checks, args.tag, args.provider)
    if args.format == "json":
        print(json.dumps([c.metadata() for c in checks], indent=2))
    elif args.format == "markdown":
        from mcdiag.reports.catalogue import render_markdown

        print(render_markdown(checks), end="")
    else:
        print(render_table(checks, reg.checks))
    for problem in reg.problems:
        print(f"mcdiag: warning: {problem}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``mcdiag all`` and ``mcdiag run``."""
    from mcdiag.cli.progress import Progress
    from mcdiag.run.session import Session

    options = Options.from_values(args)
    progress = Progress(quiet=args.quiet)
    session = Session(options, observer=progress)
    for problem in session.registry.problems:
        say(f"mcdiag: warning: {problem}")
    with interrupts(session.interrupt):
        try:
            report = session.run()
        finally:
            progress.done()  # the live display is gone before anything of the report is printed
        return finish(report, args)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def finish(report: RunReport, args: argparse.Namespace) -> int:
    """Write the report files, then print the terminal report; return the exit code.

    Files come first, so nothing on the terminal can cost a report; the
    terminal report replaces characters the terminal cannot encode.
    """
    from mcdiag.reports import render_terminal, write_reports
    from mcdiag.reports.terminal import use_colour

    code = report.exit_code
    if report.interrupted:
        code = max(code, 1)
    json_stdout = args.output == "json" or str(args.json) == "-"
    text_stream = sys.stderr if json_stdout else sys.stdout
    written: dict[str, Path] = {}
    problems: list[str] = []
    if not args.no_report_files:  # files first: nothing on the terminal can cost a report
        try:
            written, problems = write_reports(
                report, report_dir=Path(args.report_dir), json_path=None if str(args.json) == "-" else args.json,
                junit_path=args.junit_xml, html_path=args.html, json_file=str(args.json) != "-",
            )
        except Exception as exc:  # a writer's own failure must not cost the terminal report
            problems = [f"cannot write the reports: {exc.__class__.__name__}: {exc}"]
    try:
        text = render_terminal(report, colour=use_colour(text_stream), verbose=not args.quiet, evidence=args.verbose)
    except Exception as exc:
        text = f"mcdiag: the terminal report failed ({exc.__class__.__name__}); summary: {report.summary}"
    say(text, text_stream)
    for note in report.notes:
        say(f"note: {note}")
    if json_stdout:
        import json

        try:
            sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
            sys.stdout.flush()
        except UnicodeEncodeError:
            sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=True) + "\n")
    for problem in problems:
        say(f"mcdiag: {problem}")
    if written:
        say("reports: " + ", ".join(str(p) for p in written.values()))
    if problems:
        return max(code, 1)
    return code


def _run_lazy(argv: list[str]) -> int:
    """``mcdiag probe ...`` / ``mcdiag lab ...``: their own parser, imported now."""
    module, _ = LAZY_COMMANDS[argv[0]]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        extra = " (install it with: pip install 'mcdiag[lab]')" if argv[0] == "lab" else ""
        print(f"mcdiag: error: `mcdiag {argv[0]}` is not available: {exc}{extra}", file=sys.stderr)
        return 2
    parser = Parser(prog="mcdiag")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    mod.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mcdiag`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from mcdiag.gather.redact import capture_library_logging

    capture_library_logging()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main_thread else None
    try:
        if argv and argv[0] in LAZY_COMMANDS:
            return _run_lazy(argv)
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        say(f"mcdiag: error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("mcdiag: interrupted")
        return 130
    except BrokenPipeError:  # `mcdiag list | head`: the reader left; nothing more to say
        sys.stdout = None  # type: ignore[assignment]
        return 0
    except RecursionError:
        say("mcdiag: error: an input is nested too deeply to read")
        return 1
    except Exception as exc:  # a bug: one line, never a traceback
        say(f"mcdiag: internal error: {exc.__class__.__name__}: {exc} (please report it)")
        return 1
    finally:
        from mcdiag.gather.kubeconfig import kill_exec_plugins

        kill_exec_plugins()
        # Restore SIGTERM unless a run took it over for good (after an interrupt it ignores late signals).
        if main_thread and previous is not None and signal.getsignal(signal.SIGTERM) is _raise_interrupt:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
