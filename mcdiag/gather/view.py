"""The per-cluster in-memory view that checks evaluate ("gather, then judge").

A :class:`ClusterView` sends each distinct :class:`~mcdiag.gather.resources.Resource`
query at most once per run, whatever number of checks ask for it, and hands out the
cached items. A query that a query already answered covers (the same kind cluster-wide
rather than in a namespace, unselected rather than selected, whole objects rather than
metadata only) is cut out of that answer instead of going to the API; the prefetch
sends only the broadest of the declared queries.
Objects are redacted as they arrive, so no secret can reach a check, a report
or a snapshot. Failures are cached too: a forbidden list is asked once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.redact import redact
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

    def __repr__(self) -> str:
        return f"ClusterView({self.name!r})"

    # -- raw reads, each at most once ------------------------------------------------
    def _once(self, key: str, produce: Callable[[], Any]) -> Any:
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = produce()
                except ResourceUnavailable as exc:
                    self._memo[key] = exc
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
        with self._lock:
            lock = self._key_locks.setdefault(res.key, threading.Lock())
        with lock:
            if res.key not in self._lists:
                wider = self._covering(res)
                value = res.cut(wider) if wider is not None else self._fetch(res)
                with self._lock:
                    self._lists[res.key] = value
                    self._order.append(res)
        value = self._lists[res.key]
        if isinstance(value, ResourceUnavailable):
            raise value
        return value

    def _covering(self, res: Resource) -> list[dict[str, Any]] | None:
        """The items of a query already answered that covers ``res`` (the narrowest such), if any."""
        with self._lock:
            held = [(r, self._lists.get(r.key)) for r in self._order if r.key != res.key]
        best: tuple[Resource, list[dict[str, Any]]] | None = None
        for r, items in held:
            if isinstance(items, list) and r.covers(res) and (best is None or len(items) < len(best[1])):
                best = (r, items)
        return best[1] if best else None

    def _fetch(self, res: Resource) -> list[dict[str, Any]] | ResourceUnavailable:
        try:
            if res.custom and not self.served(res.group_version):
                return ResourceUnavailable(
                    "not-served",
                    f"{res.plural}.{res.group} is not served by the API server ({res.group_version} not installed)",
                )
            items = [redact(with_read_facts(item, self.read_facts)) for item in self.source.list(res)]
            # What a source did not narrow (a server that ignored the metadata-only Accept header,
            # a source without selectors) is narrowed here: the answer is the query's, whatever the source.
            return res.cut(items) if res.labels or res.fields or res.metadata_only else items
        except ResourceUnavailable as exc:
            if exc.kind == "forbidden":
                exc.hint = exc.hint or f"Grant the kubeconfig's user permission to {res.rbac()} (kubectl auth can-i {res.rbac()})."
            return exc

    def prefetch(self, resources: Iterable[Resource], workers: int = 8) -> None:
        """List ``resources`` concurrently (each once); failures are cached, not raised.

        Only the broadest queries go to the API, concurrently; the others are then cut
        out of their answers (or sent themselves, when the broader one failed).
        """
        todo, covered = broadest(set(resources))
        if not todo:
            return

        def one(res: Resource) -> None:
            try:
                self.list(res)
            except ResourceUnavailable:
                pass  # cached: the check that reads it turns it into its result

        with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix=f"list-{self.name}") as pool:
            list(pool.map(one, todo))
        for res in covered:
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
