"""Side effects of the lab: namespaces, links, addresses, routes, nft rules, processes.

Every command here names its network namespace explicitly (``ip -n NS``,
``ip netns exec NS``); nothing is ever created, changed or deleted in the root
namespace except the lab's own files and the processes it starts (API
emulators listen on 127.0.0.1 in the root namespace).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .topology import NGINX_BACKEND_PORT, Cluster, Node, Topology

WG_SOCKET_DIR = Path("/var/run/wireguard")

# binary -> Debian package that ships it
REQUIRED_BINARIES = {
    "ip": "iproute2",
    "bridge": "iproute2",
    "nft": "nftables",
    "dnsmasq": "dnsmasq-base",
    "wireguard-go": "wireguard-go",
    "wg": "wireguard-tools",
    "sysctl": "procps",
}

_children: dict[int, subprocess.Popen] = {}


class LabError(RuntimeError):
    """A lab operation failed; the message says which command and why."""


def missing_binaries() -> dict[str, str]:
    """Return the required binaries not on PATH (also /usr/sbin, /sbin), mapped to their Debian package."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return {b: pkg for b, pkg in REQUIRED_BINARIES.items() if shutil.which(b, path=path) is None}


def run(argv: list[str], *, check: bool = True, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command, capturing output; raise :class:`LabError` on failure when ``check``."""
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except FileNotFoundError as e:
        raise LabError(f"{argv[0]}: not found") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from e
    if check and cp.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {cp.returncode}: {(cp.stderr or cp.stdout).strip()}")
    return cp


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["ip", "-n", ns, *args], check=check)


def batch(ns: str, commands: list[str], *, force: bool = False) -> subprocess.CompletedProcess:
    """Several ``ip`` commands in namespace ``ns`` from one process (``ip -n NS -batch -``).

    With ``force`` the commands that fail (a link already gone) do not stop the others nor raise.
    """
    argv = ["ip", "-n", ns, *(["-force"] if force else []), "-batch", "-"]
    return run(argv, check=not force, input="".join(c + "\n" for c in commands))


def nsexec(ns: str, argv: list[str], *, check: bool = True, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    return run(["ip", "netns", "exec", ns, *argv], check=check, timeout=timeout, input=input)


def nft(ns: str, script: str) -> None:
    nsexec(ns, ["nft", "-f", "-"], input=script)


# ---------------------------------------------------------------- namespaces

def list_netns() -> list[str]:
    cp = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists() or name in list_netns()


def add_netns(name: str) -> None:
    if not name.startswith("mcdiag-"):
        raise LabError(f"refusing to create namespace {name!r}: lab namespaces start with mcdiag-")
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    ip(name, "link", "set", "lo", "up")
    run(["ip", "netns", "exec", name, "sysctl", "-qw",
         "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
         "net.ipv4.ip_forward=1"])


def netns_pids(name: str) -> list[int]:
    cp = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in cp.stdout.split() if p.isdigit()]


def del_netns(name: str) -> None:
    """Kill every process inside ``name`` and delete it (no-op when absent)."""
    if not name.startswith("mcdiag-"):
        raise LabError(f"refusing to delete namespace {name!r}")
    if not netns_exists(name):
        return
    pids = netns_pids(name)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            _signal(pid, sig)
        deadline = time.monotonic() + 3
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if pid_alive(p)]
            if pids:
                time.sleep(0.05)
        if not pids:
            break
    run(["ip", "netns", "del", name], check=False)


# ----------------------------------------------------------------- processes

def pid_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _reap(pid: int) -> None:
    p = _children.get(pid)
    if p is not None:
        if p.poll() is not None:
            _children.pop(pid, None)
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(ns: str | None, argv: list[str], log: Path, env: dict | None = None) -> int:
    """Start ``argv`` detached (own session) inside ``ns`` (root namespace when None); return its pid."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, close_fds=True,
                             env={**os.environ, **(env or {})})
    _children[p.pid] = p
    return p.pid


def kill_pid(pid: int, expect: str | None = None, timeout: float = 3.0) -> bool:
    """Stop ``pid`` (TERM, then KILL) if alive and, when ``expect`` is given, its command line contains it.

    Returns True when a process was signalled. The check guards against a
    recycled pid after a reboot or a long-dead lab.
    """
    if not pid or not pid_alive(pid):
        return False
    if expect is not None and expect not in " ".join(cmdline(pid)):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    return True


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return out


def lab_pids(labdir: Path) -> list[int]:
    """Find processes the lab started for ``labdir``, found by command line (for pids never recorded).

    Matches dnsmasq with its pid file, the Lighthouse stand-in with its pid file, the
    HTTP server with its document root, the lab API server (``mcdiag.lab.apiserver
    --dir``) and its kubelet's fork server (``mcdiag.lab.zygote --socket``), all under
    ``labdir``; never this process or its ancestors.
    """
    base = str(labdir).rstrip("/") + "/"
    skip = _ancestors()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in skip:
            continue
        args = cmdline(int(d.name))
        if not args:
            continue
        prog = os.path.basename(args[0])
        joined = " ".join(args)
        if prog == "dnsmasq" and f"--pid-file={base}" in joined:
            out.append(int(d.name))
        elif prog.startswith("python") and "mcdiag.lab.lighthouse" in args and _arg(args, "--pid-file").startswith(base):
            out.append(int(d.name))
        elif prog.startswith("python") and "mcdiag.lab.zygote" in args and _arg(args, "--socket").startswith(base):
            out.append(int(d.name))
        elif prog.startswith("python") and (
                ("http.server" in args and f"--directory {base}" in joined)
                or ("mcdiag.lab.emulator" in args and f"--kubeconfig {base}" in joined)
                or ("mcdiag.lab.apiserver" in args and _arg(args, "--dir").rstrip("/") + "/" == base)):
            out.append(int(d.name))
    return out


def _arg(args: list[str], opt: str) -> str:
    """Value of ``opt`` in a command line (``--opt V`` or ``--opt=V``), else ""."""
    for i, a in enumerate(args):
        if a == opt and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(opt + "="):
            return a[len(opt) + 1:]
    return ""


def wait_for(pred, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")


# ------------------------------------------------------------------ links

def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """Create a veth pair inside ``ns_a`` with its peer created straight in ``ns_b``."""
    if ip(ns_a, "link", "show", name_a, check=False).returncode == 0:
        return
    ip(ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)


def addr(ns: str, cidr: str, dev: str) -> None:
    cp = ip(ns, "addr", "add", cidr, "dev", dev, check=False)
    if cp.returncode != 0 and "File exists" not in cp.stderr:
        raise LabError(f"ip -n {ns} addr add {cidr} dev {dev}: {cp.stderr.strip()}")


def up(ns: str, dev: str) -> None:
    ip(ns, "link", "set", dev, "up")


def route(ns: str, *spec: str) -> None:
    ip(ns, "route", "replace", *spec)


def build_wan(topo: Topology) -> None:
    wan = topo.wan_ns
    for c in topo.clusters:
        gw = c.gateway
        veth(wan, gw.wan_port, gw.netns, gw.wan_iface)
        plen = c.wan_cidr.split("/")[1]
        addr(wan, f"{gw.wan_router_ip}/{plen}", gw.wan_port)
        up(wan, gw.wan_port)
        addr(gw.netns, f"{gw.public_ip}/{plen}", gw.wan_iface)
        up(gw.netns, gw.wan_iface)
        # The whole benchmarking range, never a default route.
        route(gw.netns, "198.18.0.0/15", "via", gw.wan_router_ip, "dev", gw.wan_iface)


def build_lan(c: Cluster) -> None:
    ns = c.lan_ns
    if ip(ns, "link", "show", "br0", check=False).returncode != 0:
        ip(ns, "link", "add", "br0", "type", "bridge")
    up(ns, "br0")
    plen = c.lan_cidr.split("/")[1]
    for n in c.nodes:
        veth(ns, n.lan_port, n.netns, n.lan_iface)
        ip(ns, "link", "set", n.lan_port, "master", "br0")
        up(ns, n.lan_port)
        addr(n.netns, f"{n.lan_ip}/{plen}", n.lan_iface)
        up(n.netns, n.lan_iface)


def build_node(c: Cluster, n: Node) -> None:
    """cni0 (pod IP), the VXLAN to the gateway/workers, intra-cluster routes."""
    ns = n.netns
    if ip(ns, "link", "show", "cni0", check=False).returncode != 0:
        # A pinned MAC, as bridge CNIs do: a bridge without one takes its smallest port's MAC, which
        # changes whenever a pod veth comes or goes, and pods that resolved the gateway lose packets.
        digest = hashlib.sha1(ns.encode()).digest()
        mac = "02:6d:63:" + ":".join(f"{b:02x}" for b in digest[:3])
        ip(ns, "link", "add", "cni0", "address", mac, "type", "bridge")
    addr(ns, f"{n.pod_ip}/{n.pod_cidr.split('/')[1]}", "cni0")
    up(ns, "cni0")
    vx = c.vxlan_iface
    if ip(ns, "link", "show", vx, check=False).returncode != 0:
        ip(ns, "link", "add", vx, "type", "vxlan", "id", str(c.vxlan_vni), "dstport", str(c.vxlan_port),
           "local", n.lan_ip, "nolearning")
    addr(ns, f"{n.vxlan_ip}/8", vx)
    up(ns, vx)
    peers = c.workers if n.is_gateway else (c.gateway,)
    for p in peers:
        run(["bridge", "-n", ns, "fdb", "append", "00:00:00:00:00:00", "dev", vx, "dst", p.lan_ip], check=False)
    if n.is_gateway:
        for w in c.workers:
            route(ns, w.pod_cidr, "via", w.lan_ip, "dev", n.lan_iface)
    else:
        route(ns, c.gateway.pod_cidr, "via", c.gateway.lan_ip, "dev", n.lan_iface)
        # Service ClusterIPs live on the gateway (stand-in for kube-proxy); plain LAN, no VXLAN.
        route(ns, c.service_cidr, "via", c.gateway.lan_ip, "dev", n.lan_iface)
        for w in c.workers:
            if w.name != n.name:
                route(ns, w.pod_cidr, "via", w.lan_ip, "dev", n.lan_iface)


KUBE_PROXY_TABLE = "mcdiag_kube_proxy"


def service_addresses(c: Cluster) -> list[str]:
    """Addresses put on the gateway's loopback: service ClusterIPs and the service "pods"."""
    out = [c.dns_ip, c.coredns_pod_ip, c.exports_dns_ip, c.nginx_ip, c.nginx_pod_ip]
    if c.provider == "submariner":
        out += [c.lighthouse_ip, c.lighthouse_pod_ip]
    return out


def build_gateway_services(c: Cluster) -> None:
    """Service addresses on the gateway's loopback; DNAT of nginx :8080 to the HTTP server's real port."""
    ns = c.gateway.netns
    for a in service_addresses(c):
        addr(ns, f"{a}/32", "lo")
    match = f"ip daddr {{ {c.nginx_ip}, {c.nginx_pod_ip} }} tcp dport {c.nginx_port}"
    to = f"dnat to {c.nginx_pod_ip}:{NGINX_BACKEND_PORT}"
    nsexec(ns, ["nft", "delete", "table", "ip", KUBE_PROXY_TABLE], check=False)
    nft(ns, f"""table ip {KUBE_PROXY_TABLE} {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    {match} {to} comment "mcdiag lab: nginx-test/nginx"
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    {match} {to} comment "mcdiag lab: nginx-test/nginx"
  }}
}}
""")


def remote_routes(c: Cluster, peers: Sequence[Cluster]) -> None:
    """Workers send every peer's CIDRs into the VXLAN towards the gateway, sourced from their pod IP."""
    gw = c.gateway
    for w in c.workers:
        for peer in peers:
            for cidr in (peer.pod_cidr, peer.service_cidr):
                route(w.netns, cidr, "via", gw.vxlan_ip, "dev", c.vxlan_iface, "src", w.pod_ip)


# ------------------------------------------------------------------ DNS config

ETC_NETNS = Path("/etc/netns")


def resolv_conf_text(c: Cluster, k8s_namespace: str = "default") -> str:
    """What a pod of ``k8s_namespace`` in cluster ``c`` finds in /etc/resolv.conf (ClusterFirst)."""
    return (f"search {k8s_namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {c.dns_ip}\noptions ndots:5\n")


def write_resolv_conf(ns: str, text: str) -> Path:
    """``/etc/netns/NS/resolv.conf``: ``ip netns exec NS`` bind-mounts it over /etc/resolv.conf."""
    if not ns.startswith("mcdiag-"):
        raise LabError(f"refusing to write DNS config for namespace {ns!r}")
    d = ETC_NETNS / ns
    d.mkdir(parents=True, exist_ok=True)
    f = d / "resolv.conf"
    tmp = d / ".resolv.conf.tmp"
    tmp.write_text(text)
    os.replace(tmp, f)
    return f


def remove_netns_etc(ns: str) -> bool:
    """Remove ``/etc/netns/NS`` (only lab names); True when it existed."""
    if not ns.startswith("mcdiag-"):
        raise LabError(f"refusing to remove /etc/netns/{ns}")
    d = ETC_NETNS / ns
    if not d.is_dir():
        return False
    shutil.rmtree(d, ignore_errors=True)
    return True


def netns_etc_dirs() -> list[str]:
    """Names under /etc/netns (empty when the directory does not exist)."""
    try:
        return sorted(p.name for p in ETC_NETNS.iterdir() if p.is_dir())
    except OSError:
        return []


# -------------------------------------------------------------- wireguard

def wg_genkey(keydir: Path, name: str) -> tuple[Path, str]:
    """Create (or reuse) a private key file (0600); return it and its public key."""
    keydir.mkdir(parents=True, exist_ok=True)
    key = keydir / f"{name}.key"
    if not key.exists():
        priv = run(["wg", "genkey"]).stdout.strip()
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(priv + "\n")
    pub = run(["wg", "pubkey"], input=key.read_text()).stdout.strip()
    return key, pub


def wg_socket(iface: str) -> Path:
    return WG_SOCKET_DIR / f"{iface}.sock"


def wg_socket_live(iface: str) -> bool:
    import socket

    sock = wg_socket(iface)
    if not sock.exists():
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(str(sock))
        return True
    except OSError:
        return False
    finally:
        s.close()


def start_wireguard(c: Cluster, logdir: Path) -> int:
    """wireguard-go in the foreground inside the gateway namespace; returns its pid once the TUN exists."""
    gw = c.gateway
    if wg_socket_live(c.wg_iface):
        raise LabError(f"WireGuard interface {c.wg_iface} already has a live control socket "
                       f"({wg_socket(c.wg_iface)}): another lab is running; run `mcdiag lab down` for it first")
    try:
        wg_socket(c.wg_iface).unlink()
    except OSError:
        pass
    pid = spawn(gw.netns, ["wireguard-go", "-f", c.wg_iface], logdir / f"{c.name}.wireguard-go.log",
                env={"WG_PROCESS_FOREGROUND": "1", "LOG_LEVEL": "error"})
    wait_for(lambda: ip(gw.netns, "link", "show", c.wg_iface, check=False).returncode == 0
             and wg_socket(c.wg_iface).exists(), 10, f"wireguard-go {c.wg_iface} in {gw.netns}")
    return pid


def configure_wireguard(c: Cluster, peers: Sequence[Cluster], key: Path, public_keys: dict[str, str],
                        keepalive: int) -> None:
    """The gateway's WireGuard interface: one peer per other cluster (its CIDRs as allowed-ips), routes to each."""
    gw = c.gateway
    ns = gw.netns
    if c.wg_ip:
        addr(ns, f"{c.wg_ip}/{c.network_subnet.split('/')[1]}", c.wg_iface)
    up(ns, c.wg_iface)
    argv = ["wg", "set", c.wg_iface, "listen-port", str(c.tunnel_port), "private-key", str(key)]
    for peer in peers:
        allowed = [peer.pod_cidr, peer.service_cidr] + ([f"{peer.wg_ip}/32"] if peer.wg_ip else [])
        argv += ["peer", public_keys[peer.name], "endpoint", f"{peer.gateway.public_ip}:{peer.tunnel_port}",
                 "allowed-ips", ",".join(allowed), "persistent-keepalive", str(keepalive)]
    nsexec(ns, argv)
    for peer in peers:
        for cidr in (peer.pod_cidr, peer.service_cidr):
            route(ns, cidr, "dev", c.wg_iface, "src", gw.pod_ip)
        if peer.wg_ip:
            route(ns, f"{peer.wg_ip}/32", "dev", c.wg_iface)


def wg_handshakes(c: Cluster) -> dict[str, int]:
    """Peer public key -> latest handshake (unix seconds, 0 = never) on the cluster's gateway."""
    cp = nsexec(c.gateway.netns, ["wg", "show", c.wg_iface, "latest-handshakes"], check=False, timeout=5)
    out = {}
    for line in cp.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


# -------------------------------------------------------------- services

def dns_records(c: Cluster) -> list[tuple[str, str]]:
    """(name, ip) answered by the cluster's CoreDNS stand-in for ``cluster.local``."""
    return [(f"{name}.{ns}.svc.cluster.local", ip_) for name, ns, ip_, _port in c.services()]


def export_records(c: Cluster) -> list[tuple[str, str]]:
    """(name, ip) this cluster publishes to its peer (Lighthouse / Netmaker DNS entries)."""
    if c.provider == "submariner":
        return [(c.exported_name(), c.nginx_ip), (f"{c.name}.{c.exported_name()}", c.nginx_ip)]
    return [(f"{name}.{ns}.{c.network}", ip_) for name, ns, ip_, _ in c.services()]


def hosts_file(rundir: Path, cluster: str, role: str) -> Path:
    """The dnsmasq ``--addn-hosts`` file of the cluster's ``coredns`` or ``exports`` DNS.

    Names of Services created through the lab's API (mcdiag's echo service) go there, written by
    :mod:`mcdiag.lab.controllers`; dnsmasq re-reads it on SIGHUP.
    """
    return rundir / f"{cluster}.{role}.hosts"


def dnsmasq_argv(c: Cluster, peers: Sequence[Cluster], role: str, rundir: Path, logdir: Path,
                 forward: bool = True) -> list[str]:
    """Command line of the cluster's ``coredns`` or ``exports`` dnsmasq (no config file, no resolv.conf).

    ``coredns`` (the kube-dns ClusterIP) answers ``cluster.local`` and, with ``forward``, passes the peers'
    zones on: ``clusterset.local`` to the cluster's own Lighthouse DNS (Submariner), each peer's network to
    that peer's ``exports`` DNS (Netmaker); without ``forward`` it answers NXDOMAIN for those zones, as a
    Corefile without the blocks does. The ``lighthouse`` (Submariner) is not a dnsmasq: see
    :func:`lighthouse_argv`.
    """
    argv = ["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
            "--user=root", "--group=root", "--cache-size=0", "--local-ttl=5", "--log-queries",
            f"--pid-file={rundir / f'{c.name}.{role}.pid'}", f"--log-facility={logdir / f'{c.name}.{role}.log'}"]
    if role == "coredns":
        listen = [c.dns_ip, c.coredns_pod_ip]
        records = dns_records(c)
        argv.append("--local=/cluster.local/")
        if c.provider == "submariner":
            zones = {"clusterset.local": c.lighthouse_ip}
        else:
            zones = {peer.dns_zone: peer.exports_dns_ip for peer in peers}
        for zone, upstream in zones.items():
            argv.append(f"--server=/{zone}/{upstream}" if forward else f"--local=/{zone}/")
    elif role == "exports":
        listen = [c.exports_dns_ip]
        records = export_records(c)
        argv.append(f"--local=/{c.dns_zone}/")
    else:
        raise ValueError(role)
    argv += [f"--listen-address={a}" for a in listen]
    argv += [f"--host-record={n},{a}" for n, a in records]
    argv.append(f"--addn-hosts={hosts_file(rundir, c.name, role)}")
    return argv


def lighthouse_argv(c: Cluster, peers: Sequence[Cluster], rundir: Path, logdir: Path) -> list[str]:
    """Command line of the cluster's Lighthouse DNS stand-in (Submariner: the submariner-lighthouse-coredns
    ClusterIP and pod IP), which owns ``clusterset.local`` for its cluster and asks every peer's ``exports``
    DNS across the tunnel (:mod:`mcdiag.lab.lighthouse`).
    """
    if c.provider != "submariner":
        raise ValueError(f"{c.name} has no Lighthouse DNS ({c.provider})")
    argv = [sys.executable, "-m", "mcdiag.lab.lighthouse", "--zone", "clusterset.local",
            "--pid-file", str(rundir / f"{c.name}.lighthouse.pid"), "--log", str(logdir / f"{c.name}.lighthouse.log")]
    for ip_ in (c.lighthouse_ip, c.lighthouse_pod_ip):
        argv += ["--listen", ip_]
    for peer in peers:
        argv += ["--peer", peer.exports_dns_ip]
    return [*argv, "--local", c.exports_dns_ip]


def dns_roles(c: Cluster) -> tuple[str, ...]:
    """The cluster's DNS processes, in start order (who is asked must already run)."""
    return ("exports", "lighthouse", "coredns") if c.provider == "submariner" else ("exports", "coredns")


def dns_program(role: str) -> str:
    """What a DNS role's command line contains (to recognise its process): dnsmasq, or the Lighthouse stand-in."""
    return "mcdiag.lab.lighthouse" if role == "lighthouse" else "dnsmasq"


def start_dnsmasq(c: Cluster, peers: Sequence[Cluster], role: str, rundir: Path, logdir: Path,
                  forward: bool = True) -> int:
    """Start the cluster's DNS process ``role`` (a dnsmasq; the Lighthouse stand-in for ``lighthouse``)."""
    rundir.mkdir(parents=True, exist_ok=True)
    pidfile = rundir / f"{c.name}.{role}.pid"
    try:
        pidfile.unlink()
    except OSError:
        pass
    if role == "lighthouse":
        argv = lighthouse_argv(c, peers, rundir, logdir)
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH")) if p)}
    else:
        hosts = hosts_file(rundir, c.name, role)
        if not hosts.exists():
            hosts.write_text("")
        argv, env = dnsmasq_argv(c, peers, role, rundir, logdir, forward), None
    pid = spawn(c.gateway.netns, argv, logdir / f"{c.name}.{role}.out", env=env)
    wait_for(lambda: pidfile.exists() or not pid_alive(pid), 10, f"DNS {role} of {c.name}")
    if not pid_alive(pid):
        raise LabError(f"DNS {role} of {c.name} exited; see {logdir / f'{c.name}.{role}.out'}")
    return pid


def start_http(c: Cluster, wwwdir: Path, logdir: Path) -> int:
    """Start the nginx stand-in in the gateway namespace: python's http.server on the nginx pod IP.

    It listens on :data:`NGINX_BACKEND_PORT`; the gateway's ``mcdiag_kube_proxy``
    table sends ``nginx ClusterIP / pod IP :8080`` there.
    """
    root = wwwdir / c.name
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(
        f"<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n"
        f"<body><h1>Welcome to nginx!</h1><p>mcdiag lab: nginx-test/nginx in cluster {c.name}</p></body></html>\n")
    ns = c.gateway.netns
    pid = spawn(ns, [sys.executable, "-m", "http.server", str(NGINX_BACKEND_PORT), "--bind", c.nginx_pod_ip,
                     "--directory", str(root)], logdir / f"{c.name}.nginx.log")
    wait_for(lambda: _listening(ns, NGINX_BACKEND_PORT) or not pid_alive(pid), 10, f"nginx of {c.name}")
    if not pid_alive(pid):
        raise LabError(f"http server of {c.name} exited; see {logdir / f'{c.name}.nginx.log'}")
    return pid


def _listening(ns: str, port: int) -> bool:
    cp = nsexec(ns, ["ss", "-Hltn", f"sport = :{port}"], check=False, timeout=5)
    return bool(cp.stdout.strip())
