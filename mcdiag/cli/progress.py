"""Progress on stderr while a run works.

On a terminal: a live display (``rich``) with the stage the run is in (which clusters, which
resource lists, the probe pods' namespace and image), a spinner per check that is running with
how long it has waited, and a count of finished results. It is transient: when the run ends it
is erased before the report is printed, so nothing of it mixes with the report. Stage messages
stay, each on its own line above it.

Without a terminal (CI logs, pipes): plain lines, one per stage and (unless ``--quiet``) one per
finished result, never rewritten.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from mcdiag.model import Result, Status
from mcdiag.run.session import Observer

#: Running checks the live display lists by name; the rest are counted.
SHOWN_RUNNING = 6


def interactive(stream: Any) -> bool:
    """Whether ``stream`` is a terminal a live display can redraw."""
    return bool(getattr(stream, "isatty", None) and stream.isatty()) and os.environ.get("TERM") != "dumb"


class Progress(Observer):
    """The CLI's observer of a run: a transient live display on a TTY, plain lines otherwise."""

    def __init__(self, stream: Any = None, *, quiet: bool = False, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = 0
        self.finished = 0
        self.counts = {s: 0 for s in Status}
        self.stage = "starting"
        self.running: dict[str, tuple[float, Any]] = {}
        self.start = time.monotonic()
        self.tty = interactive(self.stream) if live is None else live
        self._lock = threading.Lock()
        self._live: Any = None
        self._closed = False

    # -- the Observer interface -----------------------------------------------------------------
    def planned(self, total: int) -> None:
        """How many results are coming."""
        self.total = total
        self._ensure_live()

    def note(self, text: str) -> None:
        """A stage of the run: kept as a line, and shown as the current stage."""
        with self._lock:
            self.stage = text
        if self._ensure_live():
            self._live.console.print(f"mcdiag: {text}", highlight=False, markup=False, soft_wrap=True)
        elif not self._closed:
            print(f"mcdiag: {text}", file=self.stream, flush=True)

    def started(self, label: str) -> None:
        """A check began on a target (``pod-connectivity[east->west]``)."""
        if not self.tty:
            return
        from rich.spinner import Spinner

        with self._lock:
            self.running[label] = (time.monotonic(), Spinner("dots", style="cyan"))
        self._ensure_live()

    def result(self, result: Result) -> None:
        """One result arrived."""
        with self._lock:
            self.running.pop(result.test_name, None)
            self.finished += 1
            self.counts[result.status] += 1
            n = self.finished
        if not self.tty and not self.quiet and not self._closed:
            total = f"/{self.total}" if self.total else ""
            print(f"[{n}{total}] {result.status.symbol} {result.status.value} {result.test_name}", file=self.stream, flush=True)

    def done(self) -> None:
        """The run is over: erase the live display (nothing of it stays on screen)."""
        with self._lock:
            live, self._live, self._closed = self._live, None, True
        if live is not None:
            live.stop()

    # -- the live display -------------------------------------------------------------------------
    def _ensure_live(self) -> bool:
        if not self.tty or self._closed:
            return False
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False, force_terminal=True)
            self._live = Live(console=console, transient=True, refresh_per_second=8, get_renderable=self._render,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        return True

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        with self._lock:
            running = sorted(self.running.items(), key=lambda kv: kv[1][0])
            finished, total, stage = self.finished, self.total, self.stage
            counts = dict(self.counts)
        grid = Table.grid(padding=(0, 1))
        for label, (since, spinner) in running[:SHOWN_RUNNING]:
            grid.add_row(spinner, Text(label), Text(f"{now - since:.0f}s", style="dim"))
        if len(running) > SHOWN_RUNNING:
            grid.add_row(Text(" "), Text(f"… and {len(running) - SHOWN_RUNNING} more running", style="dim"), Text(""))
        tally = "  ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
        head = Text.assemble(("mcdiag ", "bold"), f"[{finished}/{total or '?'}] ", (stage, "cyan"),
                             (f"  {tally}" if tally else "", "dim"), (f"  {now - self.start:.0f}s", "dim"))
        return Group(head, grid) if running else head
