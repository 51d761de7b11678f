"""``mcdiag lab up | status | break FAULT | heal | down``.

The caller adds the sub-command with :func:`register` and runs
``return args.func(args)``. Exit codes: 0 done, 1 the operation failed, 2 the
invocation is unusable (not root, missing binary, unknown fault or cluster).
"""

from __future__ import annotations

import argparse
import json
import sys

from .netns import missing_binaries
from .network import FAULTS, MAX_CLUSTERS, PROVIDERS, Lab, LabError
from .topology import build_topology


def _err(msg: str, code: int) -> int:
    print(f"mcdiag lab: {msg}", file=sys.stderr)
    return code


def _lab(args: argparse.Namespace) -> Lab:
    return Lab(args.dir, getattr(args, "provider", None), log=lambda m: print(m, file=sys.stderr),
               clusters=getattr(args, "clusters", None))


def _usage_problems(needs_binaries: bool = True) -> str | None:
    import importlib.util
    import os

    if importlib.util.find_spec("trustme") is None:
        return "needs the lab's extra dependencies: pip install 'mcdiag[lab]'"
    if os.geteuid() != 0:
        return "needs root (it creates network namespaces); run it with sudo"
    if needs_binaries:
        missing = missing_binaries()
        if missing:
            return (f"missing {', '.join(sorted(missing))}; install the Debian package(s): "
                    f"apt-get install {' '.join(sorted(set(missing.values())))}")
    return None


def _print_layout(lab: Lab) -> None:
    t = lab.topology
    print(f"provider {t.provider}, {len(t.clusters)} clusters, each peered with every other; WAN router {t.wan_ns}")
    for c in t.clusters:
        extra = f" network {c.network} ({c.network_subnet})" if c.network else ""
        print(f"cluster {c.name}: pods {c.pod_cidr} services {c.service_cidr} LAN {c.lan_cidr} ({c.lan_ns}){extra}")
        for n in c.nodes:
            pub = f" public {n.public_ip}" if n.public_ip else ""
            print(f"  {n.role:8} {n.netns:20} node {n.lan_ip:15} pod {n.pod_ip}{pub}")
        print(f"  dns {c.dns_ip}  nginx http://{c.nginx_ip}:{c.nginx_port} (on {c.gateway.netns})"
              f"  tunnel {c.wg_iface} udp/{c.tunnel_port}  vxlan {c.vxlan_iface} udp/{c.vxlan_port}")


def cmd_up(args: argparse.Namespace) -> int:
    problem = _usage_problems()
    if problem:
        return _err(problem, 2)
    try:
        lab = _lab(args)
    except LabError as e:
        return _err(str(e), 2)
    try:
        st = lab.up()
    except LabError as e:
        return _err(f"up failed: {e} (clean up with: mcdiag lab down --dir {args.dir})", 1)
    _print_layout(lab)
    for w in st.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    names = lab.cluster_names
    print(f"\nlab {'already running' if st.get('already_running') else 'up'} in {lab.dir}")
    print("next:")
    if st.get("kubeconfigs") and len(names) == 2:
        print(f"  mcdiag all --kubeconfig {lab.kubeconfig(names[0])} --remote-kubeconfig {lab.kubeconfig(names[1])}")
    elif st.get("kubeconfigs"):
        print("  mcdiag all " + " ".join(f"--cluster {n}={lab.kubeconfig(n)}" for n in names))
    print(f"  mcdiag lab break {{{','.join(FAULTS)}}} --cluster {{{','.join(names)}}} --dir {args.dir}")
    print(f"  mcdiag lab status --dir {args.dir}    mcdiag lab heal --dir {args.dir}    "
          f"mcdiag lab down --dir {args.dir}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    lab = Lab(args.dir)
    st = lab.status()
    if args.json:
        print(json.dumps(st, indent=2, sort_keys=True))
        return 0
    if st["phase"] == "down" and not st["leftovers"]:
        print(f"no lab in {lab.dir}")
        return 0
    print(f"lab in {lab.dir}: provider {st['provider']}, {st['clusters']} clusters, phase {st['phase']}, "
          f"{'running' if st['running'] else 'NOT fully running'}")
    print("namespaces: " + ", ".join(f"{n}{'' if ok else ' (missing)'}" for n, ok in st["namespaces"].items()))
    if st["leftovers"]:
        print("leftover namespaces (not in this state): " + ", ".join(st["leftovers"]))
    for k, p in sorted(st["processes"].items()):
        state = "alive" if p["alive"] else "stopped (fault)" if k in st["stopped_by_fault"] else "DEAD"
        print(f"  {k:22} pid {p['pid']:<8} {state:8}  {p.get('netns') or 'root namespace'}")
    for c, h in st["handshakes"].items():
        ages = [a for a in h["peers"].values()]
        txt = ", ".join("never" if a is None else f"{a:.0f}s ago" for a in ages) or "no peer"
        print(f"  tunnel {h['iface']} ({c}): latest handshake {txt}")
    for f in st["faults"]:
        print(f"  fault {f['fault']} on {f['cluster']} since {f['since']}")
    if not st["faults"]:
        print("  no faults")
    for c, kc in st["kubeconfigs"].items():
        pods = st.get("pods", {}).get(c) or []
        print(f"  kubeconfig {c}: {kc} ({len(pods)} pod namespace(s){': ' + ', '.join(pods) if pods else ''})")
    for w in st["warnings"]:
        print(f"  warning: {w}")
    return 0 if st["running"] or st["phase"] == "down" else 1


def cmd_break(args: argparse.Namespace) -> int:
    problem = _usage_problems(needs_binaries=False)
    if problem:
        return _err(problem, 2)
    lab = Lab(args.dir)
    try:
        lab.cluster(args.cluster)
    except KeyError as e:
        return _err(str(e.args[0]), 2)
    try:
        rec = lab.break_(args.fault, args.cluster)
    except LabError as e:
        return _err(str(e), 1)
    print(f"{rec['fault']} on {rec['cluster']}: {FAULTS[rec['fault']].summary} (heal: mcdiag lab heal --dir {args.dir})")
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    problem = _usage_problems(needs_binaries=False)
    if problem:
        return _err(problem, 2)
    lab = Lab(args.dir)
    try:
        healed = lab.heal()
    except LabError as e:
        return _err(str(e), 1)
    print("healed: " + (", ".join(f"{r['fault']} on {r['cluster']}" for r in healed) or "nothing to heal"))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    problem = _usage_problems(needs_binaries=False)
    if problem:
        return _err(problem, 2)
    lab = Lab(args.dir)
    try:
        res = lab.down()
    except LabError as e:
        return _err(str(e), 1)
    print(f"lab down: stopped {len(res['killed'])} process(es), removed {len(res['namespaces_removed'])} namespace(s)")
    if res.get("owner"):
        print(f"the lab namespaces belong to the lab in {res['owner']} and were left alone; "
              f"run `mcdiag lab down --dir {res['owner']}` to remove them")
    return 0


def _cluster_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 2 <= n <= MAX_CLUSTERS:
        raise argparse.ArgumentTypeError(f"the lab has 2 to {MAX_CLUSTERS} clusters, not {n}")
    return n


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``lab`` and its sub-commands to ``subparsers``; each sets ``func``."""
    p = subparsers.add_parser("lab", help="a multi-cluster lab in network namespaces (root)",
                              description="Build, break, heal and remove a network lab of N clusters (2 by default) "
                                          "in Linux network namespaces (needs root; nothing leaves the namespaces).")
    sub = p.add_subparsers(dest="lab_command", metavar="{up,status,break,heal,down}")
    sub.required = True

    def common(sp):
        sp.add_argument("--dir", default="reports/lab", help="lab state directory (default: reports/lab)")

    up = sub.add_parser("up", help="build and start the lab (idempotent)")
    common(up)
    up.add_argument("--provider", choices=PROVIDERS, default=None,
                    help="what joins the clusters (default: submariner, or the running lab's)")
    up.add_argument("--clusters", type=_cluster_count, default=None, metavar="N",
                    help=f"how many clusters, each peered with every other (2 to {MAX_CLUSTERS}; default 2, "
                         "or the running lab's)")
    up.set_defaults(func=cmd_up)

    st = sub.add_parser("status", help="namespaces, processes, tunnel handshakes, faults")
    common(st)
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    st.set_defaults(func=cmd_status)

    names = build_topology().cluster_names
    br = sub.add_parser("break", help="inject a fault", description="Faults: " + "; ".join(
        f"{f.name}: {f.summary}" for f in FAULTS.values()))
    br.add_argument("fault", choices=list(FAULTS))
    br.add_argument("--cluster", default=None,
                    help=f"affected cluster ({', '.join(names)}, ... cluster{MAX_CLUSTERS - 1} in a larger lab; "
                         f"default {names[0]})")
    common(br)
    br.set_defaults(func=cmd_break)

    he = sub.add_parser("heal", help="undo every fault")
    common(he)
    he.set_defaults(func=cmd_heal)

    dn = sub.add_parser("down", help="stop and remove everything the lab created")
    common(dn)
    dn.set_defaults(func=cmd_down)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``mcdiag lab`` on its own (``python -m mcdiag.lab.cli``)."""
    parser = argparse.ArgumentParser(prog="mcdiag")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
