"""``mcdiag completion bash|zsh|fish``: shell completion generated from the parser itself.

bash and zsh come from ``shtab`` (every sub-command and option, files for kubeconfig paths,
check ids for ``run`` and ``explain``); fish, which shtab does not write, from the same parser
here. Install: ``mcdiag completion bash > /etc/bash_completion.d/mcdiag``,
``mcdiag completion zsh > "${fpath[1]}/_mcdiag"``, ``mcdiag completion fish > ~/.config/fish/completions/mcdiag.fish``.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

SHELLS = ("bash", "zsh", "fish")
#: Options whose value is a file or directory.
PATH_DESTS = {"kubeconfig", "remote_kubeconfig", "json", "junit_xml", "html", "report_dir", "from_snapshot", "output"}


def register(sub: argparse._SubParsersAction, root: argparse.ArgumentParser) -> None:
    """Add ``mcdiag completion SHELL``."""
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, fish)",
                       description="Print the completion script for SHELL. bash: `mcdiag completion bash > "
                                   "/etc/bash_completion.d/mcdiag`; zsh: `mcdiag completion zsh > \"${fpath[1]}/_mcdiag\"`; "
                                   "fish: `mcdiag completion fish > ~/.config/fish/completions/mcdiag.fish`.")
    p.add_argument("shell", choices=SHELLS, help="the shell")
    p.set_defaults(func=cmd_completion, completion_parser=root)


def cmd_completion(args: argparse.Namespace) -> int:
    """``mcdiag completion SHELL``."""
    print(script(args.completion_parser, args.shell))
    return 0


def _check_ids() -> list[str]:
    from mcdiag.run.registry import resolve

    return resolve().ids()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell``."""
    ids = _check_ids()
    if shell == "fish":
        return _fish(parser, ids)
    import shtab

    words = " ".join(ids)
    preamble = {
        "bash": f'_mcdiag_check_ids() {{ compgen -W "{words}" -- "$1"; }}',
        "zsh": f"_mcdiag_check_ids() {{ compadd {words} }}",
    }
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            if name in ("run", "explain") and action.dest in ("ids", "id"):
                action.complete = {"bash": "_mcdiag_check_ids", "zsh": "_mcdiag_check_ids"}  # type: ignore[attr-defined]
            elif action.dest in PATH_DESTS and action.option_strings:
                action.complete = shtab.FILE  # type: ignore[attr-defined]
    return shtab.complete(parser, shell=shell, preamble=preamble)


def _fish(parser: argparse.ArgumentParser, ids: list[str]) -> str:
    lines = ["# mcdiag completion for fish (mcdiag completion fish > ~/.config/fish/completions/mcdiag.fish)",
             "complete -c mcdiag -f"]
    subs = _subparsers(parser)
    lines.append("complete -c mcdiag -n __fish_use_subcommand -s V -l version -d 'show the version'")
    helps = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
    for name in subs:
        lines.append(f"complete -c mcdiag -n __fish_use_subcommand -a {name} -d {_q(helps.get(name) or name)}")
    for name, sub in subs.items():
        cond = f"'__fish_seen_subcommand_from {name}'"
        for action in sub._actions:
            if name in ("run", "explain") and action.dest in ("ids", "id"):
                lines.append(f"complete -c mcdiag -n {cond} -a {_q(' '.join(ids))}")
                continue
            if not action.option_strings:
                if action.choices:
                    lines.append(f"complete -c mcdiag -n {cond} -a {_q(' '.join(map(str, action.choices)))}")
                continue
            spec = []
            for opt in action.option_strings:
                spec += ["-l", opt[2:]] if opt.startswith("--") else ["-s", opt[1:]]
            takes_value = action.nargs != 0
            if takes_value:
                spec.append("-r")
                if action.choices:
                    spec += ["-a", _q(" ".join(map(str, action.choices)))]
                elif action.dest in PATH_DESTS:
                    spec.append("-F")
            if action.help and action.help != argparse.SUPPRESS:
                spec += ["-d", _q(_short(action.help))]
            lines.append(f"complete -c mcdiag -n {cond} " + " ".join(spec))
    return "\n".join(lines) + "\n"


def _short(text: Any) -> str:
    return str(text).split(" (")[0].replace("%%", "%")[:80]


def _q(text: str) -> str:
    return shlex.quote(text)
