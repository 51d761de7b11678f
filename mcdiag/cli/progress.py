"""Progress on stderr while a run works: stage notes, and a line per finished result on a TTY."""

from __future__ import annotations

import sys
import time
from typing import Any

from mcdiag.model import Result
from mcdiag.run.session import Observer


class Progress(Observer):
    """Stage messages as lines; on a TTY, one rewritten line counting finished results."""

    def __init__(self, stream: Any = None):
        self.total = 0
        self.finished = 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._open_line = False

    def planned(self, total: int) -> None:
        """How many results are coming."""
        self.total = total

    def note(self, text: str) -> None:
        """A stage message (listing resources, starting probes)."""
        self._end_line()
        print(f"mcdiag: {text}", file=self.stream, flush=True)

    def result(self, result: Result) -> None:
        """One result arrived."""
        self.finished += 1
        if self.tty:
            print(f"\r\033[K[{self.finished}/{self.total}] {result.status.symbol} {result.test_name}", end="", file=self.stream, flush=True)
            self._open_line = True

    def done(self) -> None:
        """The run is over: leave the line the report starts on clean."""
        self._end_line()

    def _end_line(self) -> None:
        if self._open_line:
            print("\r\033[K", end="", file=self.stream, flush=True)
            self._open_line = False
