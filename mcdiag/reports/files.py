"""Writing a report file without ever replacing what the path names (a pipe, a device, a symlink)."""

from __future__ import annotations

from pathlib import Path


def write_report_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: atomically (a temporary file, then a rename) when it is or will be a regular
    file, so a reader never sees half a report; straight into anything else (``/dev/stdout``, a FIFO, a device),
    which a rename would replace. A symlink is written through, never replaced.
    """
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        with open(target, "wb") as f:
            f.write(data)
        return
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
