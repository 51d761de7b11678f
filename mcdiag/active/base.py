"""What every active check shares: the probe executor, probe pod specs, and reading probe results.

An active check chooses nodes and targets from the views (:mod:`mcdiag.active.targets`)
and asks the run's probe executor (``ctx.probes``) to run ``mcdiag probe ...`` there.
Without an executor (``--passive``, snapshots) every active check skips. A probe pod
that never starts makes the check ``error`` with the reason the pod gives (``ErrImagePull`` ...).
"""

from __future__ import annotations

import uuid
from types import MappingProxyType
from typing import Any

from mcdiag.active import targets as T
from mcdiag.active.executor import PodResult, PodSpec
from mcdiag.facts import cluster, netmaker
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Outcome
from mcdiag.run.options import DEFAULT_ANSWER_TIMEOUT

BOTH = frozenset({"submariner", "netmaker"})
#: What a sender of the firewall checks sends: this many marked datagrams, this many seconds apart.
SEND_COUNT, SEND_INTERVAL = 3, 0.2
#: Seconds from a sender's first datagram to its last.
SEND_SPAN = (SEND_COUNT - 1) * SEND_INTERVAL


SUBMARINER_DOCS = "https://submariner.io/operations/troubleshooting/"


NETMAKER_DOCS = netmaker.NETMAKER_DOCS


def marker() -> str:
    """A fresh marker for one listener/sender pair."""
    return "mcdiag-" + uuid.uuid4().hex[:12]


def not_started(*results: PodResult | None) -> str | None:
    """The problem of the first probe pod that gave no result (never started, no JSON), or ``None``."""
    for r in results:
        if r is not None and r.data is None:
            return r.problem or f"probe pod {r.pod} gave no result"
    return None


def listener_problem(received: PodResult, sent: PodResult | None) -> str | None:
    """Why a listener/sender pair decided nothing: a pod never started, or the listener never listened."""
    if (problem := not_started(sent, received)) is not None:  # a sender that never ran explains a stopped listener
        return problem
    if sent is None:
        return f"the listener on {received.node} never started listening: {reason(received)}"
    return None


def reason(r: PodResult) -> str:
    """The probe's own reason, or its problem."""
    return str((r.data or {}).get("reason") or r.problem or "no reason given")


class ActiveCheck(Check):
    """Shared plumbing: skip without an executor; the probe budget; pod specs."""

    providers = BOTH
    timeout = 240.0
    provider_docs = MappingProxyType({"netmaker": NETMAKER_DOCS})

    def run(self, ctx: CheckContext) -> Outcome:
        if ctx.probes is None:
            return self.skip("passive run (--passive or a snapshot): active checks start no probe pod")
        return self.probe(ctx, ctx.probes)

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:  # pragma: no cover - abstract
        """Run the probes and judge them."""
        raise NotImplementedError

    @staticmethod
    def spec(node: str, argv: list[str], name: str, host_network: bool = False, timeout: float = 15.0) -> PodSpec:
        """A probe pod running ``mcdiag probe ARGV`` on ``node``."""
        return PodSpec(node=node, argv=["mcdiag", "probe", *argv], name=name, host_network=host_network, timeout=timeout)

    @staticmethod
    def answer_timeout(ctx: CheckContext) -> float:
        """Seconds a probe waits for an answer across the clusters before it calls the path silent (``--answer-timeout``)."""
        return float(ctx.option("answer_timeout", DEFAULT_ANSWER_TIMEOUT) or DEFAULT_ANSWER_TIMEOUT)

    def datagram_grace(self, ctx: CheckContext) -> float:
        """Seconds a listener still waits once its sender is done: the first datagram gets ``--answer-timeout`` in all.

        The sender (:meth:`send_argv`) spreads its datagrams over :data:`SEND_SPAN` seconds before it ends.
        """
        return max(0.5, self.answer_timeout(ctx) - SEND_SPAN)

    @staticmethod
    def send_argv(to: str, mark: str, *extra: str) -> list[str]:
        """``udp-send`` of :data:`SEND_COUNT` marked datagrams to ``to`` (IP:PORT), :data:`SEND_INTERVAL` s apart."""
        return ["udp-send", "--to", to, "--marker", mark, "--count", str(SEND_COUNT), "--interval", f"{SEND_INTERVAL:g}", *extra]

    @staticmethod
    def listen_timeout(probes: Any) -> float:
        """Seconds a listener waits for its datagram: the sender's pod must start meanwhile."""
        return float(min(getattr(probes, "start_timeout", 60.0), 60.0) + 10.0)

    def gateway(self, view: ClusterView) -> T.NodeChoice:
        """The view's gateway node (cached per view)."""
        return view.fact(T.gateway_node)

    def providers_differ(self, ctx: CheckContext) -> Outcome | None:
        """Skip a pair joined by two different providers."""
        pa, pb = ctx.a.fact(cluster.detect_provider), ctx.b.fact(cluster.detect_provider)
        if pa != pb:
            return self.skip(f"{ctx.a.name} uses {pa}, {ctx.b.name} uses {pb}: no tunnel between them to probe")
        return None

    def gateway_and_target(self, ctx: CheckContext, probes: Any) -> tuple[Any, Any, Outcome | None]:
        """A's gateway node (the probe source) and B's shared target pod, or an error outcome."""
        a_gw = self.gateway(ctx.a)
        if a_gw.node is None:
            return a_gw, None, self.error(f"{ctx.a.name}: {a_gw.reason}")
        target, err = self.target_of(ctx, probes)
        return a_gw, target, err

    def target_of(self, ctx: CheckContext, probes: Any) -> tuple[Any, Outcome | None]:
        """B's shared target pod on B's gateway node, or an error outcome."""
        gw = self.gateway(ctx.b)
        if gw.node is None:
            return None, self.error(f"{ctx.b.name}: {gw.reason}: nowhere to put the target pod")
        target = probes.target(ctx.b.name, gw.name)
        if target.problem:
            return None, self.error(f"{ctx.b.name}: {target.problem}")
        return target, None
