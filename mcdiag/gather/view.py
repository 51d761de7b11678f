"""The per-cluster in-memory view that checks evaluate ("gather, then judge").

A :class:`ClusterView` sends each distinct :class:`~mcdiag.gather.resources.Resource`
query at most once per run, whatever number of checks ask for it, and hands out the
cached items. A query that a query already answered covers (the same kind cluster-wide
rather than in a namespace, unselected rather than selected, whole objects rather than
metadata only) is cut out of that answer instead of going to the API; the prefetch
sends only the broadest of the declared queries.
Objects are redacted as they arrive, so no secret can reach a check, a report
or a snapshot. Failures are cached too: a forbidden list is asked once. Whatever
goes wrong while reading (any exception, a malformed answer, an object whose
fields have the wrong types) is cached as a :class:`ResourceUnavailable` that
names the resource, so it becomes the result of the checks that needed it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.redact import redact, redact_in_place
from mcdiag.gather.resources import Resource, broadest


def _error_record(exc: ResourceUnavailable) -> dict[str, Any]:
    return {"kind": exc.kind, "message": exc.message, "status": exc.status, "hint": exc.hint}


def with_read_facts(obj: dict[str, Any], read_facts: tuple[Callable[[dict[str, Any]], dict[str, str]], ...]) -> dict[str, Any]:
    """``obj`` with the annotations each read fact derives from it (the raw object, before redaction).

    A read fact returns annotations that are safe to keep (a name, never the secret it was read from).
    """
    extra: dict[str, str] = {}
    for fact in read_facts:
        try:
            extra.update(fact(obj) or {})
        except Exception:  # noqa: BLE001 - a fact that cannot be read is simply not kept
            continue
    if not extra or not isinstance(obj.get("metadata"), dict):
        return obj
    meta = dict(obj["metadata"])
    meta["annotations"] = {**(meta.get("annotations") or {}), **extra}
    return {**obj, "metadata": meta}


class ClusterView:
    """What mcdiag knows of one cluster: cached lists, discovery, version and derived facts."""

    def __init__(
        self,
        spec: ClusterSpec,
        source: Any,
        *,
        provider_override: str | None = None,
        read_facts: Iterable[Callable[[dict[str, Any]], dict[str, str]]] = (),
    ):
        self.spec = spec
        self.source = source
        self.name: str = spec.name or spec.resolved_context or "cluster"
        self.provider_override = provider_override
        #: Facts computed from each raw object before redaction (kept as annotations of the redacted copy),
        #: e.g. the Netmaker network inside an access token: see :func:`with_read_facts`.
        self.read_facts = tuple(read_facts)
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._lists: dict[str, list[dict[str, Any]] | ResourceUnavailable] = {}
        self._order: list[Resource] = []
        self._memo: dict[str, Any] = {}
        #: The reason this cluster cannot be read at all (set by a fatal check).
        self.unreachable: str | None = None
        #: Set once the run stopped (interrupt, time limit): what is not read yet is never waited for.
        self.stopped: str | None = None

    def __repr__(self) -> str:
        return f"ClusterView({self.name!r})"

    # -- raw reads, each at most once ------------------------------------------------
    def stop_reading(self, reason: str) -> None:
        """From now on, what is not cached yet fails at once (a read in flight is not waited for)."""
        self.stopped = reason

    def _not_read(self, what: str) -> ResourceUnavailable:
        return ResourceUnavailable("error", f"{what}: not read, {self.stopped}")

    def _once(self, key: str, produce: Callable[[], Any]) -> Any:
        if self.stopped and key not in self._memo:
            raise self._not_read(_what(key))
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = produce()
                except ResourceUnavailable as exc:
                    self._memo[key] = exc
                except Exception as exc:  # a malformed answer or object: a result, never a crash
                    self._memo[key] = contained(exc, _what(key))
        value = self._memo[key]
        if isinstance(value, ResourceUnavailable):
            raise value
        return value

    def version_info(self) -> dict[str, Any]:
        """The API server's ``/version``."""
        return self._once("version", self.source.version)

    def served(self, group_version: str) -> bool:
        """Whether the API server serves ``group_version`` (``submariner.io/v1``)."""
        return group_version in self._once("discovery", self.source.served_group_versions)

    def list(self, res: Resource) -> list[dict[str, Any]]:
        """Every object of ``res`` (redacted). Raises :class:`ResourceUnavailable`."""
        if self.stopped and res.key not in self._lists:
            raise self._not_read(f"list {res.display}")
        with self._lock:
            lock = self._key_locks.setdefault(res.key, threading.Lock())
        with lock:
            if res.key not in self._lists:
                wider = self._covering(res)
                if isinstance(wider, ResourceUnavailable):
                    value: list[dict[str, Any]] | ResourceUnavailable = wider
                else:
                    value = self._cut(res, wider) if wider is not None else self._fetch(res)
                with self._lock:
                    self._lists[res.key] = value
                    self._order.append(res)
        value = self._lists[res.key]
        if isinstance(value, ResourceUnavailable):
            raise value
        return value

    def holds(self, res: Resource) -> bool:
        """Whether ``res`` was read (answered or failed), or an answered query covers it: no request needed."""
        with self._lock:
            if res.key in self._lists:
                return True
            held = [(r, self._lists.get(r.key)) for r in self._order]
        return any(isinstance(items, list) and r.covers(res) for r, items in held)

    def _cut(self, res: Resource, wider: list[dict[str, Any]]) -> list[dict[str, Any]] | ResourceUnavailable:
        try:
            return res.cut(wider)
        except Exception as exc:  # contained like any read
            return contained(exc, f"list {res.display}")

    def _covering(self, res: Resource) -> list[dict[str, Any]] | ResourceUnavailable | None:
        """The items of a query already answered that covers ``res`` (the narrowest such), if any.

        When none answered but one that covers it failed for a reason a narrower query would meet
        too (unreachable, malformed, endless paging, not served), that failure: it is not asked
        again. Only a forbidden broad query lets the narrow one go to the API (RBAC may allow it).
        """
        with self._lock:
            held = [(r, self._lists.get(r.key)) for r in self._order if r.key != res.key]
        best: tuple[Resource, list[dict[str, Any]]] | None = None
        failed: ResourceUnavailable | None = None
        for r, items in held:
            if not r.covers(res):
                continue
            if isinstance(items, list):
                if best is None or len(items) < len(best[1]):
                    best = (r, items)
            elif isinstance(items, ResourceUnavailable) and items.kind != "forbidden" and failed is None:
                failed = items
        return best[1] if best else failed

    def _fetch(self, res: Resource) -> list[dict[str, Any]] | ResourceUnavailable:
        try:
            if res.custom and not self.served(res.group_version):
                return ResourceUnavailable(
                    "not-served",
                    f"{res.plural}.{res.group} is not served by the API server ({res.group_version} not installed)",
                )
            items = self.source.list(res)
            if not isinstance(items, list):
                raise TypeError(f"the source answered {type(items).__name__}, not a list")
            problem = malformed(items, deep=res.group in DEEP_GROUPS, kind=res.kind_name)
            if problem:
                return ResourceUnavailable("error", f"list {res.display}: {problem}", hint=MALFORMED_HINT)
            if self.read_facts:  # from the raw objects, before redaction hides what they read
                items = [with_read_facts(item, self.read_facts) for item in items]
            # Sources that parse their own answers hand over objects nobody else holds: redact those in place.
            if getattr(self.source, "live", False) or getattr(self.source, "owns_objects", False):
                items = [redact_in_place(item) for item in items]
            else:
                items = [redact(item) for item in items]
            # What a source did not narrow (a server that ignored the metadata-only Accept header,
            # a source without selectors) is narrowed here: the answer is the query's, whatever the source.
            return res.cut(items) if res.narrowed else items
        except ResourceUnavailable as exc:
            if exc.kind == "forbidden":
                exc.hint = exc.hint or f"Grant the kubeconfig's user permission to {res.rbac()} (kubectl auth can-i {res.rbac()})."
            return exc
        except Exception as exc:  # anything else while reading: the checks that need it say so
            return contained(exc, f"list {res.display}")

    def prefetch(self, resources: Iterable[Resource], workers: int = 8) -> None:
        """List ``resources`` concurrently (each once); failures are cached, not raised.

        Only the broadest queries go to the API, concurrently; the others are then cut
        out of their answers (or sent themselves, when the broader one failed).
        """
        todo, covered = broadest(set(resources))

        def one(res: Resource) -> None:
            try:
                self.list(res)
            except ResourceUnavailable:
                pass  # cached: the check that reads it turns it into its result

        daemon_map(one, list(todo), workers, f"list-{self.name}")
        for res in covered:
            if self.stopped:
                return
            one(res)

    def optional(self, res: Resource) -> list[dict[str, Any]] | None:
        """Like :meth:`list`, but ``None`` when the resource is not served (CRD not installed)."""
        try:
            return self.list(res)
        except ResourceUnavailable as exc:
            if exc.kind == "not-served":
                return None
            raise

    # -- conveniences for checks ----------------------------------------------------
    def find(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object called ``name`` (in ``namespace``), or ``None``."""
        for item in self.optional(res) or []:
            meta = item.get("metadata") or {}
            if meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
                return item
        return None

    def select(self, res: Resource, namespace: str | None = None, **labels: str) -> list[dict[str, Any]]:
        """Objects of ``res`` whose labels include ``labels`` (keys with ``_`` spelled as in Kubernetes)."""
        out = []
        for item in self.optional(res) or []:
            meta = item.get("metadata") or {}
            if namespace is not None and meta.get("namespace") != namespace:
                continue
            have = meta.get("labels") or {}
            if all(have.get(k) == v for k, v in labels.items()):
                out.append(item)
        return out

    def fact(self, fn: Callable[[ClusterView], Any]) -> Any:
        """``fn(self)``, computed once per view (facts such as the CNI or the CIDRs)."""
        key = f"fact:{fn.__module__}.{fn.__qualname__}"
        return self._once(key, lambda: fn(self))

    # -- snapshots ---------------------------------------------------------------------
    def recorded(self) -> dict[str, Any]:
        """Everything read so far, in the form :mod:`mcdiag.gather.snapshot` saves."""
        lists = {}
        for res in self._order:
            value = self._lists[res.key]
            if isinstance(value, ResourceUnavailable):
                lists[res.key] = {"error": _error_record(value)}
            else:
                lists[res.key] = {"items": value}
        out: dict[str, Any] = {"lists": lists}
        for key in ("version", "discovery"):
            value = self._memo.get(key)
            if isinstance(value, ResourceUnavailable):
                out[key] = {"error": _error_record(value)}
            elif value is not None:
                out[key] = sorted(value) if isinstance(value, set) else value
        return out


# ---------------------------------------------------------------------------------------------
# Containment
# ---------------------------------------------------------------------------------------------
MALFORMED_HINT = ("An object has fields of the wrong type, which a Kubernetes API server would not accept: "
                  "check what wrote it (an operator, a webhook, a proxy in front of the API server).")

#: Top-level fields of every object, and the JSON type each must have when present.
_SHAPE = {"metadata": dict, "spec": dict, "status": dict}
_META_SHAPE = {"name": str, "namespace": str, "labels": dict, "annotations": dict, "uid": str}


#: Custom resources whose fields are checked in depth (their schemas are known; the API server may not enforce
#: them: ``x-kubernetes-preserve-unknown-fields``, aggregated APIs): wherever a field of these names appears in
#: them, it must be an object, or a list.
DEEP_GROUPS = frozenset({"submariner.io", "multicluster.x-k8s.io"})
_OBJECT_FIELDS = frozenset(
    """labels annotations template matchLabels nodeSelector serviceRef endpoint localEndpoint backend_config
    coreDNSCustomConfig""".split()
)
_LIST_FIELDS = frozenset(
    """conditions ports items connections subnets tolerations ownerReferences clusterIPs remoteEndpoints clusters
    allocatedIPs globalCIDRs serviceCIDRs clusterCIDRs ips""".split()
)
_LIST_OF_OBJECTS = frozenset("""conditions connections tolerations ownerReferences remoteEndpoints""".split())


def malformed(items: list[Any], deep: bool = False, kind: str | None = None) -> str | None:
    """What is wrong with the first object whose well-known fields have the wrong type (named), or None.

    ``null`` counts as absent (``labels: null`` is dropped, so ``meta.get("labels", {})`` works).
    Objects must be mappings; ``metadata``, ``spec`` and ``status`` mappings; name, namespace
    and uid strings; labels and annotations mappings of strings. ``deep`` (custom resources)
    also checks every field of :data:`_OBJECT_FIELDS` and :data:`_LIST_FIELDS` at any depth
    (the custom resources of :data:`DEEP_GROUPS`). ``kind`` names the objects of a metadata-only
    answer (whose items say ``PartialObjectMetadata``).
    """
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return f"item {index} is {_type_name(item)}, not an object"
        for key in ("metadata", "spec", "status"):
            if key in item and item[key] is None:
                del item[key]
        meta = item.get("metadata")
        name = _object_name(item, index, kind)
        for key, want in _SHAPE.items():
            value = item.get(key)
            if value is not None and not isinstance(value, want):
                return f"{name}: {key} is {_type_name(value)} where an object belongs"
        if isinstance(meta, dict):
            for key in ("labels", "annotations"):
                if key in meta and meta[key] is None:
                    del meta[key]
            for key, want in _META_SHAPE.items():
                value = meta.get(key)
                if value is not None and not isinstance(value, want):
                    return f"{name}: metadata.{key} is {_type_name(value)} where {'a string' if want is str else 'an object'} belongs"
            for key in ("labels", "annotations"):
                for k, v in (meta.get(key) or {}).items():
                    if v is not None and not isinstance(v, str):
                        return f"{name}: metadata.{key}[{k!r}] is {_type_name(v)}, not a string"
        if deep:
            for key in ("spec", "status"):
                problem = _deep(item.get(key), key, 0) if key in item else None
                if problem:
                    return f"{name}: {problem}"
    return None


def _deep(value: Any, path: str, depth: int) -> str | None:
    if depth > 64:
        return f"{path} is nested more than 64 levels deep"
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                continue
            where = f"{path}.{key}"
            if key in _OBJECT_FIELDS and not isinstance(item, dict):
                return f"{where} is {_type_name(item)} where an object belongs"
            if key in _LIST_FIELDS and not isinstance(item, list):
                return f"{where} is {_type_name(item)} where a list belongs"
            if key in _LIST_OF_OBJECTS:
                for i, element in enumerate(item):
                    if not isinstance(element, dict):
                        return f"{where}[{i}] is {_type_name(element)} where an object belongs"
            if isinstance(item, dict | list):
                problem = _deep(item, where, depth + 1)
                if problem:
                    return problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                problem = _deep(item, f"{path}[{i}]", depth + 1)
                if problem:
                    return problem
    return None


def _object_name(item: dict[str, Any], index: int, kind_hint: str | None = None) -> str:
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    kind = item.get("kind") if isinstance(item.get("kind"), str) else "object"
    if kind in ("PartialObjectMetadata", "object") and kind_hint:
        kind = kind_hint
    if isinstance(name, str) and name:
        return f"{kind} {namespace + '/' if isinstance(namespace, str) and namespace else ''}{name}"
    return f"{kind} #{index}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _what(key: str) -> str:
    if key == "version":
        return "GET /version"
    if key == "discovery":
        return "API discovery"
    if key.startswith("fact:"):
        return f"working out {key.removeprefix('fact:').rsplit('.', 1)[-1]}"
    return key


def contained(exc: BaseException, what: str) -> ResourceUnavailable:
    """An unexpected exception while reading ``what``, as the error the checks that needed it report."""
    if isinstance(exc, RecursionError):
        reason = "the answer is nested too deeply to read"
    elif isinstance(exc, MemoryError):
        reason = "the answer is too large to hold in memory"
    else:
        reason = f"{exc.__class__.__name__}: {str(exc)[:200]}".rstrip(": ")
    return ResourceUnavailable("error", f"{what}: {reason}", hint=MALFORMED_HINT)


def daemon_map(fn: Callable[[Any], None], items: list[Any], workers: int, name: str) -> None:
    """``fn`` over ``items``, at most ``workers`` at once, in daemon threads (a hung request never blocks exit)."""
    if not items:
        return
    queue = list(items)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop(0)
            try:
                fn(item)
            except Exception:
                pass  # fn contains its own failures; nothing may escape a worker

    threads = [threading.Thread(target=worker, daemon=True, name=name) for _ in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
