"""DNS: Corefiles and their server blocks, the configuration the DNS pods really load, and the DNS services.

What counts is what the cluster DNS pods load, not what a ConfigMap happens to
hold. :func:`cluster_dns_config` follows the cluster DNS Service (``kube-dns``,
or RKE2's ``rke2-coredns-rke2-coredns`` labelled ``k8s-app=kube-dns``) to the
workloads whose pods it selects, then the CoreDNS container's ``-conf`` file to
the ConfigMap volume and key mounted there, then the Corefile's top-level
``import`` lines to the files other ConfigMap volumes mount (k3s's optional
``coredns-custom`` at ``/etc/coredns/custom``, whose ``*.server`` keys are
imported). OpenShift's CoreDNS is configured through the DNS operator
(``dns.operator.openshift.io/default``, ``spec.servers`` with ``forwardPlugin``).
Server blocks found in DNS ConfigMaps or keys the pods never load are kept
apart (:attr:`DnsConfig.unloaded`), so a check can say why they do not count.
:func:`nodelocal_dns_config` does the same for NodeLocal DNSCache.

Only ConfigMaps in ``kube-system`` are read (one namespace-scoped list); a DNS
workload elsewhere is reported as not verifiable.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
from dataclasses import dataclass, field
from typing import Any

from mcdiag.errors import ResourceUnavailable
from mcdiag.facts.objects import container_args, flag_value, labels, meta, pod_spec, qualname
from mcdiag.facts.submariner import submariner_cr
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

#: The OpenShift DNS operator's configuration (cluster-scoped; ``default`` is the cluster DNS).
OPENSHIFT_DNSES = R.crd("operator.openshift.io", "v1", "dnses")
OPENSHIFT_DNS_DEFAULT = OPENSHIFT_DNSES.named("default")
#: The namespace whose ConfigMaps mcdiag reads.
CONFIGMAP_NAMESPACE = "kube-system"
#: kube-system's Services (a few): ``kube-dns``, or RKE2's ``rke2-coredns-rke2-coredns`` labelled ``k8s-app=kube-dns``.
KUBE_SYSTEM_SERVICES = R.SERVICES.within("kube-system")
#: The cluster DNS Service elsewhere (asked only when kube-system has none), and OpenShift's.
KUBE_DNS_SERVICES = R.SERVICES.where(labels="k8s-app=kube-dns")
OPENSHIFT_DNS_SERVICE = R.SERVICES.within("openshift-dns").named("dns-default")
#: The Deployments of the cluster DNS Service's namespace (kube-system; another namespace is read when the Service is there).
DNS_DEPLOYMENTS = R.DEPLOYMENTS.within("kube-system")
#: What :func:`cluster_dns` reads: kube-system's Services, then (only when needed) the others.
CLUSTER_DNS_READS = (KUBE_SYSTEM_SERVICES,)
CLUSTER_DNS_READS_IF_NEEDED = (KUBE_DNS_SERVICES, OPENSHIFT_DNS_SERVICE)
#: What the DNS facts read: kube-system's ConfigMaps and Services, the DaemonSets (few, whatever the cluster's
#: size), kube-system's Deployments, the Submariner CR and OpenShift's DNS operator configuration.
DNS_READS = (R.CONFIGMAPS_KUBE_SYSTEM, KUBE_SYSTEM_SERVICES, R.SUBMARINERS, DNS_DEPLOYMENTS, R.DAEMONSETS,
             OPENSHIFT_DNS_DEFAULT)
#: ... and when needed: the DNS Service outside kube-system, and the Deployments of its namespace.
DNS_READS_IF_NEEDED = (*CLUSTER_DNS_READS_IF_NEEDED, R.DEPLOYMENTS)
#: ConfigMaps that hold CoreDNS configuration by convention (kubeadm, k3s, RKE2, AKS), besides those mounted.
CONVENTIONAL_CONFIGMAPS = ("coredns", "coredns-custom", "rke2-coredns-rke2-coredns")
NODELOCAL_NAMES = ("nodelocaldns", "node-local-dns")
DEFAULT_COREFILE = "/etc/coredns/Corefile"
#: node-cache renders ``-conf`` from this template when it exists.
NODE_CACHE_BASE = "/etc/coredns/Corefile.base"


@dataclass
class ServerBlock:
    """One server block of a Corefile: its zones (``clusterset.local:53``), plugin lines and forward targets."""

    zones: list[str]
    lines: list[str]
    forwards: list[str]
    source: str = ""

    def serves(self, zone: str) -> bool:
        """Whether the block answers for ``zone`` on port 53 (``zone``, ``zone:53``, ``dns://zone:53``)."""
        want = zone.rstrip(".").lower()
        for key in self.zones:
            key = key.lower().split("://", 1)[-1]
            name, _, port = key.partition(":")
            if name.rstrip(".") == want and port in ("", "53"):
                return True
        return False


def corefile_blocks(text: str, source: str = "") -> list[ServerBlock]:
    """Parse a Corefile into its top-level server blocks (comments stripped, nested blocks kept as lines)."""
    return _parse(text, source)[0]


def corefile_imports(text: str) -> list[str]:
    """The top-level ``import PATTERN`` lines of a Corefile (files holding more server blocks)."""
    return _parse(text, "")[1]


def _parse(text: str, source: str) -> tuple[list[ServerBlock], list[str]]:
    blocks: list[ServerBlock] = []
    imports: list[str] = []
    depth = 0
    zones: list[str] = []
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if depth == 0:
            if "{" not in line:
                words = line.split()
                if words[0] == "import" and len(words) >= 2 and not pending:
                    imports.extend(words[1:])
                    continue
                # A key list continued on the next line ends with a comma; anything else here is not a server block.
                pending = f"{pending} {line}".strip() if line.endswith(",") else ""
                continue
            pending = f"{pending} {line}".strip()
            head, _, rest = pending.partition("{")
            zones = [z for z in head.replace(",", " ").split() if z]
            lines, pending, depth = [], "", 1
            line = rest.strip()
            if not line:
                continue
        opens, closes = line.count("{"), line.count("}")
        if depth + opens - closes <= 0:
            inner = line.rsplit("}", 1)[0].strip()
            if inner:
                lines.append(inner)
            blocks.append(ServerBlock(zones, lines, _forwards(lines), source))
            depth = 0
            continue
        depth += opens - closes
        lines.append(line)
    return blocks, imports


def _forwards(lines: list[str]) -> list[str]:
    targets: list[str] = []
    for line in lines:
        words = line.replace("{", " ").split()
        if words[:1] == ["forward"] and len(words) >= 3:
            for word in words[2:]:
                if word == "}":
                    break
                targets.append(word.split("://", 1)[-1])
    return targets


def _strip_port(target: str) -> str:
    if target.startswith("["):
        return target[1:].split("]", 1)[0]
    return target.rsplit(":", 1)[0] if target.count(":") == 1 else target


def forward_ips(block: ServerBlock) -> list[str]:
    """Return the IP addresses a block forwards to (ports stripped; names and files left out)."""
    out = []
    for target in block.forwards:
        host = _strip_port(target)
        try:
            out.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return out


def forward_targets(block: ServerBlock) -> list[tuple[str, int]]:
    """(IP, port) of each IP address the block forwards to (port 53 unless given)."""
    out = []
    for target in block.forwards:
        host, port = _strip_port(target), 53
        if not target.startswith("[") and target.count(":") == 1:
            try:
                port = int(target.rsplit(":", 1)[1])
            except ValueError:
                continue
        elif target.startswith("[") and "]:" in target:
            try:
                port = int(target.rsplit("]:", 1)[1])
            except ValueError:
                continue
        try:
            out.append((str(ipaddress.ip_address(host)), port))
        except ValueError:
            continue
    return out


# ---------------------------------------------------------------------------------------------
# What the DNS pods load
# ---------------------------------------------------------------------------------------------
@dataclass
class DnsConfig:
    """The configuration a cluster's DNS pods load, and how that was worked out."""

    #: ``CoreDNS (Deployment kube-system/coredns)``, ``OpenShift DNS operator``, ``NodeLocal DNSCache (...)``.
    server: str
    #: Server blocks the pods load.
    blocks: list[ServerBlock] = field(default_factory=list)
    #: Server blocks of DNS ConfigMaps (or keys) the pods never load: they do not count.
    unloaded: list[ServerBlock] = field(default_factory=list)
    #: What the pods load: ``ConfigMap kube-system/coredns (Corefile)`` ...
    loaded: list[str] = field(default_factory=list)
    #: The ConfigMaps read (``namespace/name``).
    read: list[str] = field(default_factory=list)
    #: How the loaded configuration was found, in one sentence.
    how: str = ""
    #: Why the loaded configuration cannot be verified (outside kube-system, not from a ConfigMap ...).
    problem: str | None = None
    #: No DNS workload was found: ``kube-system/coredns`` (kubeadm and k3s's convention) was assumed.
    assumed: bool = False
    #: Where a fix goes, for hints: ``ConfigMap kube-system/coredns`` or ``the DNS operator (oc edit dns.operator/default)``.
    where: str = "ConfigMap kube-system/coredns"
    #: OpenShift: servers are added to the DNS operator, not to a Corefile.
    operator: bool = False

    def serving(self, zone: str) -> ServerBlock | None:
        """The loaded block that serves ``zone`` (the first; CoreDNS refuses duplicates)."""
        return next((b for b in self.blocks if b.serves(zone)), None)

    def unloaded_serving(self, zone: str) -> list[ServerBlock]:
        """Blocks for ``zone`` in ConfigMaps or keys the pods never load."""
        return [b for b in self.unloaded if b.serves(zone)]

    def summary(self) -> dict[str, Any]:
        """Plain data for a result's details."""
        return {"dns_server": self.server, "loaded": list(self.loaded), "configmaps": list(self.read), "how": self.how,
                "zones": [z for b in self.blocks for z in b.zones],
                "not_loaded": [f"{', '.join(b.zones)} in {b.source}" for b in self.unloaded], "assumed": self.assumed}


@dataclass
class _File:
    """A file a ConfigMap volume puts into a container."""

    path: str
    configmap: str  # namespace/name
    key: str
    text: str | None  # None when the ConfigMap cannot be read (outside kube-system)

    @property
    def source(self) -> str:
        return f"ConfigMap {self.configmap} ({self.key})"


def _configmap(view: ClusterView, namespace: str, name: str) -> dict[str, Any] | None:
    if namespace != CONFIGMAP_NAMESPACE:
        return None
    return view.find(R.CONFIGMAPS_KUBE_SYSTEM, name, namespace)


def _volume_configmaps(volume: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``configMap`` sources of a volume (a plain ConfigMap volume, or a projected one)."""
    if volume.get("configMap"):
        return [volume["configMap"]]
    return [s["configMap"] for s in (volume.get("projected") or {}).get("sources") or [] if s.get("configMap")]


def _container_files(view: ClusterView, namespace: str, spec: dict[str, Any], container: dict[str, Any],
                     unreadable: list[str]) -> list[_File]:
    """Every file that a ConfigMap volume mounts into ``container``."""
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    files: list[_File] = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        base = str(mount.get("mountPath") or "").rstrip("/") or "/"
        for source in _volume_configmaps(volume):
            name = source.get("name")
            if not name:
                continue
            qual = f"{namespace}/{name}"
            cm = _configmap(view, namespace, name)
            if namespace != CONFIGMAP_NAMESPACE and qual not in unreadable:
                unreadable.append(qual)
            data = (cm or {}).get("data") or {}
            items = source.get("items")
            mapping = {str(i.get("path")): str(i.get("key")) for i in items if i.get("path") and i.get("key")} if items else {k: k for k in data}
            if mount.get("subPath"):
                key = mapping.get(str(mount["subPath"]))
                if key is not None:
                    files.append(_File(base, qual, key, data.get(key) if cm is not None else None))
                continue
            for rel, key in mapping.items():
                files.append(_File(posixpath.normpath(posixpath.join(base, rel)), qual, key,
                                   (None if cm is None else data.get(key))))
    return files


def _dns_container(spec: dict[str, Any]) -> dict[str, Any] | None:
    containers = spec.get("containers") or []
    for c in containers:
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        if "-conf" in words or "-basecorefile" in words or any(w.startswith(("-conf=", "-basecorefile=")) for w in words):
            return c
    for c in containers:
        if any(k in str(c.get("image") or "") for k in ("coredns", "node-cache")):
            return c
    return containers[0] if containers else None


def _load(files: list[_File], path: str) -> _File | None:
    path = posixpath.normpath(path)
    return next((f for f in files if f.path == path), None)


def _glob(files: list[_File], pattern: str) -> list[_File]:
    """Files matching a CoreDNS import pattern (``*`` does not cross ``/``)."""
    folder, name = posixpath.split(posixpath.normpath(pattern))
    return sorted((f for f in files if posixpath.dirname(f.path) == folder and fnmatch.fnmatchcase(posixpath.basename(f.path), name)),
                  key=lambda f: f.path)


@dataclass
class _Loaded:
    blocks: list[ServerBlock] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)
    how: str = ""
    problem: str | None = None


def _follow(files: list[_File], candidates: list[str], what: str) -> _Loaded:
    """Load the first candidate config file from the ConfigMap files, then its imports (bounded depth)."""
    out = _Loaded()
    first = next((f for f in (_load(files, c) for c in candidates) if f is not None), None)
    if first is None:
        mounted = sorted({f.configmap for f in files})
        where = f" (its ConfigMap volumes: {', '.join(mounted)})" if mounted else " (it mounts no ConfigMap)"
        out.problem = f"{what} loads {candidates[-1]}, which no ConfigMap volume provides{where}"
        return out
    out.how = f"{what} loads {first.path} from {first.source}"
    todo = [(first, 0)]
    seen: set[str] = set()
    while todo:
        file, depth = todo.pop(0)
        if file.path in seen:
            continue
        seen.add(file.path)
        if file.text is None:
            out.problem = f"{what} loads {file.path} from ConfigMap {file.configmap}, outside {CONFIGMAP_NAMESPACE} (mcdiag reads ConfigMaps there only)"
            continue
        out.sources.append(file.source)
        out.keys.add((file.configmap, file.key))
        blocks, imports = _parse(file.text, file.source)
        out.blocks.extend(blocks)
        if depth >= 3:
            continue
        for pattern in imports:
            absolute = pattern if pattern.startswith("/") else posixpath.join(posixpath.dirname(file.path), pattern)
            for found in _glob(files, absolute):
                todo.append((found, depth + 1))
    return out


def _unloaded(view: ClusterView, names: list[str], loaded: set[tuple[str, str]], read: list[str]) -> list[ServerBlock]:
    """Server blocks in the keys of these kube-system ConfigMaps that the pods do not load."""
    out: list[ServerBlock] = []
    for name in dict.fromkeys(names):
        cm = _configmap(view, CONFIGMAP_NAMESPACE, name)
        if cm is None:
            continue
        qual = qualname(cm)
        if qual not in read:
            read.append(qual)
        for key, text in sorted((cm.get("data") or {}).items()):
            if (qual, key) in loaded or not isinstance(text, str):
                continue
            out.extend(b for b in corefile_blocks(text, f"ConfigMap {qual} ({key})") if b.zones)
    return out


def dns_service(view: ClusterView) -> dict[str, Any] | None:
    """The cluster DNS Service: ``kube-system/kube-dns``, else one labelled ``k8s-app=kube-dns`` (RKE2), else OpenShift's."""
    kube_system = view.list(KUBE_SYSTEM_SERVICES)
    svc = next((s for s in kube_system if meta(s).get("name") == "kube-dns"), None)
    if svc is None:
        found = sorted((s for s in kube_system if labels(s).get("k8s-app") == "kube-dns"), key=qualname)
        found = found or sorted(view.list(KUBE_DNS_SERVICES), key=qualname)  # outside kube-system
        svc = found[0] if found else None
    if svc is None:
        svc = next(iter(view.list(OPENSHIFT_DNS_SERVICE)), None)
    return svc


def _selected_workloads(view: ClusterView, svc: dict[str, Any]) -> list[dict[str, Any]]:
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    ns = meta(svc).get("namespace")
    out = []
    for res in (R.DEPLOYMENTS.within(ns), R.DAEMONSETS):
        for w in view.optional(res) or []:
            tpl_labels = (((w.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            if meta(w).get("namespace") == ns and all(tpl_labels.get(k) == v for k, v in selector.items()):
                out.append(w)
    return sorted(out, key=lambda w: (w.get("kind") != "Deployment", qualname(w)))


def _openshift(view: ClusterView) -> DnsConfig | None:
    try:
        dnses = view.optional(OPENSHIFT_DNS_DEFAULT)
    except ResourceUnavailable:
        return None
    cr = next((d for d in dnses or [] if meta(d).get("name") == "default"), None)
    if cr is None:
        return None
    blocks = []
    for server in (cr.get("spec") or {}).get("servers") or []:
        upstreams = [str(u) for u in ((server.get("forwardPlugin") or {}).get("upstreams") or [])]
        zones = [str(z) for z in server.get("zones") or []]
        blocks.append(ServerBlock(zones, [f"forward . {' '.join(upstreams)}"] if upstreams else [], upstreams,
                                  f"DNS operator dns.operator.openshift.io/default server {server.get('name') or '?'}"))
    config = DnsConfig(
        "OpenShift DNS operator (dns.operator.openshift.io/default)", blocks, [], ["dns.operator.openshift.io/default spec.servers"], [],
        "OpenShift's CoreDNS is configured by the DNS operator: its spec.servers are the extra server blocks",
        where="the DNS operator (oc edit dns.operator/default, spec.servers)", operator=True,
    )
    config.unloaded = _unloaded(view, list(CONVENTIONAL_CONFIGMAPS), set(), config.read)
    return config


def _workload_config(view: ClusterView, workload: dict[str, Any], label: str, candidates_of) -> tuple[_Loaded, list[str], list[str]]:
    """(what it loads, ConfigMaps it mounts, unreadable ConfigMaps) for one DNS workload."""
    spec = pod_spec(workload)
    container = _dns_container(spec) or {}
    unreadable: list[str] = []
    files = _container_files(view, meta(workload).get("namespace") or "", spec, container, unreadable)
    loaded = _follow(files, candidates_of(container), label)
    return loaded, sorted({f.configmap for f in files}), unreadable


def _coredns_candidates(container: dict[str, Any]) -> list[str]:
    words = container_args({"spec": {"containers": [container]}})
    return [flag_value(words, "-conf") or DEFAULT_COREFILE]


def _node_cache_candidates(container: dict[str, Any]) -> list[str]:
    words = container_args({"spec": {"containers": [container]}})
    base = flag_value(words, "-basecorefile")
    conf = flag_value(words, "-conf") or DEFAULT_COREFILE
    if base:
        return [base, conf]
    return [NODE_CACHE_BASE, conf] if "node-cache" in str(container.get("image") or "") else [conf]


def _assumed(view: ClusterView, server: str, why: str, extra: list[str]) -> DnsConfig:
    """No DNS workload to follow: kube-system/coredns ``Corefile`` (+ coredns-custom ``*.server``), as kubeadm/k3s have it."""
    config = DnsConfig(server, assumed=True)
    loaded = set()
    sources = [("coredns", lambda d: ["Corefile"]), ("coredns-custom", lambda d: sorted(k for k in d if k.endswith(".server")))]
    sources += [(name, lambda d: sorted(d)) for name in extra if name not in ("coredns", "coredns-custom")]
    for name, keys in sources:
        cm = _configmap(view, CONFIGMAP_NAMESPACE, name)
        if cm is None:
            continue
        config.read.append(qualname(cm))
        data = cm.get("data") or {}
        for key in keys(data):
            if isinstance(data.get(key), str):
                config.blocks.extend(corefile_blocks(data[key], f"ConfigMap {qualname(cm)} ({key})"))
                config.loaded.append(f"ConfigMap {qualname(cm)} ({key})")
                loaded.add((qualname(cm), key))
    config.how = (f"{why}: assuming ConfigMap kube-system/coredns (Corefile, plus coredns-custom *.server) as kubeadm and k3s "
                  "deploy it" + (f", and {', '.join(extra)} (Submariner CR coreDNSCustomConfig)" if extra else ""))
    config.unloaded = _unloaded(view, [*CONVENTIONAL_CONFIGMAPS, *extra], loaded, config.read)
    return config


def _submariner_custom(view: ClusterView) -> list[str]:
    try:
        cr = submariner_cr(view)
    except ResourceUnavailable:
        return []
    custom = ((cr or {}).get("spec") or {}).get("coreDNSCustomConfig") or {}
    if custom.get("configMapName") and (custom.get("namespace") or CONFIGMAP_NAMESPACE) == CONFIGMAP_NAMESPACE:
        return [str(custom["configMapName"])]
    return []


def cluster_dns_config(view: ClusterView) -> DnsConfig:
    """What the cluster DNS pods load (call through ``view.fact``); see the module docstring."""
    openshift = _openshift(view)
    if openshift is not None:
        return openshift
    extra = _submariner_custom(view)
    svc = dns_service(view)
    if svc is None:
        return _assumed(view, "CoreDNS", "no cluster DNS Service (kube-system/kube-dns or k8s-app=kube-dns) found", extra)
    workloads = _selected_workloads(view, svc)
    if not workloads:
        return _assumed(view, "CoreDNS", f"no Deployment or DaemonSet behind Service {qualname(svc)}", extra)
    workload = workloads[0]
    label = f"{workload.get('kind')} {qualname(workload)}"
    loaded, mounted, unreadable = _workload_config(view, workload, label, _coredns_candidates)
    if not mounted and not unreadable:
        return _assumed(view, f"CoreDNS ({label})", f"{label} mounts no ConfigMap", extra)
    main = next((s for s in loaded.sources), None)
    config = DnsConfig(f"CoreDNS ({label})", loaded.blocks, [], loaded.sources, [], loaded.how, loaded.problem)
    if main:
        config.where = main.split(" (")[0]
    names = [m.split("/", 1)[1] for m in mounted if m.startswith(CONFIGMAP_NAMESPACE + "/")]
    config.read = [m for m in mounted if m.startswith(CONFIGMAP_NAMESPACE + "/")]
    config.unloaded = _unloaded(view, [*names, *CONVENTIONAL_CONFIGMAPS, *extra], loaded.keys, config.read)
    return config


def nodelocal_workloads(view: ClusterView) -> list[dict[str, Any]]:
    """The NodeLocal DNSCache DaemonSets (``node-local-dns`` / ``nodelocaldns`` by name or ``k8s-app`` label)."""
    return sorted((d for d in view.list(R.DAEMONSETS)
                   if meta(d).get("name") in NODELOCAL_NAMES or labels(d).get("k8s-app") in NODELOCAL_NAMES), key=qualname)


def nodelocal_dns_config(view: ClusterView) -> DnsConfig | None:
    """What NodeLocal DNSCache loads (``-basecorefile``, else node-cache's ``Corefile.base``, else ``-conf``), or ``None`` when absent."""
    daemonsets = nodelocal_workloads(view)
    cms = [c for c in (_configmap(view, CONFIGMAP_NAMESPACE, n) for n in NODELOCAL_NAMES) if c]
    if not daemonsets:
        if not cms:
            return None
        cm = cms[0]
        config = DnsConfig("NodeLocal DNSCache", read=[qualname(cm)], assumed=True, where=f"ConfigMap {qualname(cm)}")
        config.blocks = corefile_blocks(str((cm.get("data") or {}).get("Corefile") or ""), f"ConfigMap {qualname(cm)} (Corefile)")
        config.loaded = [f"ConfigMap {qualname(cm)} (Corefile)"]
        config.how = f"no NodeLocal DNSCache DaemonSet found: assuming ConfigMap {qualname(cm)} (Corefile)"
        return config
    ds = daemonsets[0]
    label = f"DaemonSet {qualname(ds)}"
    loaded, mounted, unreadable = _workload_config(view, ds, label, _node_cache_candidates)
    if not mounted and not unreadable:
        cm = cms[0] if cms else None
        config = DnsConfig(f"NodeLocal DNSCache ({label})", assumed=True, where=f"ConfigMap {qualname(cm) if cm else 'kube-system/nodelocaldns'}")
        if cm is not None:
            config.read = [qualname(cm)]
            config.blocks = corefile_blocks(str((cm.get("data") or {}).get("Corefile") or ""), f"ConfigMap {qualname(cm)} (Corefile)")
            config.loaded = [f"ConfigMap {qualname(cm)} (Corefile)"]
        config.how = f"{label} mounts no ConfigMap: assuming ConfigMap {qualname(cm) if cm else 'kube-system/nodelocaldns'} (Corefile)"
        return config
    config = DnsConfig(f"NodeLocal DNSCache ({label})", loaded.blocks, [], loaded.sources, [], loaded.how, loaded.problem)
    if loaded.sources:
        config.where = loaded.sources[0].split(" (")[0]
    names = [m.split("/", 1)[1] for m in mounted if m.startswith(CONFIGMAP_NAMESPACE + "/")]
    config.read = [m for m in mounted if m.startswith(CONFIGMAP_NAMESPACE + "/")]
    config.unloaded = _unloaded(view, [*names, *NODELOCAL_NAMES], loaded.keys, config.read)
    return config


def coredns_blocks(view: ClusterView) -> tuple[list[ServerBlock], list[str]]:
    """Every server block the cluster DNS pods load, and the ConfigMaps read (``kube-system`` only)."""
    config = view.fact(cluster_dns_config)
    return list(config.blocks), list(config.read)


def cluster_dns(view: ClusterView) -> tuple[str, int] | None:
    """The cluster DNS service (see :func:`dns_service`): (ClusterIP, UDP port)."""
    svc = dns_service(view)
    if svc is None:
        return None
    ip = (svc.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None":
        return None
    ports = (svc.get("spec") or {}).get("ports") or []
    udp = [p for p in ports if (p.get("protocol") or "TCP") == "UDP"]
    port = next((p.get("port") for p in udp if p.get("name") == "dns"), None) or next((p.get("port") for p in udp), None) or 53
    return str(ip), int(port)
