"""The network lab: :class:`Lab` builds, breaks, heals and removes it (state in ``DIR/state.json``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import faults as _faults
from . import netns
from . import pods as _pods
from .netns import LabError
from .topology import (
    DEFAULT_CLUSTERS,
    MAX_CLUSTERS,
    PROVIDERS,
    Cluster,
    Node,
    Topology,
    build_topology,
    pod_netns_re,
    scheme_namespaces,
)

__all__ = ["Lab", "LabError", "FAULTS", "PROVIDERS", "MAX_CLUSTERS", "build_topology"]

FAULTS = _faults.FAULTS
DEFAULT_DIR = "reports/lab"
STATE_VERSION = 1
HANDSHAKE_WAIT_S = 15


# Which lab directory the host's lab namespaces (fixed names) belong to: `down` of another
# directory leaves them alone while that lab's state exists.
OWNER_FILE = Path("/run/mcdiag-lab.owner")


def _write_owner(labdir: Path) -> None:
    tmp = OWNER_FILE.with_name(OWNER_FILE.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"dir": str(labdir), "pid": os.getpid(), "since": _now()}) + "\n")
    os.replace(tmp, OWNER_FILE)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Lab:
    """One lab, identified by its state directory."""

    def __init__(self, dir: str | os.PathLike = DEFAULT_DIR, provider: str | None = None,
                 log=None, clusters: int | None = None) -> None:
        self.dir = Path(dir).resolve()
        self._log = log or (lambda msg: None)
        st = self._load()
        self.provider = provider or st.get("provider") or "submariner"
        if self.provider not in PROVIDERS:
            raise LabError(f"unknown provider {self.provider!r} (choose {' or '.join(PROVIDERS)})")
        #: How many clusters: as asked, else the running lab's, else 2.
        self.clusters = clusters or st.get("clusters") or DEFAULT_CLUSTERS
        try:
            self.topology: Topology = build_topology(self.provider, self.clusters)
        except ValueError as exc:
            raise LabError(str(exc)) from None
        self.state: dict = st

    # ------------------------------------------------------------- paths
    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def logdir(self) -> Path:
        return self.dir / "logs"

    @property
    def rundir(self) -> Path:
        return self.dir / "run"

    def kubeconfig(self, cluster: str) -> Path:
        """Path of the kubeconfig of ``cluster``'s lab API server (``DIR/NAME.kubeconfig``)."""
        return self.dir / f"{self.topology.cluster(cluster).name}.kubeconfig"

    # ---------------------------------------------------------- topology
    @property
    def cluster_names(self) -> list[str]:
        return self.topology.cluster_names

    def cluster(self, name: str | None = None) -> Cluster:
        return self.topology.cluster(name)

    def peer(self, name: str) -> Cluster:
        """The other cluster of a two-cluster lab."""
        return self.topology.peer(name)

    def peers(self, name: str) -> tuple[Cluster, ...]:
        """Every other cluster."""
        return self.topology.peers(name)

    def node(self, cluster: str, role: str = "worker") -> Node:
        """Return a node of ``cluster`` by role (``gateway``/``worker``) or name."""
        c = self.cluster(cluster)
        return c.gateway if role in ("gateway", "gw") else c.worker if role in ("worker", "w1") else c.node(role)

    def node_netns(self, cluster: str, role: str = "worker") -> str:
        return self.node(cluster, role).netns

    def gateway_ip(self, cluster: str, public: bool = True) -> str:
        g = self.cluster(cluster).gateway
        return g.public_ip if public else g.lan_ip

    def pod_ip(self, cluster: str, role: str = "worker") -> str:
        return self.node(cluster, role).pod_ip

    def service_ip(self, cluster: str) -> str:
        """ClusterIP of nginx-test/nginx (port 8080)."""
        return self.cluster(cluster).nginx_ip

    def dns_ip(self, cluster: str) -> str:
        """ClusterIP of kube-system/kube-dns."""
        return self.cluster(cluster).dns_ip

    def exported_name(self, cluster: str) -> str:
        """Return the name by which the *other* cluster resolves ``cluster``'s nginx."""
        return self.cluster(cluster).exported_name()

    # ------------------------------------------------------------- state
    def _load(self) -> dict:
        try:
            return json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True))
        os.replace(tmp, self.state_file)

    @contextlib.contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                self.state = self._load() or self.state
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _record_process(self, key: str, pid: int, ns: str | None, argv0: str) -> None:
        self.state.setdefault("processes", {})[key] = {"pid": pid, "netns": ns, "cmd": argv0, "started": _now()}
        self._save()

    # ------------------------------------------------------------ checks
    @staticmethod
    def preflight() -> None:
        """Raise LabError when not root or a required binary is missing (names the Debian package)."""
        if os.geteuid() != 0:
            raise LabError("mcdiag lab needs root (it creates network namespaces); run it with sudo")
        missing = netns.missing_binaries()
        if missing:
            pk = sorted(set(missing.values()))
            raise LabError(f"missing {', '.join(sorted(missing))}: apt-get install {' '.join(pk)}")

    def running(self) -> bool:
        """Tell whether the state says up and every namespace and recorded process is alive."""
        st = self._load()
        if st.get("phase") != "up":
            return False
        if not all(netns.netns_exists(n) for n in st.get("namespaces", [])):
            return False
        faults_ = {(f["fault"], f["cluster"]) for f in st.get("faults", [])}
        for key, p in st.get("processes", {}).items():
            cl, _, role = key.partition(":")
            if role == "nginx" and ("stop-service", cl) in faults_:
                continue
            if not netns.pid_alive(p["pid"]):
                return False
        return True

    def leftovers(self) -> list[str]:
        """Lab-scheme namespaces present on the host."""
        present = set(netns.list_netns())
        rx = pod_netns_re()
        return [n for n in scheme_namespaces() if n in present] + sorted(n for n in present if rx.match(n))

    # ---------------------------------------------------------------- up
    def up(self) -> dict:
        """Build the lab (idempotent: a running lab is reported, not rebuilt). Returns :meth:`status`."""
        self.preflight()
        with self._locked():
            if self.running():
                running = self.state.get("clusters") or DEFAULT_CLUSTERS
                if self.state.get("provider") != self.provider or running != self.clusters:
                    raise LabError(f"a {self.state.get('provider')} lab of {running} clusters is already running in "
                                   f"{self.dir}; run `mcdiag lab down --dir {self.dir}` first")
                self._log(f"lab already running in {self.dir} (provider {self.provider})")
                st = self.status()
                st["already_running"] = True
                return st
            if self.state:
                self._log(f"removing the remains of an unfinished lab in {self.dir}")
                self._down_locked()
            others = self.leftovers()
            if others:
                owner = self.foreign_owner()
                raise LabError(f"lab namespaces already exist ({', '.join(others)}), " + (
                    f"they belong to the lab in {owner}; run `mcdiag lab down --dir {owner}`" if owner else
                    "probably a lab of another --dir; run `mcdiag lab down --dir THAT_DIR` (any --dir removes "
                    "them when their lab's state is gone)"))
            self.state = {"version": STATE_VERSION, "provider": self.provider, "clusters": self.clusters,
                          "dir": str(self.dir),
                          "phase": "starting", "started": _now(), "namespaces": [], "processes": {},
                          "faults": [], "warnings": [], "topology": self.topology.to_dict()}
            self._save()
            _write_owner(self.dir)
            try:
                self._build()
            except BaseException:
                self.state["phase"] = "failed"
                self._save()
                raise
            self.state["phase"] = "up"
            self._save()
            return self.status()

    def _build(self) -> None:
        topo = self.topology
        t0 = time.monotonic()
        for ns in topo.namespaces:
            self.state["namespaces"].append(ns)
            self._save()
            netns.add_netns(ns)
        netns.build_wan(topo)
        for c in topo.clusters:
            netns.build_lan(c)
            for n in c.nodes:
                netns.build_node(c, n)
            netns.build_gateway_services(c)
            netns.remote_routes(c, topo.peers(c.name))
        for ns, c in self._dns_namespaces():
            netns.write_resolv_conf(ns, netns.resolv_conf_text(c))
        self._log(f"namespaces and links up ({time.monotonic() - t0:.1f}s)")
        keys = {}
        for c in topo.clusters:
            keys[c.name] = netns.wg_genkey(self.dir / "keys", c.name)
            pid = netns.start_wireguard(c, self.logdir)
            self._record_process(f"{c.name}:wireguard-go", pid, c.gateway.netns, "wireguard-go")
        public = {name: pub for name, (_key, pub) in keys.items()}
        for c in topo.clusters:
            netns.configure_wireguard(c, topo.peers(c.name), keys[c.name][0], public, topo.keepalive_s)
        self.state["wireguard"] = {c.name: {"iface": c.wg_iface, "public_key": keys[c.name][1]} for c in topo.clusters}
        self._save()
        for c in topo.clusters:
            for role in netns.dns_roles(c):
                pid = netns.start_dnsmasq(c, topo.peers(c.name), role, self.rundir, self.logdir, forward=True)
                self._record_process(f"{c.name}:{role}", pid, c.gateway.netns, netns.dns_program(role))
            self._start_http(c)
        self._log(f"wireguard-go, dnsmasq, http servers started ({time.monotonic() - t0:.1f}s)")
        self._start_apiservers()
        deadline = time.monotonic() + HANDSHAKE_WAIT_S
        while time.monotonic() < deadline and not self._all_handshaken():
            time.sleep(0.2)
        if not self._all_handshaken():
            self.state["warnings"].append(f"not every WireGuard peer handshook within {HANDSHAKE_WAIT_S}s")
        self._log(f"lab up ({time.monotonic() - t0:.1f}s)")

    def _all_handshaken(self) -> bool:
        """Every gateway has handshaken with every peer (a peer is its public key in ``wg show``)."""
        return all(len(hs) == len(self.topology.peers(c.name)) and all(hs.values())
                   for c in self.topology.clusters for hs in [netns.wg_handshakes(c)])

    # ------------------------------------------------------- processes
    def _start_http(self, c: Cluster) -> None:
        pid = netns.start_http(c, self.dir / "www", self.logdir)
        self._record_process(f"{c.name}:nginx", pid, c.gateway.netns, "http.server")

    def _stop_process(self, key: str) -> None:
        p = self.state.get("processes", {}).get(key)
        if p:
            netns.kill_pid(p["pid"], expect=p.get("cmd"))

    def _restart_dns(self, c: Cluster, forward: bool) -> None:
        key = f"{c.name}:coredns"
        self._stop_process(key)
        pid = netns.start_dnsmasq(c, self.topology.peers(c.name), "coredns", self.rundir, self.logdir, forward)
        self._record_process(key, pid, c.gateway.netns, "dnsmasq")

    def _dns_namespaces(self) -> list[tuple[str, Cluster]]:
        """Node namespaces that get the cluster DNS as /etc/resolv.conf (hostNetwork pods, ClusterFirstWithHostNet)."""
        return [(n.netns, c) for c in self.topology.clusters for n in c.nodes]

    def _start_apiservers(self) -> None:
        """One ``python -m mcdiag.lab.apiserver`` per cluster (API emulator + kubelet), in the root namespace."""
        from .apiserver import paths

        pkgroot = str(Path(__file__).resolve().parents[2])
        env = {"PYTHONPATH": os.pathsep.join(p for p in (pkgroot, os.environ.get("PYTHONPATH")) if p)}
        started = []
        for c in self.topology.clusters:
            f = paths(self.dir, c.name)
            f["ready"].parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                f["ready"].unlink()
            pid = netns.spawn(None, [sys.executable, "-m", "mcdiag.lab.apiserver", "--dir", str(self.dir),
                                     "--cluster", c.name, "--provider", self.provider,
                                     "--clusters", str(self.clusters)], f["log"], env=env)
            self._record_process(f"{c.name}:apiserver", pid, None, "mcdiag.lab.apiserver")
            started.append((c, pid, f))
        for c, pid, f in started:
            try:
                netns.wait_for(lambda r=f["ready"], p=pid: r.exists() or not netns.pid_alive(p), 30,
                               f"API server of {c.name}")
            except LabError as e:
                self.state["warnings"].append(str(e))
                continue
            if not netns.pid_alive(pid) or not f["kubeconfig"].exists():
                self.state["warnings"].append(f"API server of {c.name} did not start; see {f['log']}")
            else:
                self.state.setdefault("kubeconfigs", {})[c.name] = str(f["kubeconfig"])
        self._save()

    def pods(self) -> dict[str, list[str]]:
        """Pod namespaces present now, per cluster (from the lab kubelets' records)."""
        out: dict[str, list[str]] = {}
        present = set(netns.list_netns())
        for c in self.topology.clusters:
            d = self.dir / "pods" / c.name
            names = sorted(f.name[len("netns-"):] for f in d.glob("netns-*")) if d.is_dir() else []
            out[c.name] = [n for n in names if n in present]
        return out

    # -------------------------------------------------------------- down
    def down(self) -> dict:
        """Stop every recorded process, delete the lab namespaces (recorded or matching the scheme), drop the state."""
        if os.geteuid() != 0:
            raise LabError("mcdiag lab needs root (it deletes network namespaces); run it with sudo")
        with self._locked():
            return self._down_locked()

    def _down_locked(self) -> dict:
        st = self.state or self._load()
        killed, removed = [], []
        for key, p in sorted(st.get("processes", {}).items()):
            if netns.kill_pid(p.get("pid", 0), expect=p.get("cmd")):
                killed.append(key)
        # Processes of this dir whose pid never made it into the state (SIGKILL right after spawn).
        for pid in netns.lab_pids(self.dir):
            if netns.kill_pid(pid):
                killed.append(f"pid {pid}")
        owner = self.foreign_owner()
        if owner:
            # The namespaces (fixed names, one lab per host) belong to a lab of another directory that
            # still has its state: never tear that down from here.
            self._remove_files()
            return {"killed": killed, "namespaces_removed": [], "owner": owner}
        scheme = scheme_namespaces()  # only ever the lab's own names, whatever the state file says
        names = list(dict.fromkeys([n for n in st.get("namespaces", []) if n in scheme] + scheme))
        # Pods first (recorded pids and namespaces, and whatever follows the pod naming scheme).
        pkilled, premoved = _pods.sweep(self.dir / "pods", [n for n in names if netns.netns_exists(n)])
        killed += pkilled
        removed += premoved
        for ns in reversed(names):
            if netns.netns_exists(ns):
                netns.del_netns(ns)
                removed.append(ns)
        rx = pod_netns_re()
        for name in netns.netns_etc_dirs():
            if name in scheme or rx.match(name):
                netns.remove_netns_etc(name)
        for topo in (build_topology(p, MAX_CLUSTERS) for p in PROVIDERS):
            for c in topo.clusters:
                if not netns.wg_socket_live(c.wg_iface):
                    with contextlib.suppress(OSError):
                        netns.wg_socket(c.wg_iface).unlink()
        self._remove_files()
        with contextlib.suppress(OSError):
            OWNER_FILE.unlink()
        return {"killed": killed, "namespaces_removed": removed}

    def _remove_files(self) -> None:
        names = build_topology(self.provider, MAX_CLUSTERS).cluster_names  # whatever number of clusters it had
        for f in [self.state_file, *(self.dir / f"{c}.kubeconfig" for c in names)]:
            with contextlib.suppress(OSError):
                f.unlink()
        for sub in ("run", "keys", "objects", "www", "pods"):
            d = self.dir / sub
            if d.is_dir():
                for f in sorted(d.rglob("*"), reverse=True):
                    with contextlib.suppress(OSError):
                        f.unlink() if not f.is_dir() else f.rmdir()
                with contextlib.suppress(OSError):
                    d.rmdir()
        self.state = {}

    def foreign_owner(self) -> str | None:
        """The directory of another lab that owns the host's lab namespaces (its state still exists), or None."""
        try:
            d = json.loads(OWNER_FILE.read_text()).get("dir")
        except (OSError, ValueError, AttributeError):
            return None
        if d and Path(d) != self.dir and (Path(d) / "state.json").exists():
            return str(d)
        return None

    # ------------------------------------------------------------ faults
    def break_(self, fault: str, cluster: str | None = None) -> dict:
        """Inject ``fault`` into ``cluster`` (default: the first cluster); returns the fault record."""
        if fault not in FAULTS:
            raise LabError(f"unknown fault {fault!r} (choose from {', '.join(FAULTS)})")
        c = self.cluster(cluster)
        with self._locked():
            if not self.running():
                raise LabError(f"no running lab in {self.dir}; run `mcdiag lab up --dir {self.dir}` first")
            for rec in self.state.get("faults", []):
                if rec["fault"] == fault and rec["cluster"] == c.name:
                    return rec
            rec = _faults.apply(self, fault, c)
            self.state.setdefault("faults", []).append(rec)
            self._save()
            return rec

    def heal(self) -> list[dict]:
        """Undo every recorded fault, newest first; returns the healed records."""
        with self._locked():
            healed = []
            for rec in reversed(list(self.state.get("faults", []))):
                _faults.heal(self, rec)
                self.state["faults"].remove(rec)
                self._save()
                healed.append(rec)
            return healed

    # ------------------------------------------------------------ status
    def status(self) -> dict:
        """Namespaces, processes, faults, WireGuard handshakes and kubeconfigs, as plain data."""
        st = self._load()
        present = set(netns.list_netns())
        out: dict = {
            "dir": str(self.dir),
            "provider": st.get("provider", self.provider),
            "clusters": st.get("clusters", self.clusters) if st else self.clusters,
            "phase": st.get("phase", "down"),
            "running": False,
            "namespaces": {n: n in present for n in st.get("namespaces", [])},
            "leftovers": [n for n in scheme_namespaces() if n in present and n not in st.get("namespaces", [])],
            "pods": self.pods() if st else {},
            "processes": {k: {**p, "alive": netns.pid_alive(p["pid"])} for k, p in st.get("processes", {}).items()},
            "stopped_by_fault": [f"{f['cluster']}:nginx" for f in st.get("faults", []) if f["fault"] == "stop-service"],
            "faults": st.get("faults", []),
            "warnings": st.get("warnings", []),
            "kubeconfigs": st.get("kubeconfigs", {}),
            "handshakes": {},
        }
        if st:
            out["running"] = self.running()
            now = time.time()
            for c in self.topology.clusters:
                if c.gateway.netns in present:
                    hs = netns.wg_handshakes(c)
                    out["handshakes"][c.name] = {
                        "iface": c.wg_iface,
                        "peers": {k: (round(now - v, 1) if v else None) for k, v in hs.items()},
                    }
        return out

    # -------------------------------------------------------------- exec
    def exec(self, node: str, argv: list[str], timeout: float = 30, check: bool = False,
             input: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` inside a lab namespace (node name like ``cluster-w1`` or namespace name)."""
        ns = node if node.startswith("mcdiag-") else self.topology.node(node).netns
        if ns not in self.topology.namespaces and not (pod_netns_re().match(ns) and netns.netns_exists(ns)):
            raise LabError(f"{ns} is not a namespace of this lab")
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                              timeout=timeout, check=check, input=input)
