"""Command line for the probes: ``mcdiag probe ...`` or ``python -m mcdiag.probes ...``.

Each command prints one JSON object on stdout. Exit codes: 0 the probe
passed, 1 it ran and found the path broken, 2 unusable arguments (one line
on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from ._base import ProbeUsageError
from .dns import dns_query
from .http import http_get
from .mtu import path_mtu
from .serve import http_serve
from .tcp import latency, ping, split_host_port, tcp_connect
from .udp import VXLAN_DEFAULT_PORT, udp_listen, udp_send
from .wg import DEFAULT_MAX_AGE, wg_status

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults only where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value!r}")
    return number


def _emit(result: dict[str, Any]) -> int:
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return EXIT_OK if result.get("ok") else EXIT_FAIL


def _usage(prog: str, exc: Exception) -> int:
    text = str(exc).strip().splitlines()
    sys.stderr.write(f"{prog}: error: {text[0] if text else type(exc).__name__}\n")
    return EXIT_USAGE


def _runner(name: str, call: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        prog = getattr(args, "_probe_prog", "mcdiag probe")
        try:
            result = call(args)
        except ProbeUsageError as exc:
            return _usage(prog, exc)
        except KeyboardInterrupt:
            return _emit({"probe": name, "ok": False, "reason": "interrupted"})
        except Exception as exc:  # noqa: BLE001 - a probe never crashes the CLI with a traceback
            return _emit({"probe": name, "ok": False,
                          "reason": f"internal error: {type(exc).__name__}: {exc}"})
        return _emit(result)

    return run


def _listening_line(info: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps({"event": "listening", "probe": "udp-listen", **info}) + "\n")
    sys.stderr.flush()


def _do_udp_listen(a: argparse.Namespace) -> dict[str, Any]:
    return udp_listen(a.port, a.marker, iface=a.iface, timeout=a.timeout, bind=a.bind,
                      method=a.method, linger=a.linger, ready=threading.Event(), on_ready=_listening_line)


def _do_udp_send(a: argparse.Namespace) -> dict[str, Any]:
    default_port = VXLAN_DEFAULT_PORT if a.vxlan_vni is not None else None
    host, port = split_host_port(a.to, default_port)
    return udp_send(host, port, a.marker, vxlan_vni=a.vxlan_vni, src_port=a.src_port, count=a.count,
                    interval=a.interval, timeout=a.timeout, inner_src=a.inner_src, inner_dst=a.inner_dst,
                    inner_port=a.inner_port)


def _do_dns(a: argparse.Namespace) -> dict[str, Any]:
    return dns_query(a.name, server=a.server, rdtype=a.type, timeout=a.timeout, port=a.port, tcp=a.tcp, retry=a.retry,
                     then=a.then, then_port=a.then_port, then_after=a.then_after)


def _do_http(a: argparse.Namespace) -> dict[str, Any]:
    return http_get(a.url, timeout=a.timeout, insecure=a.insecure, connect_timeout=a.connect_timeout)


def _do_tcp(a: argparse.Namespace) -> dict[str, Any]:
    host, port = split_host_port(a.target)
    return tcp_connect(host, port, timeout=a.timeout)


def _do_ping(a: argparse.Namespace) -> dict[str, Any]:
    return ping(a.ip, count=a.count, timeout=a.timeout, interval=a.interval)


def _do_latency(a: argparse.Namespace) -> dict[str, Any]:
    return latency(a.ip, count=a.count, timeout=a.timeout, interval=a.interval, warmup=not a.no_warmup,
                   warmup_wait=a.warmup_wait)


def _do_mtu(a: argparse.Namespace) -> dict[str, Any]:
    return path_mtu(a.ip, timeout=a.timeout, lo=a.lo, hi=a.hi, probe_timeout=a.probe_timeout)


def _serving_line(info: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps({"event": "listening", "probe": "serve", **info}) + "\n")
    sys.stderr.flush()


def _do_serve(a: argparse.Namespace) -> dict[str, Any]:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return http_serve(a.port, bind=a.bind, duration=a.duration, on_ready=_serving_line)


def _do_wg(a: argparse.Namespace) -> dict[str, Any]:
    return wg_status(a.iface, max_age=a.max_age, timeout=a.timeout)


def add_probe_commands(parent: argparse.ArgumentParser, prog: str) -> None:
    """Add the probe sub-commands to ``parent`` (each sets ``func``)."""
    sub = parent.add_subparsers(dest="probe_command", metavar="PROBE", required=True,
                                parser_class=_OneLineParser)

    def add(name: str, call: Any, help_text: str, description: str, timeout: float) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=_HelpFormatter)
        p.add_argument("--timeout", type=_positive, default=timeout,
                       help="give up after this many seconds")
        p.set_defaults(func=_runner(name, call), _probe_prog=f"{prog} {name}")
        return p

    p = add("udp-listen", _do_udp_listen, "wait for a marked UDP datagram",
            "Wait for a UDP datagram to PORT whose payload contains MARKER and report its source "
            "(shows NAT) and VXLAN encapsulation. Sniffs (needs CAP_NET_RAW) so it also sees datagrams "
            "to ports nothing listens on or the kernel owns (VXLAN 4800); otherwise binds a UDP socket. "
            'Writes {"event":"listening",...} to stderr once capturing.', 5.0)
    p.add_argument("--port", type=int, required=True, metavar="P", help="UDP destination port to watch")
    p.add_argument("--marker", required=True, help="string the payload must contain")
    p.add_argument("--iface", metavar="IF", help="sniff only this interface (default: all)")
    p.add_argument("--bind", default="0.0.0.0", help="address for the socket fallback")
    p.add_argument("--method", choices=("auto", "sniff", "socket"), default="auto",
                   help="capture method")
    p.add_argument("--linger", type=float, default=0.5,
                   help="seconds to keep collecting after the first match")

    p = add("udp-send", _do_udp_send, "send marked UDP datagrams (optionally VXLAN)",
            "Send COUNT datagrams containing MARKER to IP:PORT. With --vxlan-vni, wrap them in VXLAN "
            f"(port defaults to {VXLAN_DEFAULT_PORT}, Submariner's vx-submariner) around an inner "
            "Ethernet/IP/UDP frame.", 5.0)
    p.add_argument("--to", required=True, metavar="IP:PORT",
                   help=f"destination ([v6]:port for IPv6); PORT may be left out with --vxlan-vni "
                        f"(then {VXLAN_DEFAULT_PORT})")
    p.add_argument("--marker", required=True, help="string to put in the payload")
    p.add_argument("--vxlan-vni", type=int, metavar="N", help="encapsulate in VXLAN with this VNI (e.g. 100)")
    p.add_argument("--src-port", type=int, metavar="P", help="source port to send from (default: ephemeral)")
    p.add_argument("--count", type=int, default=3, help="datagrams to send")
    p.add_argument("--interval", type=float, default=0.2, help="seconds between datagrams")
    p.add_argument("--inner-src", metavar="IP", help="inner IP source (VXLAN; default the outer source)")
    p.add_argument("--inner-dst", metavar="IP", help="inner IP destination (VXLAN; default the outer destination)")
    p.add_argument("--inner-port", type=int, metavar="P", help="inner UDP destination port (VXLAN; default PORT)")

    p = add("dns", _do_dns, "query a DNS server",
            "Query NAME and classify the outcome: answer, nodata, nxdomain, servfail, refused, timeout "
            "(or error). Only 'answer' passes. The server defaults to the first nameserver in "
            "/etc/resolv.conf.", 2.0)
    p.add_argument("name", help="name to query (absolute; no search list)")
    p.add_argument("--server", metavar="IP", help="DNS server IP (default: first nameserver in /etc/resolv.conf)")
    p.add_argument("--type", default="A", help="record type, e.g. A, AAAA, SRV")
    p.add_argument("--port", type=int, default=53, help="server port")
    p.add_argument("--tcp", action="store_true", help="query over TCP")
    p.add_argument("--retry", type=_positive, metavar="S",
                   help="over UDP, send the question again after this many seconds without an answer "
                        "(default: half of --timeout)")
    p.add_argument("--then", metavar="IP",
                   help="ask this server too (result in 'then'): at once after the first server's answer, not at all "
                        "when it says NXDOMAIN/NODATA, alongside it when it is still silent after --then-after")
    p.add_argument("--then-port", type=int, default=53, metavar="P", help="port of the --then server")
    p.add_argument("--then-after", type=float, metavar="S",
                   help="seconds of silence from the first server before --then is asked alongside (default: half of "
                        "--timeout)")

    p = add("http", _do_http, "HTTP(S) GET a URL",
            "GET URL once (redirects not followed); pass on 2xx/3xx. Reports status, bytes, ttfb_s, "
            "total_s.", 5.0)
    p.add_argument("url", help="http:// or https:// URL")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--connect-timeout", type=_positive, metavar="S",
                   help="give up on the TCP connection (and TLS handshake) after this many seconds (default: --timeout)")

    p = add("tcp", _do_tcp, "open a TCP connection",
            "Connect to IP:PORT; outcome connected, refused (nothing listening), timeout (filtered) or "
            "unreachable.", 3.0)
    p.add_argument("target", metavar="IP:PORT", help="address to connect to ([v6]:port for IPv6)")

    p = add("ping", _do_ping, "ICMP echo",
            "Send ICMP echo requests; pass when at least one reply comes back.", 3.0)
    p.add_argument("ip", help="IPv4 or IPv6 address")
    p.add_argument("--count", type=int, default=3, help="echo requests to send")
    p.add_argument("--interval", type=float, default=0.2, help="seconds between requests")

    p = add("latency", _do_latency, "ICMP round-trip statistics",
            "Send COUNT ICMP echoes and report min/avg/max/stddev RTT in ms and loss (after a warm-up echo that "
            "got its reply, not counted: a fresh path may hold its first packets while a tunnel handshakes).", 5.0)
    p.add_argument("ip", help="IPv4 or IPv6 address")
    p.add_argument("--count", type=int, default=10, help="echo requests to send")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between requests")
    p.add_argument("--no-warmup", action="store_true", help="count the first echo too (no warm-up echo)")
    p.add_argument("--warmup-wait", type=_positive, metavar="S",
                   help="warm-up: an echo every 0.2 s until the first reply, for at most this many seconds; none "
                        "answered ends the probe (default: a third of --timeout)")

    p = add("mtu", _do_mtu, "discover the path MTU",
            "Binary-search the largest don't-fragment ICMP echo (IP packet size) that gets a reply; "
            "report ICMP fragmentation-needed or a PMTU blackhole (fails). Needs CAP_NET_RAW; IPv4.", 10.0)
    p.add_argument("ip", help="IPv4 address")
    p.add_argument("--lo", type=int, default=576, help="smallest size to try")
    p.add_argument("--hi", type=int, default=9000, help="largest size to try")
    p.add_argument("--probe-timeout", type=_positive, metavar="S",
                   help="seconds to wait for each echo reply (default: from --timeout, at most 1)")

    p = add("serve", _do_serve, "HTTP echo server (probe target)",
            "Serve HTTP on PORT, answering every GET with a small JSON body naming this host, until "
            "--duration passes or the process is terminated. The target of pod and service probes.", 5.0)
    p.add_argument("--port", type=int, default=8080, help="TCP port to serve on")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on")
    p.add_argument("--duration", type=float, default=0.0, help="seconds to serve (0: until terminated)")

    p = add("wg", _do_wg, "WireGuard peer handshakes",
            "Parse 'wg show <iface|all> dump'; pass when every peer handshook recently.", 5.0)
    p.add_argument("--iface", metavar="IF", help="WireGuard interface (default: all)")
    p.add_argument("--max-age", type=_positive, default=DEFAULT_MAX_AGE,
                   help="seconds since the latest handshake for a peer to count as up")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``probe`` command to an argparse subparsers object; sub-commands set ``func``."""
    parser = subparsers.add_parser(
        "probe", help="run one network probe and print JSON",
        description="Run one network probe here and print one JSON object. Exit 0 pass, 1 fail, 2 usage.")
    add_probe_commands(parser, parser.prog)
    return parser


def build_parser(prog: str = "python -m mcdiag.probes") -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=prog,
        description="Run one network probe here and print one JSON object. Exit 0 pass, 1 fail, 2 usage.")
    add_probe_commands(parser, prog)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m mcdiag.probes``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return args.func(args)
