"""What the command line prints, and how it holds signals while a run works."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


class interrupts:  # noqa: N801 - used as a statement: ``with interrupts(session.interrupt):``
    """While inside, SIGINT and SIGTERM call ``stop`` (the run winds down and reports) instead of raising.

    Only in the main thread (signal handlers live there); elsewhere a no-op.
    """

    def __init__(self, stop: Callable[[], None]):
        self.stop = stop
        self.previous: dict[int, Any] = {}
        self.count = 0

    def _handler(self, signum: int, frame: Any) -> None:
        self.count += 1  # no I/O and no lock here: the run notices within a fraction of a second
        self.stop()

    def __enter__(self) -> interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            # After an interrupt the process is on its way out: a second Ctrl-C must not kill it half-way.
            signal.signal(sig, signal.SIG_IGN if self.count else handler)


def say(text: str, stream: Any = None) -> None:
    """Print one line (or block) redacted, never failing on characters the stream cannot encode."""
    from mcdiag.gather.redact import redact_text

    stream = stream or sys.stderr
    text = redact_text(text)
    try:
        print(text, file=stream, flush=True)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "replace").decode(encoding, "replace"), file=stream, flush=True)
