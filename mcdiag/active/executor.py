"""Runs probes in short-lived pods: create, wait (bounded), read the result, delete.

Every object carries ``app.kubernetes.io/managed-by=mcdiag`` and the run id,
lives in one namespace (``mcdiag-probes`` unless told otherwise), has
``activeDeadlineSeconds``, tolerates every taint and never restarts. A probe
prints one JSON object; the executor reads it from the pod's log. Listener
and sender pairs are coordinated through the listener's ``listening`` line.
Everything created is deleted at the end of the run (:meth:`cleanup`), on
failure and on Ctrl-C too; ``mcdiag cleanup`` removes leftovers of crashed runs.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcdiag import __version__
from mcdiag.errors import ResourceUnavailable

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_ID = "mcdiag.io/run-id"
PROBE = "mcdiag.io/probe"
DEFAULT_NAMESPACE = "mcdiag-probes"
DEFAULT_IMAGE_REPOSITORY = "ghcr.io/mcdiag"
IMAGE_NAME = "mcdiag-probe"
POLL = 0.25
#: The first look at a pod that is starting or finishing comes after this many seconds, then each wait doubles up
#: to :data:`POLL`: a pod that starts in well under a second (a warm node) is seen at once, a slow one costs the
#: API no more than a look every POLL.
FIRST_POLL = 0.05


def backoff(first: float = FIRST_POLL, cap: float = POLL):
    """Seconds to sleep between two looks: ``first``, doubling up to ``cap``."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def probe_image(image: str | None = None, repository: str | None = None) -> str:
    """``--image`` as given, else ``REPOSITORY/mcdiag-probe:VERSION`` (mirrors via ``--image-repository``)."""
    if image:
        return image
    return f"{(repository or DEFAULT_IMAGE_REPOSITORY).rstrip('/')}/{IMAGE_NAME}:{__version__}"


def new_run_id() -> str:
    """A short id that labels everything one run creates."""
    return uuid.uuid4().hex[:10]


@dataclass
class PodSpec:
    """What to run where."""

    node: str
    argv: list[str]
    name: str = "probe"
    host_network: bool = True
    timeout: float = 30.0
    #: Labels beyond the managed-by / run-id ones (e.g. for a Service selector).
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)
    #: Keep running until deleted (servers); the executor then does not wait for completion.
    daemon: bool = False


@dataclass
class PodResult:
    """What came back from one probe pod."""

    cluster: str
    node: str
    pod: str
    phase: str
    data: dict[str, Any] | None
    logs: str = ""
    #: Why there is no data (never started, timed out, no JSON in the log); empty when ``data`` is set.
    problem: str = ""
    pod_ip: str | None = None

    @property
    def ok(self) -> bool:
        """The probe ran and said ``ok``."""
        return bool(self.data and self.data.get("ok"))


TARGET_PORT = 8080
#: Seconds a listener still waits once its sender has finished (the datagrams take far less).
AFTER_SEND_GRACE = 5.0
#: Seconds shared objects (target pods, echo servers) live at most, should cleanup never run.
SHARED_LIFETIME = 3600


@dataclass
class Target:
    """The run's ``probe serve`` pod in one cluster (pod network): what checks reach by pod IP."""

    cluster: str
    node: str
    pod: str
    ip: str | None
    port: int
    #: Why there is no usable target (never started, not serving); empty when ``ip`` is set.
    problem: str = ""


@dataclass
class EchoService:
    """The run's temporary echo Service in one cluster (when no ``--service`` was given)."""

    cluster: str
    namespace: str
    name: str
    ip: str | None
    port: int
    problem: str = ""


def last_json(text: str, key: str = "probe") -> dict[str, Any] | None:
    """The last line of ``text`` that is a JSON object with ``key``."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and key in obj:
                return obj
    return None


def _waiting_reason(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip(": ")
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason"):
            return f"{cond['reason']}: {cond.get('message', '')}".strip(": ")
    return f"phase {status.get('phase', 'Pending')}"


class ProbeExecutor:
    """Creates probe pods in the clusters of a run and cleans up after them."""

    def __init__(
        self,
        sources: dict[str, Any],
        *,
        run_id: str | None = None,
        image: str | None = None,
        image_repository: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        start_timeout: float = 60.0,
    ):
        self.sources = sources
        self.run_id = run_id or new_run_id()
        self.image = probe_image(image, image_repository)
        self.namespace = namespace
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._namespaces: dict[str, threading.Event] = {}
        self._created: list[tuple[str, str, str, str]] = []  # (cluster, api path prefix, plural, name)
        self._counter = 0
        self.closed = False
        #: Objects shared by the checks of a run (target pods, echo services), made once per key.
        self._shared: dict[tuple[str, ...], tuple[threading.Event, list[Any]]] = {}

    # -- low level ------------------------------------------------------------------------------
    def _labels(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {MANAGED_BY: "mcdiag", RUN_ID: self.run_id, **(extra or {})}

    def _name(self, hint: str) -> str:
        with self._lock:
            self._counter += 1
            n = self._counter
        return f"mcdiag-{hint}-{self.run_id}-{n}"[:63].rstrip("-")

    def create(self, cluster: str, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """POST ``obj`` and remember it for :meth:`cleanup`."""
        if self.closed:
            raise ResourceUnavailable("error", "the run is ending: no more probe objects are created")
        name = obj["metadata"]["name"]
        with self._lock:
            self._created.append((cluster, path, name, obj.get("kind", "")))
        return self.sources[cluster].request("POST", path, body=obj, what=f"create {obj.get('kind')} {name}")

    def delete(self, cluster: str, path: str, name: str) -> None:
        """DELETE one object; a 404 is fine. Once gone it is no longer :meth:`cleanup`'s to delete."""
        try:
            self.sources[cluster].request("DELETE", f"{path}/{name}", query={"gracePeriodSeconds": "0"}, what=f"delete {name}")
        except ResourceUnavailable as exc:
            if exc.status != 404:
                raise
        with self._lock:
            for i in range(len(self._created) - 1, -1, -1):
                c, p, n, _ = self._created[i]
                if (c, p, n) == (cluster, path, name):
                    del self._created[i]
                    break

    def ensure_namespace(self, cluster: str) -> None:
        """Create the probe namespace once per cluster (an existing one is reused)."""
        with self._lock:
            event = self._namespaces.get(cluster)
            first = event is None
            if first:
                event = self._namespaces[cluster] = threading.Event()
        if not first:
            event.wait(30)
            return
        try:
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace, "labels": self._labels()}}
            try:
                self.create(cluster, "/api/v1/namespaces", ns)
            except ResourceUnavailable as exc:
                if exc.status != 409:
                    raise
                if not self._made_by_mcdiag(cluster):
                    with self._lock:  # it was there before this run: not ours to delete
                        self._created = [c for c in self._created if not (c[0] == cluster and c[2] == self.namespace)]
                # else another run made it: whichever run ends last deletes it (see cleanup)
        finally:
            event.set()

    def pod_manifest(self, name: str, spec: PodSpec) -> dict[str, Any]:
        """The probe pod (also what tests and `mcdiag cleanup` recognise)."""
        deadline = max(30, math.ceil(spec.timeout + self.start_timeout))
        container: dict[str, Any] = {
            "name": "probe",
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": list(spec.argv),
            "securityContext": {"capabilities": {"add": ["NET_RAW", "NET_ADMIN"]}},
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
        }
        if spec.ports:
            container["ports"] = [{"containerPort": p} for p in spec.ports]
        pod_spec: dict[str, Any] = {
            "nodeName": spec.node,
            "hostNetwork": spec.host_network,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "containers": [container],
        }
        if spec.host_network:
            pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
        if not spec.daemon:
            pod_spec["activeDeadlineSeconds"] = deadline
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "labels": self._labels({PROBE: spec.name, **spec.labels})},
            "spec": pod_spec,
        }

    def _pod_path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods"

    def start(self, cluster: str, spec: PodSpec) -> str:
        """Create the pod; returns its name."""
        self.ensure_namespace(cluster)
        name = self._name(spec.name)
        self.create(cluster, self._pod_path(), self.pod_manifest(name, spec))
        return name

    def get_pod(self, cluster: str, name: str) -> dict[str, Any]:
        """The pod as the API has it now."""
        return self.sources[cluster].get(f"{self._pod_path()}/{name}", what=f"get pod {name}")

    def logs(self, cluster: str, name: str) -> str:
        """The pod's log (empty when there is none yet)."""
        try:
            data = self.sources[cluster].request_text("GET", f"{self._pod_path()}/{name}/log", what=f"logs of {name}")
        except ResourceUnavailable:
            return ""
        return data

    def wait_running(self, cluster: str, name: str, timeout: float | None = None) -> tuple[dict[str, Any] | None, str]:
        """Wait until the pod runs (or already finished). Returns (pod, problem)."""
        end = time.monotonic() + (timeout or self.start_timeout)
        pod: dict[str, Any] | None = None
        pause = backoff()
        while time.monotonic() < end:
            pod = self.get_pod(cluster, name)
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Running", "Succeeded", "Failed"):
                return pod, ""
            time.sleep(next(pause))
        why = _waiting_reason(pod) if pod else "not created"
        return pod, f"probe pod {name} never started within {timeout or self.start_timeout:g}s ({why})"

    def wait_log(self, cluster: str, name: str, needle: str, timeout: float) -> bool:
        """Wait until ``needle`` shows in the pod's log (or the pod ended)."""
        end = time.monotonic() + timeout
        pause = backoff()
        while time.monotonic() < end:
            if needle in self.logs(cluster, name):
                return True
            phase = (self.get_pod(cluster, name).get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                return needle in self.logs(cluster, name)
            time.sleep(next(pause))
        return False

    def finish(self, cluster: str, name: str, spec: PodSpec, started: bool = True) -> PodResult:
        """Wait for the pod to end (bounded), read its JSON, delete it."""
        try:
            pod, problem = self.wait_running(cluster, name) if started else (None, "")
            if problem:
                return PodResult(cluster, spec.node, name, (pod or {}).get("status", {}).get("phase", "Pending"), None, "", problem)
            end = time.monotonic() + spec.timeout + 15
            phase = (pod or {}).get("status", {}).get("phase")
            pause = backoff()
            while phase not in ("Succeeded", "Failed") and time.monotonic() < end:
                time.sleep(next(pause))
                pod = self.get_pod(cluster, name)
                phase = (pod.get("status") or {}).get("phase")
            logs = self.logs(cluster, name)
            pod_ip = (pod or {}).get("status", {}).get("podIP")
            if phase not in ("Succeeded", "Failed"):
                return PodResult(cluster, spec.node, name, phase or "?", last_json(logs), logs, f"probe pod {name} did not finish in time", pod_ip)
            data = last_json(logs)
            if data is None:
                term = _termination_message(pod or {})
                data = last_json(term)
                if data is None:
                    reason = (pod or {}).get("status", {}).get("reason") or phase
                    return PodResult(cluster, spec.node, name, phase, None, logs, f"probe pod {name} ended ({reason}) without a result", pod_ip)
            return PodResult(cluster, spec.node, name, phase, data, logs, "", pod_ip)
        finally:
            self.delete(cluster, self._pod_path(), name)

    # -- what checks call -----------------------------------------------------------------------
    def run(self, cluster: str, spec: PodSpec) -> PodResult:
        """One probe pod: start, wait, read, delete."""
        try:
            name = self.start(cluster, spec)
        except ResourceUnavailable as exc:
            return PodResult(cluster, spec.node, "", "NotCreated", None, "", f"cannot create the probe pod: {exc.message}")
        return self.finish(cluster, name, spec)

    def serve(self, cluster: str, spec: PodSpec) -> tuple[str, dict[str, Any] | None, str]:
        """Start a long-running pod (a server) and wait until it runs: (name, pod, problem)."""
        spec.daemon = True
        try:
            name = self.start(cluster, spec)
        except ResourceUnavailable as exc:
            return "", None, f"cannot create the probe pod: {exc.message}"
        pod, problem = self.wait_running(cluster, name)
        return name, pod, problem

    def stop(self, cluster: str, name: str) -> None:
        """Delete a pod started with :meth:`serve`."""
        if name:
            self.delete(cluster, self._pod_path(), name)

    # -- additions for the active checks: concurrency and objects shared within a run ----------
    def run_all(self, jobs: Sequence[tuple[str, PodSpec]]) -> list[PodResult]:
        """Run several probe pods concurrently (one thread each); results in the order given."""
        if len(jobs) <= 1:
            return [self.run(cluster, spec) for cluster, spec in jobs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="mcdiag-probe") as pool:
            return list(pool.map(lambda job: self.run(*job), jobs))

    def pair_all(
        self, pairs: Sequence[tuple[tuple[str, PodSpec], tuple[str, PodSpec]]], grace: float = AFTER_SEND_GRACE
    ) -> list[tuple[PodResult, PodResult | None]]:
        """Run several listener/sender :meth:`pair_within` s concurrently; results in the order given."""
        if len(pairs) <= 1:
            return [self.pair_within(*p, grace=grace) for p in pairs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(pairs), thread_name_prefix="mcdiag-pair") as pool:
            return list(pool.map(lambda p: self.pair_within(*p, grace=grace), pairs))

    def pair_within(
        self, listener: tuple[str, PodSpec], sender: tuple[str, PodSpec], grace: float = AFTER_SEND_GRACE
    ) -> tuple[PodResult, PodResult | None]:
        """Start the listener, wait for its ``listening`` line, run the sender; collect both.

        The listener gets only ``grace`` seconds once the sender is done.

        The listener's own timeout must cover the sender pod's start (an image pull, say); once
        the datagrams are sent, waiting that long again for one that is not coming only costs
        time. A listener still waiting after the grace is deleted and reported as "nothing arrived".
        """
        lc, lspec = listener
        sc, sspec = sender
        try:
            lname = self.start(lc, lspec)
        except ResourceUnavailable as exc:
            return PodResult(lc, lspec.node, "", "NotCreated", None, "", f"cannot create the listener pod: {exc.message}"), None
        pod, problem = self.wait_running(lc, lname)
        if problem:
            self.delete(lc, self._pod_path(), lname)
            return PodResult(lc, lspec.node, lname, "Pending", None, "", problem), None
        if not self.wait_log(lc, lname, '"listening"', min(lspec.timeout, 20)):
            result = self.finish(lc, lname, lspec, started=False)
            if not result.problem and result.data is None:
                result.problem = "the listener never reported that it was listening"
            return result, None
        sent = self.run(sc, sspec)
        end = time.monotonic() + (grace if sent.data is not None else 0)
        pause = backoff()
        while time.monotonic() < end:
            phase = ((self.get_pod(lc, lname).get("status") or {}).get("phase"))
            if phase in ("Succeeded", "Failed"):
                return self.finish(lc, lname, lspec, started=False), sent
            time.sleep(next(pause))
        logs = self.logs(lc, lname)
        data = last_json(logs)
        if data is not None and data.get("event"):  # only the "listening" line: no result yet
            data = None
        if data is None and sent.data is not None:
            data = {"probe": "udp-listen", "ok": False, "matches": 0, "stopped_early": True,
                    "reason": f"nothing with the marker arrived within {grace:g}s after the sender finished"}
        self.delete(lc, self._pod_path(), lname)
        return PodResult(lc, lspec.node, lname, "Running", data, logs,
                         "" if data is not None else "the sender never ran, so the listener was stopped"), sent

    def _once(self, key: tuple[str, ...], produce: Any, wait: float) -> Any:
        """``produce()`` once per key for the whole run; concurrent callers wait for the first one's result."""
        with self._lock:
            entry = self._shared.get(key)
            first = entry is None
            if first:
                entry = self._shared[key] = (threading.Event(), [])
        event, box = entry
        if first:
            try:
                box.append(produce())
            except Exception as exc:  # recorded for every caller, never raised twice
                box.append(exc)
            finally:
                event.set()
        elif not event.wait(wait):
            raise ResourceUnavailable("error", f"timed out after {wait:g}s waiting for the shared {key[0]} of {key[1]}")
        value = box[0]
        if isinstance(value, Exception):
            raise value
        return value

    def shared(self, key: tuple[str, ...], produce: Any, wait: float) -> Any:
        """``produce()`` once per ``key`` for the whole run, shared by the checks that ask (bounded wait for the first)."""
        return self._once(("shared", *key), produce, wait)

    def get_object(self, cluster: str, path: str) -> dict[str, Any] | None:
        """GET one object (``None`` when it does not exist); what active checks read live, after the run started."""
        try:
            return self.sources[cluster].get(path, what=f"get {path.rsplit('/', 2)[-2]} {path.rsplit('/', 1)[-1]}")
        except ResourceUnavailable as exc:
            if exc.status == 404 or exc.kind == "not-served":
                return None
            raise

    def target(self, cluster: str, node: str, port: int = TARGET_PORT) -> Target:
        """The run's target pod in ``cluster``: ``probe serve`` on the pod network of ``node``, made once.

        Every check that needs something to reach in a cluster (pod connectivity, path MTU,
        latency) shares it; the first caller's node wins. Deleted at :meth:`cleanup`.
        """
        return self._once(("target", cluster), lambda: self._make_target(cluster, node, port), self.start_timeout + 60)

    def _make_target(self, cluster: str, node: str, port: int) -> Target:
        spec = PodSpec(
            node=node,
            argv=["mcdiag", "probe", "serve", "--port", str(port), "--duration", str(SHARED_LIFETIME)],
            name="target",
            host_network=False,
            timeout=SHARED_LIFETIME,
            labels={PROBE: "target"},
            ports=[port],
            daemon=True,
        )
        try:
            self.ensure_namespace(cluster)
            name = self._name("target")
            manifest = self.pod_manifest(name, spec)
            manifest["spec"]["activeDeadlineSeconds"] = SHARED_LIFETIME
            self.create(cluster, self._pod_path(), manifest)
        except ResourceUnavailable as exc:
            return Target(cluster, node, "", None, port, f"cannot create the target pod: {exc.message}")
        pod, problem = self.wait_running(cluster, name)
        if problem:
            return Target(cluster, node, name, None, port, problem)
        phase = ((pod or {}).get("status") or {}).get("phase")
        if phase != "Running" or not self.wait_log(cluster, name, '"listening"', 20):
            logs = self.logs(cluster, name).strip().splitlines()
            why = logs[-1] if logs else f"phase {phase}"
            return Target(cluster, node, name, None, port, f"target pod {name} on {node} is not serving on port {port} ({why})")
        pod = self.get_pod(cluster, name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            return Target(cluster, node, name, None, port, f"target pod {name} on {node} runs but has no pod IP")
        return Target(cluster, node, name, ip, port)

    def echo_service(self, cluster: str, export: bool = True, port: int = TARGET_PORT) -> EchoService:
        """The run's temporary echo Deployment + Service (+ ServiceExport when ``export``) in ``cluster``, made once.

        Waits (bounded by the start timeout) until the Deployment has an available replica and
        the Service a ClusterIP; ``problem`` says what never happened. Deleted at :meth:`cleanup`.
        """
        return self._once(("echo", cluster), lambda: self._make_echo(cluster, export, port), self.start_timeout + 60)

    def _make_echo(self, cluster: str, export: bool, port: int) -> EchoService:
        name = self._name("echo")
        ns = self.namespace
        select = {"app": name, RUN_ID: self.run_id}
        labels = self._labels({PROBE: "echo", "app": name})
        container = {
            "name": "echo",
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["mcdiag", "probe", "serve", "--port", str(port), "--duration", str(SHARED_LIFETIME)],
            "ports": [{"containerPort": port, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [container],
                        "tolerations": [{"operator": "Exists"}],
                        "terminationGracePeriodSeconds": 0,
                        "automountServiceAccountToken": False,
                    },
                },
            },
        }
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": select, "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}]},
        }
        svc_path = f"/api/v1/namespaces/{ns}/services"
        dep_path = f"/apis/apps/v1/namespaces/{ns}/deployments"
        try:
            self.ensure_namespace(cluster)
            self.create(cluster, dep_path, deployment)
            self.create(cluster, svc_path, service)
            if export:
                se = {
                    "apiVersion": "multicluster.x-k8s.io/v1alpha1",
                    "kind": "ServiceExport",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                }
                self.create(cluster, f"/apis/multicluster.x-k8s.io/v1alpha1/namespaces/{ns}/serviceexports", se)
        except ResourceUnavailable as exc:
            return EchoService(cluster, ns, name, None, port, f"cannot create the temporary echo service: {exc.message}")
        end = time.monotonic() + self.start_timeout
        available, ip = 0, None
        pause = backoff(cap=POLL * 2)
        while True:
            try:
                dep = self.sources[cluster].get(f"{dep_path}/{name}", what=f"get deployment {name}")
                svc = self.sources[cluster].get(f"{svc_path}/{name}", what=f"get service {name}")
            except ResourceUnavailable as exc:
                return EchoService(cluster, ns, name, None, port, f"cannot read the temporary echo service: {exc.message}")
            available = int((dep.get("status") or {}).get("availableReplicas") or 0)
            ip = (svc.get("spec") or {}).get("clusterIP")
            ip = ip if ip and ip != "None" else None
            if available >= 1 and ip:
                return EchoService(cluster, ns, name, ip, port)
            if time.monotonic() >= end:
                break
            time.sleep(next(pause))
        missing = []
        if available < 1:
            missing.append(f"Deployment {ns}/{name} has no available replica")
        if not ip:
            missing.append(f"Service {ns}/{name} has no ClusterIP")
        return EchoService(
            cluster, ns, name, ip, port,
            f"the temporary echo service never became available within {self.start_timeout:g}s ({'; '.join(missing)})",
        )

    def _made_by_mcdiag(self, cluster: str) -> bool:
        """The probe namespace carries mcdiag's label (another run made it), as opposed to a user's namespace."""
        try:
            ns = self.sources[cluster].get(f"/api/v1/namespaces/{self.namespace}", what=f"get namespace {self.namespace}")
        except ResourceUnavailable:
            return False
        return ((ns.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == "mcdiag"

    def _in_use_by_other_runs(self, cluster: str) -> bool:
        """Objects of other mcdiag runs (concurrent runs, pytest-xdist workers) live in the probe namespace."""
        selector = f"{MANAGED_BY}=mcdiag,{RUN_ID}!={self.run_id}"
        for path in (f"/api/v1/namespaces/{self.namespace}/pods", f"/apis/apps/v1/namespaces/{self.namespace}/deployments"):
            try:
                items = self.sources[cluster].get(path, {"labelSelector": selector}, what="list objects of other runs").get("items") or []
            except ResourceUnavailable:
                continue
            if any(not (i.get("metadata") or {}).get("deletionTimestamp") for i in items):
                return True
        return False

    def cleanup(self) -> list[str]:
        """Delete everything this run created and did not delete yet, newest first, the clusters side by side.

        Returns problems (never raises).
        """
        self.closed = True
        with self._lock:
            created = list(reversed(self._created))
            self._created.clear()
        clusters = list(dict.fromkeys(c for c, _, _, _ in created))

        def clean(cluster: str) -> list[str]:
            problems = []
            for c, path, name, kind in created:
                if c != cluster:
                    continue
                if path == "/api/v1/namespaces" and name == self.namespace and self._in_use_by_other_runs(cluster):
                    continue  # deleting it would take another run's probe pods with it; the last run out deletes it
                try:
                    self.delete(cluster, path, name)
                except ResourceUnavailable as exc:
                    problems.append(f"{cluster}: {kind} {name} not deleted: {exc.message}")
                except Exception as exc:  # noqa: BLE001 - cleanup never raises; the note says what is left
                    problems.append(f"{cluster}: {kind} {name} not deleted: {exc.__class__.__name__}: {exc}")
            return problems

        if len(clusters) <= 1:
            return [p for c in clusters for p in clean(c)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(clusters), thread_name_prefix="mcdiag-cleanup") as pool:
            return [p for problems in pool.map(clean, clusters) for p in problems]


def _termination_message(pod: dict[str, Any]) -> str:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term and term.get("message"):
            return str(term["message"])
    return ""


#: Kinds ``mcdiag cleanup`` removes by label, in deletion order (namespaces last).
CLEANUP_KINDS: Sequence[tuple[str, str, bool]] = (
    ("/apis/multicluster.x-k8s.io/v1alpha1", "serviceexports", True),
    ("/api/v1", "services", True),
    ("/apis/apps/v1", "deployments", True),
    ("/api/v1", "pods", True),
    ("/api/v1", "namespaces", False),
)


def cleanup_leftovers(source: Any, run_id: str | None = None) -> tuple[list[str], list[str]]:
    """Delete every object labelled managed-by=mcdiag (of one run, or all). Returns (deleted, problems)."""
    selector = f"{MANAGED_BY}=mcdiag" + (f",{RUN_ID}={run_id}" if run_id else "")
    deleted, problems = [], []
    for prefix, plural, namespaced in CLEANUP_KINDS:
        try:
            items = source.get(f"{prefix}/{plural}", {"labelSelector": selector}, what=f"list {plural}").get("items") or []
        except ResourceUnavailable as exc:
            if exc.kind != "not-served":
                problems.append(f"cannot list {plural}: {exc.message}")
            continue
        for item in items:
            meta = item.get("metadata") or {}
            path = f"{prefix}/namespaces/{meta.get('namespace')}/{plural}" if namespaced else f"{prefix}/{plural}"
            try:
                source.request("DELETE", f"{path}/{meta['name']}", query={"gracePeriodSeconds": "0"}, what=f"delete {plural}")
                deleted.append(f"{plural}/{meta.get('namespace') + '/' if namespaced else ''}{meta['name']}")
            except ResourceUnavailable as exc:
                if exc.status != 404:
                    problems.append(f"{plural} {meta['name']}: {exc.message}")
    return deleted, problems
