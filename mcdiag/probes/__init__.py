"""Network probes: plain functions returning JSON-able dicts.

Every result has ``probe`` (name), ``ok`` (bool) and ``reason`` (one sentence
explaining a failure, empty on success) plus probe-specific fields. Network
failures never raise; unusable arguments raise :class:`ProbeUsageError`.
Probes run wherever they are called: this host, a network namespace
(``ip netns exec``), or a pod (``python -m mcdiag.probes ...``).
"""

from ._base import ProbeUsageError
from .dns import dns_query
from .http import http_get
from .mtu import path_mtu
from .tcp import latency, ping, tcp_connect
from .udp import new_marker, udp_listen, udp_send
from .wg import parse_wg_dump, wg_status

PROBES = {
    "udp-listen": udp_listen,
    "udp-send": udp_send,
    "dns": dns_query,
    "http": http_get,
    "tcp": tcp_connect,
    "ping": ping,
    "latency": latency,
    "mtu": path_mtu,
    "wg": wg_status,
}

__all__ = [
    "PROBES",
    "ProbeUsageError",
    "dns_query",
    "http_get",
    "latency",
    "new_marker",
    "parse_wg_dump",
    "path_mtu",
    "ping",
    "tcp_connect",
    "udp_listen",
    "udp_send",
    "wg_status",
]
