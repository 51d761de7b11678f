"""The live progress display on a real pseudo-terminal: it shows what runs and what it waits for,
disappears cleanly before the report, and no line of the report is glued to another.
"""

from __future__ import annotations

import os
import re
import sys

import pexpect
import pytest

from mcdiag.cli.progress import Progress
from mcdiag.model import Result, Scope, Status
from tests.test_core import OVERLAP

ROWS, COLS = 60, 200
CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def screen(raw: str, rows: int = 2000) -> list[str]:
    """A small terminal: what ``raw`` leaves on screen (cursor moves, erase line, CR/LF; colours ignored)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\x1b":
            m = CSI.match(raw, i)
            if m is None:  # other escapes (OSC titles): skip to the terminator
                end = raw.find("\x07", i)
                i = end + 1 if end != -1 else i + 2
                continue
            arg, op = m.group(1), m.group(2)
            n = int(arg) if arg.isdigit() else 1
            if op == "A":
                row = max(0, row - n)
            elif op == "B":
                row += n
            elif op == "G":
                col = n - 1
            elif op == "K":
                while len(lines) <= row:
                    lines.append([])
                lines[row] = lines[row][:col] if arg in ("", "0") else [] if arg == "2" else lines[row]
            i = m.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
        elif ch >= " ":
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        i += 1
        while len(lines) <= row:
            lines.append([])
    return ["".join(ln).rstrip() for ln in lines]


ALLOWED = re.compile(
    r"^(|mcdiag: .*|• .*|(Cluster|Clusters|From) \S.*|  [✓⚠✗–] .*|      (hint|docs|likely cause|evidence): .*"
    r"|      \d+ (dependent|check).*|Needs attention: .*|(FAILED|OK): .*|reports: .*|note: .*)$"
)


def test_progress_on_a_pty_ends_cleanly_before_the_report(emulate, tmp_path):
    clusters = emulate(OVERLAP)
    clusters["west"].hang = True  # west's API never answers: the display has something to wait for
    env = {**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1", "COLUMNS": str(COLS), "LINES": str(ROWS)}
    argv = ["-m", "mcdiag", "all", "--passive", *clusters.args(), "--request-timeout", "2",
            "--report-dir", str(tmp_path / "r")]
    child = pexpect.spawn(sys.executable, argv, env=env, dimensions=(ROWS, COLS), encoding="utf-8", timeout=90)
    child.expect(pexpect.EOF)
    child.close()
    raw = child.before
    assert child.exitstatus == 1, raw[-2000:]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    # While it ran, the live display said what it waits for: a spinner line per running check, the stage.
    assert re.search(r"mcdiag \[\d+/\d+\] checking 2 cluster", plain) and "api-access[west]" in plain
    assert re.search(r"[\u2800-\u28ff] +api-access\[west\] +\d+s", plain)  # a spinner by the check that waits
    final = screen(raw)
    shown = [ln for ln in final if ln]
    assert not [ln for ln in shown if re.search(r"mcdiag \[\d+/\d+\]|[\u2800-\u28ff]", ln)], "live display left behind"
    glued = [ln for ln in shown if not ALLOWED.match(ln)]
    assert not glued, glued
    assert not [ln for ln in shown if "mcdiag:" in ln[1:]], "a stage line glued to another"
    first_report = next(i for i, ln in enumerate(shown) if ln.startswith("• "))
    assert all(ln.startswith("mcdiag: ") for ln in shown[:first_report])
    assert shown[-1].startswith("reports: ") and shown[-2].startswith("FAILED: ")
    assert sum(ln.startswith("FAILED: ") for ln in shown) == 1


def test_without_a_tty_progress_is_plain_lines(capsys):
    import io

    stream = io.StringIO()
    progress = Progress(stream)
    progress.planned(2)
    progress.note("reading 3 resource lists from east")
    progress.started("api-access[east]")
    progress.result(Result("api-access", "t", Scope.CLUSTER, ("east",), Status.PASS, "ok"))
    progress.result(Result("cni-support", "t", Scope.CLUSTER, ("east",), Status.WARN, "generic"))
    progress.done()
    assert stream.getvalue().splitlines() == [
        "mcdiag: reading 3 resource lists from east",
        "[1/2] ✓ pass api-access[east]",
        "[2/2] ⚠ warn cni-support[east]",
    ]
    quiet = io.StringIO()
    progress = Progress(quiet, quiet=True)
    progress.planned(1)
    progress.result(Result("api-access", "t", Scope.CLUSTER, ("east",), Status.PASS, "ok"))
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("raw,expected", [("ab\rc", ["cb"]), ("one\ntwo\x1b[1A\r\x1b[2Kx", ["x", "two"])])
def test_the_little_terminal(raw, expected):
    assert screen(raw) == expected
