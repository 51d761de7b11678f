"""Resource table, object store and YAML loading for the API emulator.

The store is version-agnostic: an object is keyed by ``(group, kind,
namespace, name)``, so a ``networking.k8s.io/v1beta1`` ServiceCIDR is also
served at ``networking.k8s.io/v1`` (with ``apiVersion`` rewritten on output),
as the real apiserver converts between served versions.  Objects whose kind is
not served (custom resources without their CustomResourceDefinition) can be
stored, but the HTTP side answers 404 for them until the CRD is loaded.
"""

from __future__ import annotations

import copy
import datetime
import gc
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sortedcontainers import SortedList

log = logging.getLogger("mcdiag.lab.emulator")

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"

Key = tuple[str, str, str, str]  # (group, kind, namespace or "", name)


class ApiError(Exception):
    """An error the HTTP layer turns into a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict:
        """Return the ``Status`` object kube-apiserver would send."""
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """Build a kube-style ``Status`` (failure) object; empty fields of ``details`` are left out."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    details = {k: v for k, v in (details or {}).items() if v not in (None, "")}
    if details or reason == "NotFound":
        body["details"] = details
    body["code"] = code
    return body


def now_rfc3339() -> str:
    """Return the current UTC time, second precision, as the apiserver formats timestamps."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` -> ``("apps", "v1")``; ``"v1"`` -> ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def join_api_version(group: str, version: str) -> str:
    """Inverse of :func:`split_api_version`."""
    return f"{group}/{version}" if group else version


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple:
    """Sort key putting versions in kube order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others."""
    m = _VERSION_RE.match(version)
    if not m:
        return (1, 0, 0, 0, version)
    major, stage, num = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (0, stage_rank, -major, -num, version)


# ---------------------------------------------------------------------------
# Resource table


@dataclass(frozen=True)
class ResourceType:
    """One served resource: ``group/version`` + plural, with its discovery facts."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: tuple[str, ...] = STANDARD_VERBS
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    list_kind: str = ""
    min_minor: int = 0  # first Kubernetes minor release that serves it (built-ins only)
    max_minor: int = 10_000  # last Kubernetes minor release that serves it

    @property
    def api_version(self) -> str:
        """``group/version`` (just ``v1`` for the core group)."""
        return join_api_version(self.group, self.version)

    @property
    def group_resource(self) -> str:
        """``plural.group`` as used in kube error messages (just ``plural`` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind_name(self) -> str:
        """Kind of the list object (``PodList``)."""
        return self.list_kind or f"{self.kind}List"

    def discovery(self) -> list[dict]:
        """APIResource entries for the resource and its subresources."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        out = [entry]
        for sub in self.subresources:
            if sub == "log":
                verbs, kind = ["get"], self.kind
            elif sub == "scale":
                verbs, kind = ["get", "patch", "update"], "Scale"
            else:
                verbs, kind = ["get", "patch", "update"], self.kind
            sub_entry = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1")
            out.append(sub_entry)
        return out


def _rt(group: str, version: str, plural: str, kind: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, singular=kind.lower(), **kw)


_NS_NO_DC = ("create", "delete", "get", "list", "patch", "update", "watch")

BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    _rt(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        verbs=_NS_NO_DC,
        short_names=("ns",),
        subresources=("finalize", "status"),
    ),
    _rt("", "v1", "nodes", "Node", False, short_names=("no",), subresources=("status",)),
    _rt("", "v1", "pods", "Pod", short_names=("po",), subresources=("log", "status")),
    _rt(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        subresources=("status",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    _rt("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _rt("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _rt("", "v1", "secrets", "Secret"),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _rt("", "v1", "events", "Event", short_names=("ev",)),
    # apps/v1
    _rt("apps", "v1", "deployments", "Deployment", short_names=("deploy",), subresources=("scale", "status")),
    _rt("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), subresources=("status",)),
    _rt("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), subresources=("scale", "status")),
    _rt("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), subresources=("scale", "status")),
    # networking.k8s.io
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=("status",)),
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _rt(
        "networking.k8s.io",
        "v1",
        "servicecidrs",
        "ServiceCIDR",
        False,
        subresources=("status",),
        min_minor=33,
    ),
    _rt("networking.k8s.io", "v1", "ipaddresses", "IPAddress", False, short_names=("ip",), min_minor=33),
    _rt(
        "networking.k8s.io",
        "v1beta1",
        "servicecidrs",
        "ServiceCIDR",
        False,
        subresources=("status",),
        min_minor=31,
    ),
    _rt("networking.k8s.io", "v1beta1", "ipaddresses", "IPAddress", False, short_names=("ip",), min_minor=31),
    # discovery.k8s.io/v1
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # apiextensions.k8s.io/v1
    _rt(
        CRD_GROUP,
        "v1",
        "customresourcedefinitions",
        CRD_KIND,
        False,
        short_names=("crd", "crds"),
        subresources=("status",),
    ),
    # rbac.authorization.k8s.io/v1
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    # authorization.k8s.io/v1 (answered from the forbid() rules)
    _rt(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
)


class Registry:
    """The resources served right now: built-ins for the version, CRDs, extra groups."""

    def __init__(self, types: Iterable[ResourceType]):
        self.by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self.group_versions: dict[str, list[str]] = {}
        for rt in types:
            if (rt.group, rt.version, rt.plural) in self.by_gvr:
                continue
            self.by_gvr[(rt.group, rt.version, rt.plural)] = rt
            versions = self.group_versions.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for versions in self.group_versions.values():
            versions.sort(key=version_priority)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """Return the resource type served at ``group/version/plural``, if any."""
        return self.by_gvr.get((group, version, plural))

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """All resource types of one group/version, in table order."""
        return [rt for (g, v, _), rt in self.by_gvr.items() if g == group and v == version]

    def preferred(self, group: str, kind_or_plural: str) -> ResourceType | None:
        """Resource type of a group matched by kind, plural, singular or short name (preferred version)."""
        wanted = kind_or_plural.lower()
        for version in self.group_versions.get(group, []):
            for rt in self.resources(group, version):
                if wanted in (rt.kind.lower(), rt.plural, rt.singular) or wanted in rt.short_names:
                    return rt
        return None


def crd_resource_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """Resource types a CustomResourceDefinition serves (served versions only)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (group and plural and kind):
        log.warning("ignoring malformed CustomResourceDefinition %s", (crd.get("metadata") or {}).get("name"))
        return []
    namespaced = spec.get("scope", "Namespaced") != "Cluster"
    versions = spec.get("versions")
    if not versions and spec.get("version"):  # apiextensions v1beta1 shape
        versions = [{"name": spec["version"], "served": True, "subresources": spec.get("subresources")}]
    out = []
    for v in versions or []:
        if not v.get("served", True) or not v.get("name"):
            continue
        subs = v.get("subresources") or spec.get("subresources") or {}
        out.append(
            ResourceType(
                group,
                v["name"],
                plural,
                kind,
                namespaced,
                singular=names.get("singular") or kind.lower(),
                short_names=tuple(names.get("shortNames") or ()),
                subresources=tuple(s for s in ("scale", "status") if s in subs),
                list_kind=names.get("listKind") or "",
            )
        )
    return out


def extra_group_types(extra_groups: Iterable[Mapping[str, Any]]) -> list[ResourceType]:
    """Resource types for API groups served without a CRD (aggregated APIs such as Calico's)."""
    out = []
    for g in extra_groups:
        for r in g.get("resources", []):
            kind = r["kind"]
            out.append(
                ResourceType(
                    g["group"],
                    g["version"],
                    r["plural"],
                    kind,
                    bool(r.get("namespaced", True)),
                    singular=r.get("singular") or kind.lower(),
                    verbs=tuple(r.get("verbs") or STANDARD_VERBS),
                    short_names=tuple(r.get("shortNames") or r.get("short_names") or ()),
                    subresources=tuple(r.get("subresources") or ()),
                )
            )
    return out


# ---------------------------------------------------------------------------
# Object store


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class JsonPatchError(ValueError):
    """A JSON patch (RFC 6902) operation could not be applied."""


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JsonPatchError(f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list, token: str, *, for_add: bool = False) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise JsonPatchError(f"invalid array index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not for_add):
        raise JsonPatchError(f"array index {i} out of range")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t)]
        else:
            raise JsonPatchError(f"path /{'/'.join(tokens)} does not exist")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    raise JsonPatchError(f"path {path} does not exist")


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise JsonPatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    raise JsonPatchError(f"path {path} does not exist")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise JsonPatchError(f"cannot add at {path}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply a JSON patch (RFC 6902) to a copy of ``doc``; raises :class:`JsonPatchError`."""
    if not isinstance(operations, list):
        raise JsonPatchError("a JSON patch must be a JSON array")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise JsonPatchError(f"invalid operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise JsonPatchError(f"operation {kind} needs a value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise JsonPatchError(f"operation {kind} needs from")
            value = _remove(doc, op["from"]) if kind == "move" else copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise JsonPatchError(f"test operation failed at {path}")
        else:
            raise JsonPatchError(f"unknown operation {kind!r}")
    return doc


Callback = Callable[[dict], Any]


@dataclass
class Hooks:
    """Callbacks run after objects are created, updated or deleted."""

    create: list[Callback] = field(default_factory=list)
    update: list[Callback] = field(default_factory=list)
    delete: list[Callback] = field(default_factory=list)

    def fire(self, event: str, objs: Iterable[dict]) -> None:
        """Call each callback of ``event`` with a copy of each object; errors are logged, not raised."""
        for obj in objs:
            for cb in list(getattr(self, event)):
                try:
                    cb(copy.deepcopy(obj))
                except Exception:
                    log.exception("emulator on_%s callback %r failed", event, cb)


class ObjectStore:
    """Thread-safe, version-agnostic storage of API objects of one emulated cluster."""

    def __init__(self, name: str, minor: int, extra_groups: Iterable[Mapping[str, Any]] = ()):
        self.name = name
        self.minor = minor
        self.lock = threading.RLock()
        self._objects: dict[Key, dict] = {}
        #: Per (group, kind): the (namespace, name) of every stored object, sorted (list pages and ranges).
        self._index: dict[tuple[str, str], SortedList] = {}
        #: (group, kind) -> (label key, value) -> (namespace, name) of the objects so labelled: a label selector
        #: with an equality (or ``in``) requirement looks only at those, as kube-apiserver's indexes do.
        self._labelled: dict[tuple[str, str], dict[tuple[str, str], set[tuple[str, str]]]] = {}
        self._rv = 0
        self._extra = extra_group_types(extra_groups)
        self._registry: Registry | None = None
        self.hooks = Hooks()

    # -- resource versions and registry -------------------------------------------------
    @property
    def resource_version(self) -> int:
        """Latest resource version handed out."""
        return self._rv

    def bump_resource_version(self) -> int:
        """Advance the resource version without a write; returns the new value."""
        with self.lock:
            return int(self._next_rv())

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def registry(self) -> Registry:
        """Resources served now (rebuilt after a CRD is added or removed)."""
        with self.lock:
            if self._registry is None:
                builtins = [rt for rt in BUILTIN_RESOURCES if rt.min_minor <= self.minor <= rt.max_minor]
                crd_types: list[ResourceType] = []
                crds = sorted(
                    (o for (g, k, _, _), o in self._objects.items() if g == CRD_GROUP and k == CRD_KIND),
                    key=lambda o: ((o.get("spec") or {}).get("group", ""), o["metadata"]["name"]),
                )
                for crd in crds:
                    crd_types.extend(crd_resource_types(crd))
                self._registry = Registry([*builtins, *self._extra, *crd_types])
            return self._registry

    def resolve(self, api_version: str, kind_or_plural: str) -> tuple[str, str, ResourceType | None]:
        """``(group, kind, served type or None)`` for an apiVersion and a kind, plural or short name."""
        group, _ = split_api_version(api_version)
        rt = self.registry().preferred(group, kind_or_plural)
        if rt is None:
            builtin = Registry(BUILTIN_RESOURCES).preferred(group, kind_or_plural)
            return group, (builtin.kind if builtin else kind_or_plural), builtin
        return group, rt.kind, rt

    # -- internal helpers ------------------------------------------------------------------
    def _store(self, key: Key, obj: dict) -> None:
        """Keep ``obj`` under ``key`` (and in the sorted index of its kind, and the label index)."""
        old = self._objects.get(key)
        if old is None:
            index = self._index.get(key[:2])
            if index is None:
                index = self._index[key[:2]] = SortedList()
            index.add(key[2:])
        else:
            self._unlabel(key, old)
        self._objects[key] = obj
        labels = (obj.get("metadata") or {}).get("labels")
        if labels and isinstance(labels, dict):
            per = self._labelled.setdefault(key[:2], {})
            for k, v in labels.items():
                per.setdefault((k, str(v)), set()).add(key[2:])

    def _unlabel(self, key: Key, obj: dict) -> None:
        labels = (obj.get("metadata") or {}).get("labels")
        per = self._labelled.get(key[:2])
        if per and labels and isinstance(labels, dict):
            for k, v in labels.items():
                per.get((k, str(v)), set()).discard(key[2:])

    def _drop(self, key: Key) -> dict | None:
        """Forget the object under ``key``; returns it (None when there was none)."""
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._index[key[:2]].discard(key[2:])
            self._unlabel(key, obj)
        return obj

    def _key_for(self, obj: dict, rt: ResourceType | None, group: str) -> Key:
        meta = obj["metadata"]
        if rt is not None:
            if rt.namespaced:
                meta["namespace"] = meta.get("namespace") or "default"
            else:
                meta.pop("namespace", None)
        return (group, obj["kind"], meta.get("namespace") or "", meta["name"])

    def _stamp_new(self, obj: dict, *, keep_existing: bool, uid_seed: str | None = None) -> None:
        meta = obj.setdefault("metadata", {})
        if keep_existing and meta.get("uid"):
            pass
        elif uid_seed is not None:
            meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, uid_seed))
        else:
            meta["uid"] = str(uuid.uuid4())
        if not (keep_existing and meta.get("creationTimestamp")):
            meta["creationTimestamp"] = now_rfc3339()
        rv = meta.get("resourceVersion")
        if keep_existing and rv:
            if str(rv).isdigit():
                self._rv = max(self._rv, int(rv))
        else:
            meta["resourceVersion"] = self._next_rv()

    def _invalidate_if_crd(self, key: Key) -> None:
        if key[0] == CRD_GROUP and key[1] == CRD_KIND:
            self._registry = None

    # -- operations used by the Python API -----------------------------------------------
    def put(self, obj: Mapping[str, Any]) -> tuple[str, dict]:
        """Insert or replace an object as given (test/fixture loading); returns (event, stored copy)."""
        obj = copy.deepcopy(dict(obj))
        if not obj.get("apiVersion") or not obj.get("kind"):
            raise ValueError(f"object needs apiVersion and kind: {obj!r:.200}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError(f"object needs metadata.name: {obj!r:.200}")
        with self.lock:
            group, kind, rt = self.resolve(obj["apiVersion"], obj["kind"])
            obj["kind"] = kind
            key = self._key_for(obj, rt, group)
            old = self._objects.get(key)
            seed = f"{self.name}/{group}/{kind}/{key[2]}/{key[3]}"
            self._stamp_new(obj, keep_existing=True, uid_seed=seed)
            self._store(key, obj)
            self._invalidate_if_crd(key)
            return ("update" if old else "create"), copy.deepcopy(obj)

    def get(self, group: str, kind: str, namespace: str | None, name: str) -> dict | None:
        """Return the stored object (not a copy) or None."""
        with self.lock:
            return self._objects.get((group, kind, namespace or "", name))

    def list(
        self, group: str | None = None, kind: str | None = None, namespace: str | None = None
    ) -> list[dict]:
        """Return stored objects (not copies) matching the filters, sorted by (namespace, name)."""
        if group is not None and kind is not None:
            with self.lock:
                return [self._objects[(group, kind, *k)] for k in self._range(group, kind, namespace)]
        with self.lock:
            items = [
                (k, o)
                for k, o in self._objects.items()
                if (group is None or k[0] == group)
                and (kind is None or k[1] == kind)
                and (namespace is None or k[2] == namespace)
            ]
        items.sort(key=lambda kv: (kv[0][2], kv[0][3], kv[0][0], kv[0][1]))
        return [o for _, o in items]

    def _range(self, group: str, kind: str, namespace: str | None, after: tuple[str, str] | None = None) -> Iterator:
        """``(namespace, name)`` of the objects of a kind (in one namespace), in order, after ``after``."""
        index = self._index.get((group, kind))
        if not index:
            return iter(())
        if namespace is None:
            if after is None:
                return iter(index)
            return index.irange(minimum=after, inclusive=(False, True))
        low, high = (namespace, ""), (namespace, "\U0010ffff")
        if after is not None and after >= low:
            return index.irange(minimum=after, maximum=high, inclusive=(False, True))
        return index.irange(minimum=low, maximum=high)

    def count(self, group: str, kind: str, namespace: str | None = None, after: tuple[str, str] | None = None) -> int:
        """How many objects of a kind (in one namespace) sort after ``after`` (all when None)."""
        with self.lock:
            index = self._index.get((group, kind))
            if not index:
                return 0
            if namespace is None:
                low, high = 0, len(index)
            else:
                low, high = index.bisect_left((namespace, "")), index.bisect_right((namespace, "\U0010ffff"))
            if after is not None:
                low = max(low, index.bisect_right(after))
            return max(0, high - low)

    def page(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 0,
        where: Callable[[dict], bool] | None = None,
        labelled: tuple[str, tuple[str, ...]] | None = None,
    ) -> tuple[list[dict], bool]:
        """One list page: up to ``limit`` (0: all) stored objects (not copies) after ``after``.

        Returns ``(items, more)``; ``more`` tells whether another matching object follows.
        The cost is that of the objects looked at, not of every object stored: ``labelled``
        (``(key, values)``, a requirement of ``where``) looks only at objects with such a label.
        """
        with self.lock:
            out: list[dict] = []
            keys: Iterable = self._range(group, kind, namespace, after)
            if labelled is not None:
                per = self._labelled.get((group, kind)) or {}
                found = set().union(*(per.get((labelled[0], v), set()) for v in labelled[1]))
                keys = sorted(k for k in found if (namespace is None or k[0] == namespace) and (after is None or k > after))
            for k in keys:
                obj = self._objects[(group, kind, *k)]
                if where is not None and not where(obj):
                    continue
                if limit and len(out) == limit:
                    return out, True
                out.append(obj)
            return out, False

    def put_generated(self, objs: Iterable[dict]) -> int:
        """Store objects as given, without copying them (bulk loads of generated objects).

        Each object must carry apiVersion, kind and metadata.name; uid, resourceVersion and
        creationTimestamp are stamped as :meth:`put` stamps them. The objects may share
        nested parts (container specs, managed fields): nothing in the store mutates a
        stored object's nested parts in place. No hooks run. Returns how many were stored.
        """
        n = 0
        collecting = gc.isenabled()
        gc.disable()  # millions of new containers: the cyclic collector would rescan them all, again and again
        try:
            n = self._put_generated(objs)
        finally:
            if collecting:
                gc.enable()
        return n

    def _put_generated(self, objs: Iterable[dict]) -> int:
        n = 0
        with self.lock:
            resolved: dict[tuple[str, str], tuple[str, str, ResourceType | None]] = {}
            for obj in objs:
                ak = (obj["apiVersion"], obj["kind"])
                if ak not in resolved:
                    resolved[ak] = self.resolve(*ak)
                group, kind, rt = resolved[ak]
                obj["kind"] = kind
                key = self._key_for(obj, rt, group)
                self._stamp_new(obj, keep_existing=True, uid_seed=f"{self.name}/{group}/{kind}/{key[2]}/{key[3]}")
                self._store(key, obj)
                self._invalidate_if_crd(key)
                n += 1
        return n

    def remove(self, group: str, kind: str, namespace: str | None, name: str) -> list[dict]:
        """Delete an object and what it owns (a namespace's objects, a CRD's resources).

        Returns the deleted objects, the named one last; empty when it did not exist.
        """
        with self.lock:
            key = (group, kind, namespace or "", name)
            obj = self._drop(key)
            if obj is None:
                return []
            deleted: list[dict] = []
            if group == "" and kind == "Namespace":
                for k in [k for k in self._objects if k[2] == name]:
                    deleted.append(self._drop(k))
                    self._invalidate_if_crd(k)
            elif group == CRD_GROUP and kind == CRD_KIND:
                spec = obj.get("spec") or {}
                g, k_ = spec.get("group"), (spec.get("names") or {}).get("kind")
                for k in [k for k in self._objects if k[0] == g and k[1] == k_]:
                    deleted.append(self._drop(k))
            self._invalidate_if_crd(key)
            obj.setdefault("metadata", {})["deletionTimestamp"] = now_rfc3339()
            deleted.append(obj)
            return deleted

    # -- operations used by the HTTP layer --------------------------------------------------
    def create(self, rt: ResourceType, obj: dict, namespace: str | None, *, dry_run: bool = False) -> dict:
        """Create from an API request; raises ApiError on conflict. Returns the stored object."""
        meta = obj.setdefault("metadata", {})
        with self.lock:
            if not meta.get("name") and meta.get("generateName"):
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                for _ in range(100):
                    suffix = "".join(alphabet[b % len(alphabet)] for b in uuid.uuid4().bytes[:5])
                    candidate = meta["generateName"] + suffix
                    if (rt.group, rt.kind, namespace or "", candidate) not in self._objects:
                        meta["name"] = candidate
                        break
            if not meta.get("name"):
                raise ApiError(
                    422,
                    "Invalid",
                    f'{rt.kind} "" is invalid: metadata.name: Required value: name or generateName is required',
                    {"kind": rt.kind, "group": rt.group},
                )
            if rt.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            key = (rt.group, rt.kind, namespace or "", meta["name"])
            if key in self._objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rt.group_resource} "{meta["name"]}" already exists',
                    {"name": meta["name"], "group": rt.group, "kind": rt.plural},
                )
            for field_name in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
                meta.pop(field_name, None)
            meta["generation"] = 1
            if dry_run:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_rfc3339()
                return obj
            self._stamp_new(obj, keep_existing=False)
            self._store(key, obj)
            self._invalidate_if_crd(key)
            return obj

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        new: dict,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> tuple[dict, dict]:
        """Update an object (PUT/PATCH result); returns (old copy, stored new object)."""
        with self.lock:
            key = (rt.group, rt.kind, namespace or "", name)
            cur = self._objects.get(key)
            if cur is None:
                raise not_found(rt, name)
            meta = new.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})",
                )
            if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            cur_meta = cur["metadata"]
            if meta.get("resourceVersion") and str(meta["resourceVersion"]) != str(
                cur_meta.get("resourceVersion")
            ):
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                    {"name": name, "group": rt.group, "kind": rt.plural},
                )
            if subresource == "status":
                result = copy.deepcopy(cur)
                if "status" in new:
                    result["status"] = new["status"]
                else:
                    result.pop("status", None)
            else:
                result = new
                if "status" in rt.subresources:
                    if "status" in cur:
                        result["status"] = copy.deepcopy(cur["status"])
                    else:
                        result.pop("status", None)
                rmeta = result["metadata"]
                rmeta["name"] = name
                if rt.namespaced:
                    rmeta["namespace"] = namespace
                for fixed in ("uid", "creationTimestamp", "deletionTimestamp"):
                    if fixed in cur_meta:
                        rmeta[fixed] = cur_meta[fixed]
                    else:
                        rmeta.pop(fixed, None)
                if "generation" in cur_meta:
                    gen = int(cur_meta["generation"])
                    rmeta["generation"] = gen + 1 if result.get("spec") != cur.get("spec") else gen
            result["apiVersion"], result["kind"] = rt.api_version, rt.kind
            old = copy.deepcopy(cur)
            if dry_run:
                return old, result
            result["metadata"]["resourceVersion"] = self._next_rv()
            self._store(key, result)
            self._invalidate_if_crd(key)
            return old, result

    def set_status(self, group: str, kind: str, namespace: str | None, name: str, status: Any) -> dict:
        """Set ``.status`` of a stored object; raises KeyError if it does not exist."""
        with self.lock:
            obj = self._objects.get((group, kind, namespace or "", name))
            if obj is None:
                raise KeyError(f"{kind} {namespace + '/' if namespace else ''}{name} not found")
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            return copy.deepcopy(obj)


def not_found(rt: ResourceType, name: str) -> ApiError:
    """Build the 404 kube-apiserver sends for a missing object."""
    return ApiError(
        404,
        "NotFound",
        f'{rt.group_resource} "{name}" not found',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


# ---------------------------------------------------------------------------
# Loading


def _flatten(doc: Any, source: Path) -> list[dict]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: expected a mapping, got {type(doc).__name__}")
    kind = doc.get("kind", "")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        # `kind: List` from kubectl, or a typed list (PodList) dumped from the API,
        # whose items carry neither apiVersion nor kind.
        item_kind = kind[: -len("List")] if kind != "List" else None
        out = []
        for item in items:
            if item is None:
                continue
            if item_kind and isinstance(item, dict):
                item = {"apiVersion": doc.get("apiVersion"), "kind": item_kind, **item}
            out.extend(_flatten(item, source))
        return out
    return [doc]


def load_objects(path: str | Path, *more: str | Path) -> list[dict]:
    """Load Kubernetes objects from YAML (or JSON) files.

    Each argument is a file (multi-document YAML) or a directory, in which all
    ``*.yaml``, ``*.yml`` and ``*.json`` files are read recursively in sorted
    order.  ``kind: List`` documents (and typed lists such as ``PodList``) are
    flattened into their items; empty documents are skipped.
    """
    objects: list[dict] = []
    for p in (path, *more):
        p = Path(p)
        if p.is_dir():
            files = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".yaml", ".yml", ".json")
            )
        elif p.exists():
            files = [p]
        else:
            raise FileNotFoundError(p)
        for f in files:
            with f.open(encoding="utf-8") as fh:
                for doc in yaml.safe_load_all(fh):
                    objects.extend(_flatten(doc, f))
    return objects
