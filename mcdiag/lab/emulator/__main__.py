r"""Run one API emulator as a standalone process (for the network lab and demos).

    python -m mcdiag.lab.emulator --objects DIR_OR_FILE [--objects ...] --name east \\
        --kubeconfig east.kubeconfig [--host 127.0.0.1] [--port 0] [--context NAME] \\
        [--version v1.29.3] [--ready-file F] [--generate-pods N [--generate-nodes M] [--pod-cidr CIDR]]

Writes the kubeconfig, then the ready file (containing the URL) once listening,
prints ``serving NAME at URL`` and serves until SIGTERM or SIGINT (exit 0).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .server import ApiEmulator
from .store import load_objects


def build_parser() -> argparse.ArgumentParser:
    """Build the command line parser."""
    p = argparse.ArgumentParser(
        prog="python -m mcdiag.lab.emulator", description="Emulated Kubernetes API server"
    )
    p.add_argument(
        "--objects",
        action="append",
        default=[],
        metavar="PATH",
        help="YAML file or directory of objects to serve (repeatable)",
    )
    p.add_argument("--name", default="emulator", help="cluster name (default: emulator)")
    p.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig file to write")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: 0 = any free port)")
    p.add_argument("--context", default=None, help="context name in the kubeconfig (default: NAME-ctx)")
    p.add_argument("--user", default=None, help="user entry name in the kubeconfig (default: NAME-admin)")
    p.add_argument("--version", default="v1.29.3", help="Kubernetes gitVersion to report (default: v1.29.3)")
    p.add_argument("--token", default=None, help="bearer token to accept (default: random)")
    p.add_argument("--username", default=None, help="user name the token authenticates as")
    p.add_argument(
        "--san-ip",
        action="append",
        default=[],
        metavar="IP",
        help="extra IP address or name for the server certificate (repeatable)",
    )
    p.add_argument(
        "--extra-groups",
        type=Path,
        default=None,
        metavar="FILE",
        help="YAML/JSON file with API groups served without CRDs",
    )
    p.add_argument("--generate-pods", type=int, default=0, metavar="N",
                   help="also serve N generated pods with their nodes and owners (see mcdiag.lab.emulator.generate)")
    p.add_argument("--generate-nodes", type=int, default=None, metavar="M",
                   help="generated nodes (default: pods/30, at least 1)")
    p.add_argument("--generate-agent", action="append", default=[], metavar="NS/DAEMONSET=IMAGE",
                   help="also one pod per generated node of this DaemonSet (repeatable; e.g. a route agent)")
    p.add_argument("--pod-cidr", default="10.128.0.0/12", help="CIDR the generated nodes' pod CIDRs come from")
    p.add_argument("--node-cidr", default="172.20.0.0/16", help="CIDR the generated nodes' addresses come from")
    p.add_argument("--request-log", type=Path, default=None, metavar="FILE",
                   help="append one JSON line per request answered (method, path, query, status, accept, size)")
    p.add_argument("--ready-file", type=Path, default=None, help="file written (with the URL) once serving")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    objects = load_objects(*args.objects) if args.objects else []
    extra_groups = None
    if args.extra_groups:
        import yaml

        extra_groups = yaml.safe_load(args.extra_groups.read_text())
        if isinstance(extra_groups, str):
            extra_groups = json.loads(extra_groups)
    kwargs = {"username": args.username} if args.username else {}
    emu = ApiEmulator(
        objects=objects,
        name=args.name,
        version=args.version,
        token=args.token,
        host=args.host,
        port=args.port,
        san_ips=args.san_ip,
        extra_groups=extra_groups,
        **kwargs,
    )
    if args.generate_pods:
        from .generate import generate_cluster

        nodes = args.generate_nodes if args.generate_nodes is not None else max(1, args.generate_pods // 30)
        agents = []
        for spec in args.generate_agent:
            where, _, image = spec.partition("=")
            namespace, _, daemonset = where.partition("/")
            if not (namespace and daemonset and image):
                raise SystemExit(f"--generate-agent {spec!r}: expected NS/DAEMONSET=IMAGE")
            agents.append((namespace, daemonset, image))
        emu.add_generated(
            generate_cluster(nodes, args.generate_pods, name=args.name, pod_cidr=args.pod_cidr, node_cidr=args.node_cidr,
                             agents=tuple(agents))
        )
        # Millions of long-lived containers: without this, every full collection of the cyclic garbage
        # collector walks them all (about 1.5 s at 150,000 pods), inside whichever request triggered it.
        gc.collect()
        gc.freeze()
    if args.request_log:
        log_file = args.request_log.open("a", encoding="utf-8", buffering=1)
        fields = ("method", "path", "query", "status", "accept", "size")
        emu.on_request(lambda rec: log_file.write(json.dumps({f: getattr(rec, f) for f in fields}) + "\n"))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emu.start()
    try:
        emu.kubeconfig(args.kubeconfig, context=args.context, user=args.user)
        if args.ready_file:
            tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
            tmp.write_text(emu.url + "\n")
            tmp.replace(args.ready_file)
        print(f"serving {args.name} at {emu.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
