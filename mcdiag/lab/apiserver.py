r"""One lab cluster's API server: the API emulator serving the lab's objects, plus a kubelet.

    python -m mcdiag.lab.apiserver --dir DIR --cluster NAME [--provider P] [--clusters N]

Builds ``ApiEmulator(objects=lab_objects(...))`` (provider, number of clusters and
WireGuard public keys from ``DIR/state.json`` unless given), attaches a
:class:`~mcdiag.lab.kubelet.Kubelet` whose nodes are the cluster's lab nodes
(:class:`~mcdiag.lab.pods.LabNodeRuntime`; pod records in ``DIR/pods/NAME``; probe pods
forked by its fork server, :mod:`mcdiag.lab.zygote`, unless ``--no-fork-server``)
and the :class:`~mcdiag.lab.controllers.LabControllers` (Deployments, Service
IPs, kube-proxy, service DNS),
writes ``DIR/NAME.kubeconfig`` and then ``DIR/run/NAME.apiserver.ready`` (the
URL), and serves on 127.0.0.1 until SIGTERM or SIGINT. Then it kills its pods,
removes their namespaces and exits 0. After a SIGKILL, ``mcdiag lab down``
removes what it left (see :func:`mcdiag.lab.pods.sweep`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .controllers import LabControllers
from .emulator import ApiEmulator
from .kubelet import Kubelet
from .objects import extra_groups, k8s_version, lab_objects
from .pods import LabNodeRuntime
from .topology import DEFAULT_CLUSTERS, PROVIDERS, build_topology
from .zygote import ForkServer


def paths(labdir: Path, cluster: str) -> dict[str, Path]:
    """Files of cluster ``cluster``'s API server in lab directory ``labdir``."""
    return {
        "kubeconfig": labdir / f"{cluster}.kubeconfig",
        "ready": labdir / "run" / f"{cluster}.apiserver.ready",
        "pods": labdir / "pods" / cluster,
        "log": labdir / "logs" / f"{cluster}.apiserver.log",
        "zygote": labdir / "run" / f"{cluster}.zygote.sock",
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mcdiag.lab.apiserver",
                                description="API emulator + kubelet of one lab cluster")
    p.add_argument("--dir", required=True, type=Path, help="lab state directory")
    p.add_argument("--cluster", required=True, help="lab cluster name")
    p.add_argument("--provider", choices=PROVIDERS, default=None, help="default: the lab state's")
    p.add_argument("--clusters", type=int, default=None, help="how many clusters the lab has (default: the lab state's)")
    p.add_argument("--no-fork-server", action="store_true",
                   help="start every probe pod as a process of its own (no fork server, see mcdiag.lab.zygote)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    labdir = args.dir.resolve()
    try:
        state = json.loads((labdir / "state.json").read_text())
    except (OSError, ValueError):
        state = {}
    provider = args.provider or state.get("provider") or "submariner"
    topo = build_topology(provider, args.clusters or state.get("clusters") or DEFAULT_CLUSTERS)
    c = topo.cluster(args.cluster)
    keys = {k: v["public_key"] for k, v in state.get("wireguard", {}).items()}
    f = paths(labdir, c.name)
    emu = ApiEmulator(objects=lab_objects(topo, c.name, wg_public_keys=keys), name=c.name, version=k8s_version(provider),
                      extra_groups=extra_groups(provider), host="127.0.0.1", port=0)
    runtimes = {n.name: LabNodeRuntime(c, n, f["pods"]) for n in c.nodes}
    forks = None
    if not args.no_fork_server:
        try:
            forks = ForkServer(f["zygote"], log=f["log"].with_name(f"{c.name}.zygote.log"))
        except OSError as exc:
            logging.getLogger(__name__).warning("%s: probe pods start as processes of their own", exc)
    kubelet = Kubelet(emu, runtimes, state_dir=f["pods"], spawner=forks)  # after the objects: their pods are not run
    controllers = LabControllers(emu, c, labdir / "run").start()  # likewise: the lab's own objects stay as they are

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emu.start()
    try:
        emu.kubeconfig(f["kubeconfig"])
        f["ready"].parent.mkdir(parents=True, exist_ok=True)
        tmp = f["ready"].with_name(f["ready"].name + ".tmp")
        tmp.write_text(emu.url + "\n")
        tmp.replace(f["ready"])
        print(f"serving {c.name} at {emu.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        controllers.stop()
        kubelet.stop()
        if forks is not None:
            forks.stop()
        for rt in runtimes.values():
            rt.release_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
