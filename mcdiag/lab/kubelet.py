"""A small kubelet for emulated clusters: pods created through the API emulator really run.

A pod bound to a node (``spec.nodeName``) runs its container's command as a
process: in the node's network namespace when ``hostNetwork`` is set, else in a
fresh pod namespace the node runtime wires up (an address from the node's pod
CIDR). Phase, pod IP, logs and the termination message go back through the
API; deleting the pod kills the process. Where nodes and namespaces come from
is the :class:`NodeRuntime`'s business: the lab plugs in its network
namespaces; tests use :class:`HostRuntime` (processes on this host, loopback).

Only probe images run (``*mcdiag-probe*``, any registry): any other image is
left ``Pending`` with ``ErrImagePull``, as a kubelet that cannot pull it would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

LOG_LIMIT = 1 << 20  # bytes of log kept per pod
PUMP_FIRST = 0.02  # seconds: the pump's first look for more log, doubling while nothing comes
PUMP_MAX = 0.5
TERMINATION_LIMIT = 4096  # bytes, as the real kubelet's terminationMessage


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeRuntime(Protocol):
    """Where pods of one node run."""

    def host_netns(self) -> str | None:
        """The node's network namespace (``None``: this host's)."""

    def host_ip(self) -> str:
        """The node's address, reported as ``status.hostIP``."""

    def create_pod_netns(self, key: str) -> tuple[str | None, str]:
        """Make a network namespace for pod ``key``; return (namespace, pod IP)."""

    def delete_pod_netns(self, key: str) -> None:
        """Remove what :meth:`create_pod_netns` made."""


class HostRuntime:
    """Every pod on this host, with loopback addresses: for tests without network namespaces."""

    def __init__(self, ip: str = "127.0.0.1"):
        self.ip = ip

    def host_netns(self) -> str | None:
        return None

    def host_ip(self) -> str:
        return self.ip

    def create_pod_netns(self, key: str) -> tuple[str | None, str]:
        return None, self.ip

    def delete_pod_netns(self, key: str) -> None:
        return None


def default_argv(command: list[str]) -> list[str]:
    """``mcdiag ...`` runs as this interpreter's ``python -m mcdiag ...`` (what the probe image's entrypoint is).

    ``mcdiag probe ...`` goes straight to ``python -m mcdiag.probes``, which starts faster.
    """
    if command[:2] == ["mcdiag", "probe"]:
        return [sys.executable, "-m", "mcdiag.probes", *command[2:]]
    if command and command[0] == "mcdiag":
        return [sys.executable, "-m", "mcdiag", *command[1:]]
    return list(command)


def _ended_within(proc: Any, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``proc`` to end (a pidfd or the fork server's word, not a busy loop)."""
    if isinstance(proc, subprocess.Popen):
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            time.sleep(timeout)
            return proc.poll() is not None
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
        return proc.poll() is not None
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def image_runs(image: str) -> bool:
    """Only mcdiag's probe image (from any registry or mirror) can be 'pulled' here."""
    return "mcdiag-probe" in image.rsplit("/", 1)[-1]


class _Pod:
    def __init__(self, namespace: str, name: str):
        self.namespace = namespace
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.output = bytearray()
        self.deleted = threading.Event()
        self.netns_key: str | None = None
        self.runtime: NodeRuntime | None = None
        self.log_path: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class Kubelet:
    """Runs the pods an :class:`~mcdiag.lab.emulator.ApiEmulator` is asked to create."""

    def __init__(
        self,
        emulator: Any,
        nodes: dict[str, NodeRuntime],
        *,
        argv: Callable[[list[str]], list[str]] = default_argv,
        state_dir: Path | None = None,
        env: dict[str, str] | None = None,
        spawner: Any = None,
    ):
        self.emu = emulator
        self.nodes = nodes
        self.argv = argv
        self.state_dir = state_dir
        self.env = env
        #: Starts ``mcdiag probe ...`` pods as forks of a process that imported the probes
        #: (:class:`mcdiag.lab.zygote.ForkServer`); ``None``: every pod is a process of its own.
        self.spawner = spawner
        self.pods: dict[str, _Pod] = {}
        self.lock = threading.Lock()
        emulator.on_create(self._created)
        emulator.on_delete(self._deleted)

    # -- API callbacks (run in the emulator's request thread: must return quickly) -------------
    def _created(self, obj: dict[str, Any]) -> None:
        if obj.get("kind") != "Pod":
            return
        meta = obj.get("metadata") or {}
        pod = _Pod(meta.get("namespace", "default"), meta["name"])
        with self.lock:
            self.pods[pod.key] = pod
        threading.Thread(target=self._run, args=(pod, obj), daemon=True, name=f"kubelet-{pod.name}").start()

    def _deleted(self, obj: dict[str, Any]) -> None:
        if obj.get("kind") != "Pod":
            return
        meta = obj.get("metadata") or {}
        with self.lock:
            pod = self.pods.pop(f"{meta.get('namespace', 'default')}/{meta.get('name')}", None)
        if pod:
            pod.deleted.set()
            self._kill(pod)

    # -- pod lifecycle ------------------------------------------------------------------------
    def _status(self, pod: _Pod, status: dict[str, Any]) -> None:
        if pod.deleted.is_set():
            return
        try:
            self.emu.update_status("v1", "pods", pod.name, pod.namespace, status)
        except Exception as exc:  # the pod may be gone already
            log.debug("status of %s not updated: %s", pod.key, exc)

    def _container_status(self, container: dict[str, Any], state: dict[str, Any], ready: bool = False) -> dict[str, Any]:
        image = container.get("image", "")
        pulled = "waiting" not in state  # imageID is required by the API (clients validate it); "" until pulled
        return {
            "name": container.get("name", "probe"),
            "image": image,
            "imageID": f"{image.split('@')[0].rsplit(':', 1)[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
            if pulled and image
            else "",
            "ready": ready,
            "restartCount": 0,
            "started": "running" in state,
            "state": state,
        }

    def _run(self, pod: _Pod, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        containers = spec.get("containers") or [{}]
        container = containers[0]
        node_name = spec.get("nodeName")
        runtime = self.nodes.get(node_name or "")
        if runtime is None:
            why = f"node {node_name!r} does not exist" if node_name else "no node chosen (spec.nodeName unset)"
            self._status(
                pod,
                {
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": why}],
                },
            )
            return
        image = container.get("image", "")
        if not image_runs(image):
            waiting = {"waiting": {"reason": "ErrImagePull", "message": f"failed to pull image {image!r}: not found"}}
            self._status(
                pod,
                {
                    "phase": "Pending",
                    "hostIP": runtime.host_ip(),
                    "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
                    "containerStatuses": [self._container_status(container, waiting)],
                },
            )
            return
        host_network = bool(spec.get("hostNetwork"))
        try:
            if host_network:
                netns, pod_ip = runtime.host_netns(), runtime.host_ip()
            else:
                pod.runtime, pod.netns_key = runtime, pod.key
                netns, pod_ip = runtime.create_pod_netns(pod.key)
        except Exception as exc:
            self._status(pod, {"phase": "Failed", "reason": "NetworkSetupFailed", "message": str(exc)})
            return
        if pod.deleted.is_set():
            self._release(pod)
            return
        command = list(container.get("command") or []) + list(container.get("args") or [])
        argv = self.argv(command)
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        env = dict(os.environ if self.env is None else self.env)
        for item in container.get("env") or []:
            if "value" in item:
                env[str(item["name"])] = str(item["value"])
        try:
            # Output goes to a file, as a container runtime's does, not to a pipe: a pod must
            # outlive a crashed kubelet/API server instead of dying of SIGPIPE on its next write.
            pod.log_path = self._log_path(pod)
            pod.proc = self._spawn_probe(command, netns, env, pod.log_path)
            if pod.proc is None:
                with open(pod.log_path, "wb") as out:
                    pod.proc = subprocess.Popen(
                        argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                        env=env
                    )
        except OSError as exc:
            self._status(pod, {"phase": "Failed", "reason": "StartError", "message": str(exc)})
            self._release(pod)
            return
        self._record_pid(pod)
        if pod.deleted.is_set():
            # Deleted while its process was starting: the delete found no process to kill, so it is killed here
            # (as a real kubelet stops a container whose pod went away during its start).
            self._kill(pod)
            try:
                pod.proc.wait(10)
            except Exception:  # noqa: BLE001 - killed; its pid file stays for `lab down`
                log.warning("the process of deleted pod %s did not end after SIGKILL", pod.key)
                return
            self._release(pod)
            return
        started = _now()
        base = {
            "hostIP": runtime.host_ip(),
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": started,
        }
        self._status(
            pod,
            {
                **base,
                "phase": "Running",
                "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
                "containerStatuses": [self._container_status(container, {"running": {"startedAt": started}}, ready=True)],
            },
        )
        deadline = spec.get("activeDeadlineSeconds")
        timer = None
        deadline_hit = threading.Event()
        if deadline:

            def expire() -> None:
                deadline_hit.set()
                self._kill(pod)

            timer = threading.Timer(float(deadline), expire)
            timer.daemon = True
            timer.start()
        self._pump(pod)
        code = pod.proc.wait()
        if timer:
            timer.cancel()
        self._release(pod)
        if pod.deleted.is_set():
            return
        text = bytes(pod.output).decode("utf-8", "replace")
        self.emu.set_pod_log(pod.namespace, pod.name, text)
        if deadline_hit.is_set():
            phase, reason = "Failed", "DeadlineExceeded"
        else:
            phase, reason = ("Succeeded", "Completed") if code == 0 else ("Failed", "Error")
        terminated = {
            "terminated": {
                "exitCode": code if code >= 0 else 128 - code,
                "reason": reason,
                "message": text[-TERMINATION_LIMIT:],
                "startedAt": started,
                "finishedAt": _now(),
            }
        }
        status = {
            **base,
            "phase": phase,
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
            "containerStatuses": [self._container_status(container, terminated)],
        }
        if reason == "DeadlineExceeded":
            status["reason"] = reason
        self._status(pod, status)

    def _spawn_probe(self, command: list[str], netns: str | None, env: dict[str, str], log_path: Path) -> Any:
        """A ``mcdiag probe ...`` pod through the fork server, or ``None`` (no server, another command, it failed)."""
        if self.spawner is None or command[:2] != ["mcdiag", "probe"]:
            return None
        try:
            return self.spawner.spawn(command[2:], netns, env, log_path)
        except OSError as exc:
            log.warning("fork server did not start a probe (%s); starting it as a process of its own", exc)
            return None

    def _log_path(self, pod: _Pod) -> Path:
        base = self.state_dir or Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        return base / f"log-{pod.namespace}-{pod.name}-{os.getpid()}-{id(pod):x}.log"

    def _pump(self, pod: _Pod) -> None:
        """Follow the process's log file into the pod's log as it grows (a watcher sees 'listening' lines).

        Looks again after 20 ms, then less often the longer nothing new comes (up to every
        0.5 s: a long-running server costs little), and at once when the process ends.
        """
        assert pod.proc and pod.log_path
        pause = PUMP_FIRST
        with open(pod.log_path, "rb") as log_file:
            while True:
                chunk = log_file.read(65536)
                if chunk:
                    pod.output.extend(chunk)
                    del pod.output[:-LOG_LIMIT]
                    if not pod.deleted.is_set():
                        self.emu.set_pod_log(pod.namespace, pod.name, bytes(pod.output).decode("utf-8", "replace"))
                    pause = PUMP_FIRST
                    continue
                if pod.proc.poll() is not None or _ended_within(pod.proc, pause):
                    rest = log_file.read()
                    if rest:
                        pod.output.extend(rest)
                        del pod.output[:-LOG_LIMIT]
                    return
                pause = min(PUMP_MAX, pause * 2)

    def _kill(self, pod: _Pod) -> None:
        proc = pod.proc
        if proc and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _release(self, pod: _Pod) -> None:
        if pod.runtime and pod.netns_key:
            try:
                pod.runtime.delete_pod_netns(pod.netns_key)
            except Exception as exc:
                log.warning("pod network of %s not removed: %s", pod.key, exc)
            pod.netns_key = None
        if self.state_dir and pod.proc:
            (self.state_dir / f"pod-{pod.proc.pid}.pid").unlink(missing_ok=True)
        if pod.log_path and (pod.proc is None or pod.proc.poll() is not None):
            pod.log_path.unlink(missing_ok=True)

    def _record_pid(self, pod: _Pod) -> None:
        if self.state_dir and pod.proc:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / f"pod-{pod.proc.pid}.pid").write_text(f"{pod.proc.pid}\n{pod.key}\n")

    def running(self) -> list[str]:
        """Keys of pods whose process is alive."""
        with self.lock:
            return sorted(k for k, p in self.pods.items() if p.proc and p.proc.poll() is None)

    def stop(self, timeout: float = 5.0) -> None:
        """Kill every pod process and release every pod namespace."""
        with self.lock:
            pods = list(self.pods.values())
            self.pods.clear()
        for pod in pods:
            pod.deleted.set()
            self._kill(pod)
        end = time.monotonic() + timeout
        for pod in pods:
            if pod.proc:
                try:
                    pod.proc.wait(max(0.1, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            self._release(pod)
