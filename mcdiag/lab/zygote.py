r"""The lab kubelet's fork server: probe pods start as forks of a process that imported the probes once.

    python -m mcdiag.lab.zygote --socket PATH

Why: every probe pod is a new Python process (``python -m mcdiag.probes ...``) that pays
for the interpreter and its imports (dnspython, scapy, http.client): 0.1 to 0.3 s of CPU,
more than most probes then spend probing. On a lab of N clusters that is most of the
machine (12 ordered pairs at N = 4 start about 200 probe pods per run). A real node pays
that on its own CPU; the lab pays it on the one machine that also runs the API servers,
the tunnels and mcdiag. So the lab's kubelet asks this server to fork a child that
already has the probes imported, which then does what ``ip netns exec NS`` does and runs
the probe's own entry point (``mcdiag.probes.cli.main``) with the pod's arguments:

* a session of its own (the kubelet kills the pod's process group);
* the pod's network namespace (``/run/netns/NS``: the node's for hostNetwork pods), a
  mount namespace of its own with ``/sys`` remounted for that network namespace and
  ``/etc/netns/NS/*`` bound over ``/etc/*`` (so ``/etc/resolv.conf`` is the pod's);
* stdout and stderr into the pod's log file, stdin from ``/dev/null``, the pod's
  environment, exit code as the process's;
* the command line a pod started as a process of its own has
  (``python -m mcdiag.probes ARGS``, in ``/proc/PID/cmdline``, ``ps`` and ``pgrep``): the
  server is started with room for it in its own arguments (``--argv-room``), which the
  child overwrites in place.

Only ``mcdiag probe ...`` commands come here; anything else (and every pod when the server
is not running) the kubelet starts as a process of its own, as before. The probes'
imports happen in the root namespace (scapy reads the host's routes there; the probes
build and parse packets with scapy and compile filters for a raw link, which do not
depend on it). The probe tests (``tests/probes``) still run ``python -m mcdiag.probes``.

Protocol, one Unix-socket connection per pod: the kubelet sends one JSON line
``{"argv": [...], "netns": NS|null, "env": {...}, "log": PATH}``; the server answers
``{"pid": N}`` once the child is set up (or ``{"error": "..."}``), then
``{"exit": CODE}`` when the child ends (``-SIGNAL`` when killed, as ``Popen.returncode``).
The server is single-threaded (it forks), dies with its parent (``PR_SET_PDEATHSIG``) and
leaves its children to the kubelet.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import importlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

#: Imported once in the server, so that children start with them (what the probes import lazily).
PRELOAD = (
    "mcdiag.probes.cli", "mcdiag.probes.dns", "mcdiag.probes.http", "mcdiag.probes.udp", "mcdiag.probes.mtu",
    "mcdiag.probes.tcp", "mcdiag.probes.serve", "mcdiag.probes.wg",
    "dns.message", "dns.query", "dns.rcode", "dns.rdatatype", "dns.rdataclass", "dns.name", "dns.flags",
    "dns.exception", "dns.resolver", "dns.rdtypes.IN.A", "dns.rdtypes.IN.AAAA", "dns.rdtypes.ANY.CNAME",
    "http.client", "http.server", "urllib.parse", "ipaddress", "uuid", "socketserver",
    "scapy.layers.inet", "scapy.layers.inet6", "scapy.layers.l2", "scapy.packet", "scapy.arch.common",
    "scapy.arch.linux", "scapy.data",
)

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_BIND = 4096
MS_REC = 16384
MS_SLAVE = 1 << 19
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
NETNS_RUN_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")
#: Seconds a child may take to set itself up before the server gives up on it.
SETUP_TIMEOUT = 10.0
#: Bytes of room in the server's command line for a child's (what ``/proc/PID/cmdline`` shows).
ARGV_ROOM = 2048

_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_netns(name: str) -> None:
    """What ``ip netns exec NAME`` does before it runs the command (iproute2's ``netns_switch``)."""
    c = libc()
    fd = os.open(NETNS_RUN_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(c.setns(fd, CLONE_NEWNET), f"setns {name}")
    finally:
        os.close(fd)
    _check(c.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(c.mount(b"", b"/", b"none", MS_SLAVE | MS_REC, None), "mount --make-rslave /")
    if c.umount2(b"/sys", MNT_DETACH) == 0:
        flags = MS_RDONLY if os.statvfs("/sys").f_flag & os.ST_RDONLY else 0
        _check(c.mount(name.encode(), b"/sys", b"sysfs", flags, None), "mount sysfs")
    etc = ETC_NETNS / name
    if etc.is_dir():
        for entry in sorted(etc.iterdir()):
            _check(c.mount(str(entry).encode(), f"/etc/{entry.name}".encode(), b"none", MS_BIND, None),
                   f"bind {entry} over /etc/{entry.name}")


def set_cmdline(argv: list[str]) -> bool:
    """Show ``argv`` as this process's command line, written over its own (no privilege needed).

    The kernel reads ``/proc/PID/cmdline`` from the original argument area; what does not fit
    is cut (the server leaves :data:`ARGV_ROOM` bytes). Returns whether it was written.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (proc(5), fields 48 and 49)
    except (OSError, IndexError, ValueError):
        return False
    room = end - start
    if room < 2:
        return False
    raw = b"\0".join(a.encode(errors="replace") for a in argv)[: room - 1]
    ctypes.memmove(start, raw + b"\0" * (room - len(raw)), room)
    return True


def _child(req: dict[str, Any], ready_fd: int, close: list[Any], fds: tuple[int, ...] = ()) -> None:
    """In the forked child: set up the pod's process, report on ``ready_fd``, run the probe, never return."""
    code = 1
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        for obj in close:
            with contextlib.suppress(OSError):
                obj.close()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.setsid()
        if req.get("netns"):
            enter_netns(str(req["netns"]))
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in (req.get("env") or {}).items()})
        set_cmdline([sys.executable, "-m", "mcdiag.probes", *(str(a) for a in req["argv"])])
        os.write(ready_fd, b"ok\n")
        os.close(ready_fd)
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which tells the kubelet
        with contextlib.suppress(OSError):
            os.write(ready_fd, f"error: {exc.__class__.__name__}: {exc}\n".encode()[:4000])
        os._exit(127)
    try:
        argv = [str(a) for a in req["argv"]]
        sys.argv = ["mcdiag-probe", *argv]
        from mcdiag.probes.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - a crash of the probe is its exit code 1 and a traceback in its log
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
    os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


class Server:
    """The fork server's loop: accept, fork, report pid, report exit."""

    def __init__(self, path: Path):
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        os.chmod(path, 0o600)
        self.listener.listen(64)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.stop = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.children: dict[int, socket.socket] = {}

    def _stop(self, *_: Any) -> None:
        self.stop = True

    def serve(self) -> None:
        while not self.stop:
            for key, _ in self.sel.select(1.0):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(self.wake_r, 4096)
                else:  # a kubelet connection closed (or sent more): nothing to do until its child ends
                    self._drop(key.fileobj)
            self._reap()

    def _drop(self, conn: socket.socket) -> None:
        """A kubelet connection is readable: it closed (its child is still reaped, nobody to tell) or spoke out of turn."""
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn)
        try:
            data = conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            data = b"x"
        except OSError:
            data = b""
        if data:  # not part of the protocol: ignored (the exit still goes there)
            return
        for pid, c in list(self.children.items()):
            if c is conn:
                self.children[pid] = None  # type: ignore[assignment]
        conn.close()

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(5.0)
        try:
            line = b""
            while not line.endswith(b"\n") and len(line) < 1 << 20:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                line += chunk
            req = json.loads(line)
        except (OSError, ValueError):
            conn.close()
            return
        reply = self._fork(req, conn)
        try:
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError:
            pass
        if "pid" in reply:
            conn.setblocking(False)
            self.children[reply["pid"]] = conn
            self.sel.register(conn, selectors.EVENT_READ, "conn")
        else:
            conn.close()

    def _fork(self, req: dict[str, Any], conn: socket.socket) -> dict[str, Any]:
        ready_r, ready_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(ready_r)
            _child(req, ready_w, [self.listener, conn, self.sel, *[c for c in self.children.values() if c is not None]],
                   (self.wake_r, self.wake_w))
        os.close(ready_w)
        said = b""
        end = time.monotonic() + SETUP_TIMEOUT
        try:
            while not said.endswith(b"\n") and time.monotonic() < end:
                r, _, _ = select.select([ready_r], [], [], max(0.0, end - time.monotonic()))
                if not r:
                    break
                chunk = os.read(ready_r, 4096)
                if not chunk:
                    break
                said += chunk
        finally:
            os.close(ready_r)
        if said.strip() == b"ok":
            return {"pid": pid}
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.children[pid] = None  # type: ignore[assignment]  # reaped by the loop
        why = said.decode(errors="replace").strip() or f"the child did not set itself up within {SETUP_TIMEOUT:g}s"
        return {"error": why}

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.settimeout(2.0)
                conn.sendall((json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n").encode())
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn)
            conn.close()

    def close(self) -> None:
        self.listener.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def preload() -> list[str]:
    """Import :data:`PRELOAD`; returns what could not be imported (children then import it themselves)."""
    missing = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - only a slower child
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mcdiag.lab.zygote", description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True, type=Path, help="Unix socket to listen on")
    p.add_argument("--argv-room", default="", help="padding: room for the children's command lines")
    args = p.parse_args(argv)
    libc().prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent is already gone
        return 0
    missing = preload()
    server = Server(args.socket)
    print(f"fork server on {args.socket}" + (f" (not preloaded: {', '.join(missing)})" if missing else ""), flush=True)
    try:
        server.serve()
    finally:
        server.close()
    return 0


# ------------------------------------------------------------------------------ the kubelet's side
class ForkedProcess:
    """A pod process the fork server started: what :class:`~mcdiag.lab.kubelet.Kubelet` uses of ``Popen``."""

    def __init__(self, conn: socket.socket, pid: int):
        self.conn = conn
        self.pid = pid
        self.returncode: int | None = None
        self._buf = b""
        self._lock = threading.Lock()  # the pod's thread waits while others poll

    def _read(self, timeout: float | None) -> None:
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.01)):
            return
        try:
            self._read_locked(timeout)
        finally:
            self._lock.release()

    def _read_locked(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        self.conn.settimeout(timeout)
        try:
            while b"\n" not in self._buf:
                chunk = self.conn.recv(4096)
                if not chunk:  # the server went away: follow the pid itself
                    self._orphaned()
                    return
                self._buf += chunk
        except (TimeoutError, BlockingIOError):
            return
        except OSError:
            self._orphaned()
            return
        try:
            self.returncode = int(json.loads(self._buf.split(b"\n", 1)[0])["exit"])
        except (ValueError, KeyError, TypeError):
            self.returncode = 1
        self.conn.close()

    def _orphaned(self) -> None:
        if not _alive(self.pid):
            self.returncode = 1
            self.conn.close()

    def poll(self) -> int | None:
        self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            self._read(0.5 if left is None else min(0.5, left))
        return self.returncode


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class ForkServer:
    """Starts the fork server (``python -m mcdiag.lab.zygote``) and asks it for pod processes."""

    def __init__(self, path: Path, log: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 20.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "mcdiag.lab.zygote", "--socket", str(self.path),
                                          "--argv-room", "." * ARGV_ROOM],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})}, close_fds=True)
        finally:
            if log:
                out.close()
        end = time.monotonic() + timeout
        while not self.path.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise OSError(f"the lab's fork server did not start (see {log})")
            time.sleep(0.05)

    def spawn(self, argv: list[str], netns: str | None, env: dict[str, str], log: Path) -> ForkedProcess:
        """A probe process (``argv`` after ``mcdiag probe``) in ``netns``, its output in ``log``; OSError when not."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(SETUP_TIMEOUT + 5)
        try:
            conn.connect(str(self.path))
            conn.sendall((json.dumps({"argv": argv, "netns": netns, "env": env, "log": str(log)}) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    raise OSError("the fork server closed the connection")
                buf += chunk
            line, _, rest = buf.partition(b"\n")
            reply = json.loads(line)
        except (OSError, ValueError) as exc:
            conn.close()
            raise OSError(f"fork server: {exc}") from None
        if "pid" not in reply:
            conn.close()
            raise OSError(f"fork server: {reply.get('error', 'no pid')}")
        proc = ForkedProcess(conn, int(reply["pid"]))
        proc._buf = rest
        return proc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            self.path.unlink()


if __name__ == "__main__":
    sys.exit(main())
