"""What checks declare in ``reads``: one :class:`Resource` is one list query.

A query is a group/version/plural, optionally limited to one namespace, to the
objects a label and a field selector select, and to their metadata only
(``PartialObjectMetadataList``, asked for through the ``Accept`` header, as
kube-apiserver serves it), or to the ``Table`` form (one row of kubectl's columns
per object: :mod:`mcdiag.gather.table`). The view sends each distinct query at most once per
cluster and run, and answers a query from a broader one it already holds
(:meth:`Resource.covers`); snapshots store the answer of every query asked.

Selectors are written as Kubernetes writes them (``app=x,tier in (a,b)``,
``spec.nodeName=n1``) and kept in a canonical order, so two spellings of one
query are the same query::

    PODS.where(labels="k8s-app=kube-dns").within("kube-system")
    NODES.where(labels="submariner.io/gateway=true").metadata()
    CONFIGMAPS_KUBE_SYSTEM.named("kubeadm-config")          # one object, by name
    PODS.where(labels="app=kindnet").metadata().first(1)     # an existence test: one page of one item
    PODS.within("ns").where(labels="app=agent").as_table()   # READY, STATUS, RESTARTS, NODE of each pod

``first(n)`` asks for the first ``n`` objects only (``limit=n``, one page, no
``continue``): an existence test, or a sample (one node, in the API's order, which is
by name), never a way to read a whole list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mcdiag.gather.table import TABLE_ACCEPT, is_row, row_of

#: The ``Accept`` header of a metadata-only list (kube-apiserver answers ``PartialObjectMetadataList``).
METADATA_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
#: apiVersion and kind of each item of a metadata-only list.
PARTIAL_API_VERSION = "meta.k8s.io/v1"
PARTIAL_KIND = "PartialObjectMetadata"

# -- selectors -------------------------------------------------------------------------------
# One label requirement: (key, operator, values), operator one of "=", "!=", "in", "notin", "exists", "!".
LabelReq = tuple[str, str, tuple[str, ...]]
# One field requirement: (path, operator, value), operator "=" or "!=".
FieldReq = tuple[str, str, str]

_LABEL_TERM = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<nkey>[^\s,=!()<>]+)                                   # !key
      | (?P<skey>[^\s,=!()<>]+)\s+(?P<setop>in|notin)\s*\((?P<set>[^()]*)\)    # key in (a,b)
      | (?P<key>[^\s,=!()<>]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,=!()<>]*)      # key=value
      | (?P<ekey>[^\s,=!()<>]+)                                                # key
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def parse_labels(text: str | Mapping[str, str] | None) -> tuple[LabelReq, ...]:
    """Label requirements of a selector string (or a ``{key: value}`` mapping), sorted; ValueError if malformed."""
    if not text:
        return ()
    if isinstance(text, Mapping):
        return tuple(sorted((str(k), "=", (str(v),)) for k, v in text.items()))
    reqs: list[LabelReq] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _LABEL_TERM.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"invalid label selector {text!r} at {text[pos:]!r}")
        pos = m.end()
        if m.group("nkey"):
            reqs.append((m.group("nkey"), "!", ()))
        elif m.group("skey"):
            values = tuple(sorted({v.strip() for v in m.group("set").split(",") if v.strip()}))
            reqs.append((m.group("skey"), m.group("setop"), values))
        elif m.group("key"):
            reqs.append((m.group("key"), "!=" if m.group("op") == "!=" else "=", (m.group("value"),)))
        else:
            reqs.append((m.group("ekey"), "exists", ()))
    return tuple(sorted(set(reqs)))


def format_labels(reqs: tuple[LabelReq, ...]) -> str:
    """The selector string of label requirements (as the API server parses it)."""
    out = []
    for key, op, values in reqs:
        if op == "exists":
            out.append(key)
        elif op == "!":
            out.append(f"!{key}")
        elif op in ("in", "notin"):
            out.append(f"{key} {op} ({','.join(values)})")
        else:
            out.append(f"{key}{op}{values[0]}")
    return ",".join(out)


def parse_fields(text: str | Mapping[str, str] | None) -> tuple[FieldReq, ...]:
    """Field requirements of a field selector string (or a ``{path: value}`` mapping), sorted."""
    if not text:
        return ()
    if isinstance(text, Mapping):
        return tuple(sorted((str(k), "=", str(v)) for k, v in text.items()))
    reqs: list[FieldReq] = []
    for term in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-/]+)\s*(==|=|!=)\s*([^\s=!,]*)\s*", term)
        if not m:
            raise ValueError(f"invalid field selector {text!r} at {term!r}")
        reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return tuple(sorted(set(reqs)))


def format_fields(reqs: tuple[FieldReq, ...]) -> str:
    """The field selector string of field requirements."""
    return ",".join(f"{path}{op}{value}" for path, op, value in reqs)


@functools.lru_cache(maxsize=1024)
def _labels_of(text: str) -> tuple[LabelReq, ...]:
    return parse_labels(text)


@functools.lru_cache(maxsize=1024)
def _fields_of(text: str) -> tuple[FieldReq, ...]:
    return parse_fields(text)


def _label_ok(req: LabelReq, labels: Mapping[str, Any]) -> bool:
    key, op, values = req
    present = key in labels
    if op == "exists":
        return present
    if op == "!":
        return not present
    if op in ("=", "in"):
        return present and labels[key] in values
    return not present or labels[key] not in values  # "!=", "notin"


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as a field selector compares it (``""`` when absent)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur) if isinstance(cur, (str, int, float)) else ""


# -- queries ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    """One list query: objects of one kind, optionally in one namespace, selected, metadata only.

    The first five fields are what a resource always was (``Resource(group, version,
    plural, namespace, custom)`` still builds the plain list of every object).
    """

    group: str
    version: str
    plural: str
    namespace: str | None = None
    #: Served by a CRD (or an aggregated API): when its group/version is not served, checks skip.
    custom: bool = False
    #: Label selector (canonical order; ``""`` selects every object).
    labels: str = ""
    #: Field selector (canonical order; ``""`` selects every object).
    fields: str = ""
    #: Only ``metadata`` of each object (``PartialObjectMetadata`` items).
    metadata_only: bool = False
    #: At most this many objects, the first ones in the API's order (one page); 0 for every object.
    limit: int = 0
    #: The ``Table`` form: one row of kubectl's columns per object (:mod:`mcdiag.gather.table`), not the objects.
    table: bool = False

    def __post_init__(self) -> None:
        # One spelling per query, so that equal queries merge (``b=2,a=1`` is ``a=1,b=2``).
        if self.labels:
            lab = self.labels
            object.__setattr__(self, "labels", format_labels(_labels_of(lab) if isinstance(lab, str) else parse_labels(lab)))
        if self.fields:
            fld = self.fields
            object.__setattr__(self, "fields", format_fields(_fields_of(fld) if isinstance(fld, str) else parse_fields(fld)))

    # -- building narrower queries ---------------------------------------------------------
    def within(self, namespace: str | None) -> Resource:
        """The same query in one namespace."""
        return replace(self, namespace=namespace)

    def where(self, labels: str | Mapping[str, str] | None = None, fields: str | Mapping[str, str] | None = None) -> Resource:
        """The same query, further selected by labels and/or fields (requirements add up)."""
        lab = parse_labels(self.labels) + parse_labels(labels)
        fld = parse_fields(self.fields) + parse_fields(fields)
        return replace(self, labels=format_labels(tuple(sorted(set(lab)))), fields=format_fields(tuple(sorted(set(fld)))))

    def metadata(self) -> Resource:
        """The same query, metadata only (names, labels, annotations, owners)."""
        return replace(self, metadata_only=True, table=False)

    def as_table(self) -> Resource:
        """The same query in the ``Table`` form: a row record of kubectl's columns per object (READY, STATUS...).

        A few hundred bytes per object where a whole pod is several kB; judge what the columns
        say (:mod:`mcdiag.gather.table`). Served from whole objects where the view holds them.
        """
        return replace(self, table=True, metadata_only=False)

    def named(self, name: str) -> Resource:
        """The same query, selecting the object called ``name`` (``metadata.name``, which every kind serves)."""
        return self.where(fields={"metadata.name": name})

    def first(self, n: int) -> Resource:
        """The same query, answering only the first ``n`` objects (``limit=n``, one request)."""
        if n < 1:
            raise ValueError(f"first({n}): a limited query asks for at least one object")
        return replace(self, limit=int(n))

    @property
    def kind_list(self) -> Resource:
        """The plain list this query narrows (every object of the kind, cluster-wide, whole objects)."""
        return Resource(self.group, self.version, self.plural, None, self.custom)

    @property
    def narrowed(self) -> bool:
        """Whether the query is anything but every whole object of its kind."""
        return bool(self.namespace or self.labels or self.fields or self.metadata_only or self.limit or self.table)

    # -- names -------------------------------------------------------------------------------
    @property
    def kind_name(self) -> str:
        """The kind of the objects, for messages (``Namespace``; the plural for kinds not in :data:`KINDS`)."""
        return KINDS.get(self.plural, self.plural)

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """A stable name (also the snapshot file name).

        ``apps/v1/daemonsets@kube-system`` for a plain list, then ``;l=SELECTOR``,
        ``;f=SELECTOR``, ``;meta``, ``;table`` and ``;n=LIMIT`` for what narrows it (:func:`from_key` reads it back).
        """
        base = f"{self.group_version}/{self.plural}"
        key = f"{base}@{self.namespace}" if self.namespace else base
        if self.labels:
            key += f";l={self.labels}"
        if self.fields:
            key += f";f={self.fields}"
        key += ";meta" if self.metadata_only else ""
        key += ";table" if self.table else ""
        return key + (f";n={self.limit}" if self.limit else "")

    @property
    def display(self) -> str:
        """``daemonsets.apps in namespace kube-system`` for messages (with selectors when any)."""
        name = f"{self.plural}.{self.group}" if self.group else self.plural
        if self.limit:
            name = f"the first {self.limit} {name}" if self.limit > 1 else f"one of the {name}"
        if self.metadata_only:
            name = f"metadata of {name}"
        if self.table:
            name = f"rows (kubectl's columns) of {name}"
        if self.namespace:
            name += f" in namespace {self.namespace}"
        selected = [s for s in (self.labels, self.fields) if s]
        return f"{name} selected by {','.join(selected)}" if selected else name

    def path(self) -> str:
        """The list URL path."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespace:
            return f"{prefix}/namespaces/{self.namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def params(self) -> dict[str, str]:
        """Query parameters of the list request (besides paging; a source sends ``limit`` itself)."""
        out = {}
        if self.labels:
            out["labelSelector"] = self.labels
        if self.fields:
            out["fieldSelector"] = self.fields
        return out

    @property
    def accept(self) -> str:
        """The ``Accept`` header of the list request (metadata only and tables fall back to whole objects)."""
        if self.table:
            return TABLE_ACCEPT
        return f"{METADATA_ACCEPT},application/json" if self.metadata_only else "application/json"

    def rbac(self, verb: str = "list") -> str:
        """The permission a 403 means is missing, as ``kubectl auth can-i`` spells it."""
        res = f"{self.plural}.{self.group}" if self.group else self.plural
        where = f" -n {self.namespace}" if self.namespace else " --all-namespaces"
        return f"{verb} {res}{where}"

    # -- serving a query from another one ----------------------------------------------------
    def covers(self, other: Resource) -> bool:
        """Whether ``other``'s answer can be cut out of this query's answer.

        True when both list the same kind, this one in no namespace or the same, with
        fewer (or the same) selector requirements, and whole objects or ``other`` wants
        metadata only (and selects on nothing but metadata then). A limited query covers
        only the same query with the same or a smaller limit (its first ``n`` objects are
        not those of a narrower selection); an unlimited one covers limited ones.

        Tables: a whole-object query covers the table form of every query it covers (the
        rows are printed from the objects); a table query covers only the same table query
        (with the same or a smaller limit), never whole objects (rows carry no labels to cut by).
        """
        if (self.group, self.version, self.plural) != (other.group, other.version, other.plural):
            return False
        if self.table:
            if not other.table or (self.namespace, self.labels, self.fields) != (other.namespace, other.labels, other.fields):
                return False
            return not self.limit or bool(other.limit and other.limit <= self.limit)
        if other.table:
            return not self.metadata_only and self.covers(replace(other, table=False))
        if self.limit:
            return bool(other.limit and other.limit <= self.limit and self.namespace == other.namespace
                        and self.labels == other.labels and self.fields == other.fields
                        and (other.metadata_only or not self.metadata_only))
        if self.namespace is not None and self.namespace != other.namespace:
            return False
        if self.metadata_only and not other.metadata_only:
            return False
        mine_l, theirs_l = set(_labels_of(self.labels)), set(_labels_of(other.labels))
        mine_f, theirs_f = set(_fields_of(self.fields)), set(_fields_of(other.fields))
        if not (mine_l <= theirs_l and mine_f <= theirs_f):
            return False
        if self.metadata_only and any(not path.startswith("metadata.") for path, _, _ in theirs_f - mine_f):
            return False  # a spec/status field cannot be judged on metadata
        return True

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` belongs to this query's answer (namespace, labels, fields)."""
        meta = obj.get("metadata") or {}
        if is_row(obj):  # the server selected it; a row tells its namespace (when it has one) and name only
            if self.namespace is not None and meta.get("namespace") not in (None, self.namespace):
                return False
            return all((meta.get("name") == value) == (op == "=") for path, op, value in _fields_of(self.fields)
                       if path == "metadata.name")
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.labels:
            labels = meta.get("labels") or {}
            if not all(_label_ok(r, labels) for r in _labels_of(self.labels)):
                return False
        if self.fields:
            partial = obj.get("kind") == PARTIAL_KIND
            for path, op, value in _fields_of(self.fields):
                if partial and not path.startswith("metadata."):
                    continue  # the server judged it on the whole object; metadata cannot tell
                if (field_value(obj, path) == value) != (op == "="):
                    return False
        return True

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as this query answers it: a ``PartialObjectMetadata`` when metadata only, a row record
        (:func:`mcdiag.gather.table.row_of`) in the table form, else itself.
        """
        if self.table:
            return row_of(obj)
        if not self.metadata_only or obj.get("kind") == PARTIAL_KIND:
            return obj
        return {"apiVersion": PARTIAL_API_VERSION, "kind": PARTIAL_KIND, "metadata": obj.get("metadata") or {}}

    def cut(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The answer of this query, cut out of a broader query's ``items`` (shared objects, no copies)."""
        if not (self.namespace or self.labels or self.fields):
            out = [self.shape(o) for o in items] if (self.metadata_only or self.table) else list(items)
        else:
            out = [self.shape(o) for o in items if self.matches(o)]
        return out[: self.limit] if self.limit else out


def broadest(queries: set[Resource] | list[Resource]) -> tuple[list[Resource], list[Resource]]:
    """Split ``queries`` into those that must go to the API and those one of them covers.

    Returns ``(roots, served)``, each sorted by key: every query of ``served`` is
    covered by some query of ``roots``.
    """
    todo = sorted(set(queries), key=lambda r: r.key)
    roots = [q for q in todo if not any(o is not q and o.covers(q) and not q.covers(o) for o in todo)]
    rootset = set(roots)
    return roots, [q for q in todo if q not in rootset]


#: Kind names of the plurals mcdiag reads whose answers may not say it (metadata-only lists).
KINDS = {
    "nodes": "Node", "pods": "Pod", "services": "Service", "namespaces": "Namespace", "configmaps": "ConfigMap",
    "daemonsets": "DaemonSet", "deployments": "Deployment", "customresourcedefinitions": "CustomResourceDefinition",
}
#: API groups of the built-in kinds mcdiag reads (anything else is a custom resource).
BUILTIN_GROUPS = frozenset({"", "apps", "apiextensions.k8s.io"})


def from_key(key: str) -> Resource:
    """The query a :attr:`Resource.key` names (``v1/pods@kube-system;l=app=x;meta;n=1``, ``...;table``); ValueError if malformed.

    Whether it is a custom resource is not in the key: anything outside the built-in groups is.
    """
    head, *parts = key.split(";")
    path, _, namespace = head.partition("@")
    bits = path.split("/")
    if len(bits) == 2:
        group, (version, plural) = "", bits
    elif len(bits) == 3:
        group, version, plural = bits
    else:
        raise ValueError(f"not a query key: {key!r}")
    labels = fields = ""
    metadata_only, limit, table = False, 0, False
    for part in parts:
        if part.startswith("l="):
            labels = part[2:]
        elif part.startswith("f="):
            fields = part[2:]
        elif part == "meta":
            metadata_only = True
        elif part == "table":
            table = True
        elif part.startswith("n=") and part[2:].isdigit():
            limit = int(part[2:])
        else:
            raise ValueError(f"not a query key: {key!r} (at {part!r})")
    if not (version and plural):
        raise ValueError(f"not a query key: {key!r}")
    return Resource(group, version, plural, namespace or None, group not in BUILTIN_GROUPS, labels, fields, metadata_only, limit,
                    table)


def core(plural: str, namespace: str | None = None) -> Resource:
    """A core/v1 resource."""
    return Resource("", "v1", plural, namespace)


def apps(plural: str, namespace: str | None = None) -> Resource:
    """An apps/v1 resource."""
    return Resource("apps", "v1", plural, namespace)


def crd(group: str, version: str, plural: str, namespace: str | None = None) -> Resource:
    """A custom resource (served only when its CRD is installed)."""
    return Resource(group, version, plural, namespace, custom=True)


NODES = core("nodes")
PODS = core("pods")
SERVICES = core("services")
NAMESPACES = core("namespaces")
CONFIGMAPS_KUBE_SYSTEM = core("configmaps", "kube-system")
DAEMONSETS = apps("daemonsets")
DEPLOYMENTS = apps("deployments")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SERVICECIDRS = crd("networking.k8s.io", "v1", "servicecidrs")

SUBMARINERS = crd("submariner.io", "v1alpha1", "submariners")
SERVICEDISCOVERIES = crd("submariner.io", "v1alpha1", "servicediscoveries")
SUBMARINER_CLUSTERS = crd("submariner.io", "v1", "clusters")
SUBMARINER_ENDPOINTS = crd("submariner.io", "v1", "endpoints")
SUBMARINER_GATEWAYS = crd("submariner.io", "v1", "gateways")
SUBMARINER_ROUTEAGENTS = crd("submariner.io", "v1", "routeagents")
CLUSTER_GLOBAL_EGRESS_IPS = crd("submariner.io", "v1", "clusterglobalegressips")
GLOBAL_INGRESS_IPS = crd("submariner.io", "v1", "globalingressips")
SERVICE_EXPORTS = crd("multicluster.x-k8s.io", "v1alpha1", "serviceexports")
SERVICE_IMPORTS = crd("multicluster.x-k8s.io", "v1alpha1", "serviceimports")
OPENSHIFT_NETWORKS = crd("config.openshift.io", "v1", "networks")
CALICO_IPPOOLS = crd("projectcalico.org", "v3", "ippools")
CALICO_CRD_IPPOOLS = crd("crd.projectcalico.org", "v1", "ippools")
