"""Runs for the report tests: a blocked tunnel with canned probe results, and emulated clusters with all five statuses.

The blocked tunnel is a whole :class:`~mcdiag.run.session.Session` run (gate, prefetch, every check,
causes) on two Submariner views whose probe pods are answered by ``FakeProbes`` (as in
tests/active/test_logic.py): UDP/4500 from east never reaches west's gateway, so everything that
crosses east -> west fails, while west -> east works (with a slow RTT: a warning), the VXLAN
probe pod never starts (an error) and the Netmaker checks do not apply (skips).
"""

from __future__ import annotations

from typing import Any

from mcdiag.model import RunReport
from mcdiag.run.options import Options
from mcdiag.run.session import Session
from tests.active.test_logic import FakeProbes, bad, ok, submariner
from tests.test_core import OVERLAP

SENDERS = ("tcp", "latency", "mtu", "http", "dns")


def blocked_answer(cluster: str, node: str, argv: list[str]) -> Any:
    """East -> west blocked at UDP/4500; west -> east fine but slow; VXLAN probe pods never start."""
    verb = argv[0]
    if verb == "udp-listen" and "4800" in argv:
        return "probe pod never started within 5s (ErrImagePull: registry unreachable)"
    if verb == "udp-listen":
        port = argv[argv.index("--port") + 1]
        if cluster == "west" and port == "4500":
            return bad("no datagram arrived")
        return ok(src_ip="198.51.100.1", src_port=4500)
    if verb == "udp-send":
        return ok()
    if cluster == "east":  # everything east sends towards west is lost in the tunnel
        if verb == "dns":
            return ok(rcode_class="answer", answers=["10.97.1.1"])
        if verb == "mtu":
            return bad("no ICMP echo reply", mtu=None)
        if verb == "latency":
            return bad("100% loss", loss_pct=100.0, sent=10, received=0)
        return bad("no answer to TCP SYN", outcome="timeout")
    if verb == "dns":
        return ok(rcode_class="answer", answers=["10.96.1.1"])
    if verb == "mtu":
        return ok(mtu=1380, blackhole=False, icmp_frag_needed=True, next_hop_mtu=1380)
    if verb == "latency":
        return ok(min_ms=150.0, avg_ms=160.5, max_ms=171.0, loss_pct=0.0, sent=10, received=10)
    if verb == "http":
        return ok(outcome="response", status=200)
    return ok(outcome="connected", connect_s=0.002)


class CannedSession(Session):
    """A session whose probe pods are answered by :class:`FakeProbes` instead of a cluster."""

    def __init__(self, options: Options, probes: Any, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._canned = probes

    def _executor(self) -> Any:
        return self._canned


def connecting(view: Any) -> Any:
    """The gateway's connection to its peer is stuck ``connecting`` (as with a blocked tunnel)."""
    for obj in view.source.objects:
        if obj["kind"] == "Gateway":
            for conn in obj["status"]["connections"]:
                conn["status"] = "connecting"
                conn["statusMessage"] = "Failed to successfully connect: no response to IKE_SA_INIT"
    return view


def blocked_tunnel_report(**options: Any) -> RunReport:
    """The whole run with the tunnel blocked east -> west (all five statuses, causes assigned)."""
    views = [connecting(submariner("east", "west")), connecting(submariner("west", "east"))]
    opts = Options(service="nginx-test/nginx", **options)
    return CannedSession(opts, FakeProbes(blocked_answer)).run(views=views)


def five_status_clusters(emulate: Any) -> Any:
    """Emulated clusters whose passive run has every status: pass, warn, fail (CIDR overlap), skip, error (403)."""
    clusters = emulate(OVERLAP)
    clusters["west"].forbid("list", "pods")
    return clusters
