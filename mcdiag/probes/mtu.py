"""Path MTU probe: binary search with don't-fragment ICMP echoes.

Sizes are whole IPv4 packet sizes (IP header + ICMP header + payload), the
unit interface MTUs are configured in. The socket uses IP_PMTUDISC_PROBE: DF
is set on every packet and the kernel's cached path MTU is ignored, so each
run measures the path again instead of trusting what an earlier ICMP taught
the kernel.
"""

from __future__ import annotations

import errno
import time
from typing import Any

from ._base import ProbeUsageError, check_ip, check_timeout, errno_reason, finish, new_result
from .tcp import ICMP_DEST_UNREACH, IcmpPinger

MIN_SIZE = 68


def path_mtu(ip: str, timeout: float = 10.0, lo: int = 576, hi: int = 9000,
             probe_timeout: float | None = None, attempts: int = 2) -> dict[str, Any]:
    """Find the largest DF ICMP echo (IP packet size) that gets an echo reply.

    Fields: ``mtu`` (largest working size), ``icmp_frag_needed`` (an ICMP
    type 3 code 4 came back for a larger size), ``next_hop_mtu`` (the smallest
    MTU such an ICMP reported), ``blackhole`` (larger packets vanished with no
    ICMP at all: PMTU discovery is broken on this path), ``local_mtu`` (the
    local route/interface MTU when larger sizes could not even be sent),
    ``tried`` ({size: outcome}). ok is False on a blackhole or when nothing
    answers. Needs a raw socket (CAP_NET_RAW); IPv4 only.

    Once a size got its reply, a size waits at most ``max(0.2 s, 10 x the
    shortest RTT seen)`` (never more than ``probe_timeout``): on a short path a
    vanishing size then costs a fraction of a second, on a long one the full
    ``probe_timeout``.
    """
    timeout = check_timeout(timeout)
    addr = check_ip(ip)
    if addr.version != 4:
        raise ProbeUsageError("path_mtu supports IPv4 destinations only")
    try:
        lo, hi = int(lo), int(hi)
    except (TypeError, ValueError):
        raise ProbeUsageError("lo and hi must be integers") from None
    if not MIN_SIZE <= lo <= hi <= 65535:
        raise ProbeUsageError(f"need {MIN_SIZE} <= lo <= hi <= 65535, got lo={lo} hi={hi}")
    if probe_timeout is None:
        probe_timeout = min(1.0, max(0.2, timeout / 15))
    probe_timeout = check_timeout(probe_timeout, "probe_timeout")
    if not 1 <= int(attempts) <= 5:
        raise ProbeUsageError("attempts must be between 1 and 5")
    attempts = int(attempts)

    res = new_result("mtu", ip=str(addr), mtu=None, blackhole=None, icmp_frag_needed=False,
                     next_hop_mtu=None, local_mtu=None, lo=lo, hi=hi, tried={}, icmp_errors=[])
    started = time.monotonic()
    deadline = started + timeout
    try:
        pinger = IcmpPinger(addr, df=True, raw_only=True)
    except OSError as exc:
        return finish(res, started, False, f"cannot open a raw ICMP socket: {errno_reason(exc)} "
                      "(the mtu probe needs CAP_NET_RAW)")

    seq_box = [0]
    frag_mtus: list[int] = []
    silent: list[int] = []
    rtt_box: list[float] = []  # the shortest round trip of a reply so far

    def probe(size: int, record: bool = True, patient: bool = False) -> str:
        """Return 'ok', 'frag', 'local', 'error' or 'silent' for one size.

        Each attempt waits the short time the path's RTT allows (``patient``: the whole
        ``probe_timeout``), and a late reply to an earlier attempt of the same size counts. A size
        that stays silent is tried again patiently before it is called a black hole (below).
        """
        outcome = "silent"
        mine: set[int] = set()
        for _ in range(attempts):
            if time.monotonic() >= deadline:
                return "timeout"
            seq_box[0] += 1
            seq = seq_box[0]
            mine.add(seq)
            try:
                pinger.send(seq, ip_size=size)
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    res["local_mtu"] = pinger.local_mtu()
                    outcome = "local"
                    break
                res["tried"][str(size)] = f"send error: {errno_reason(exc)}"
                return "error"
            sent_at = time.monotonic()
            wait = probe_timeout if not rtt_box or patient else min(probe_timeout, max(0.2, 10 * rtt_box[0]))
            until = min(deadline, sent_at + wait)
            while outcome == "silent":
                events = pinger.recv(until)
                if not events:
                    break
                for ev in events:
                    if ev[1] not in mine:
                        continue
                    if ev[0] == "reply":
                        outcome = "ok"
                        rtt = time.monotonic() - sent_at
                        rtt_box[:] = [min([rtt, *rtt_box])]
                    elif ev[3] == ICMP_DEST_UNREACH and ev[4] == 4:
                        outcome = "frag"
                        if ev[5]:
                            frag_mtus.append(ev[5])
                    else:
                        outcome = "error"
                        text = pinger.describe_error(ev)
                        if text not in res["icmp_errors"]:
                            res["icmp_errors"].append(text)
            if outcome != "silent":
                break
        if record:
            res["tried"][str(size)] = outcome
            if outcome == "silent":
                silent.append(size)
        return outcome

    with pinger:
        good = None
        bad = None  # smallest size known not to work
        first = probe(lo)
        if first == "ok":
            good = lo
            if hi > good:
                r = probe(hi)
                if r == "ok":
                    good = hi
                elif r != "timeout":
                    bad = hi
        elif first != "timeout" and lo > 84 and probe(84) == "ok":
            # The path MTU may be below lo: search between a plain-sized echo and lo.
            good, bad = 84, lo
        if good is None:
            errs = f" ({res['icmp_errors'][0]})" if res["icmp_errors"] else ""
            return finish(res, started, False,
                          f"no ICMP echo reply from {addr} even for {min(lo, 84)}-byte packets{errs}: "
                          "host unreachable or ICMP echo blocked, cannot measure the path MTU")
        def bisect(good: int, bad: int | None) -> tuple[int, int | None]:
            while bad is not None and bad - good > 1 and time.monotonic() < deadline:
                hint = None
                if res["local_mtu"] and good < res["local_mtu"] < bad:
                    hint = res["local_mtu"]
                for m in sorted(set(frag_mtus)):
                    if good < m < bad:
                        hint = m
                        break
                    if m == good and m + 1 < bad:
                        hint = m + 1  # confirm the reported next-hop MTU is the limit
                        break
                mid = hint if hint is not None else (good + bad) // 2
                if hint is not None and str(mid) in res["tried"]:
                    mid = (good + bad) // 2
                r = probe(mid)
                if r == "ok":
                    good = mid
                elif r == "timeout":
                    break
                else:
                    bad = mid
            return good, bad

        def larger_silent(good: int) -> list[int]:
            # A frag-needed (often from the local tunnel interface, e.g. wg at 1420) only explains
            # the sizes above the MTU it reported; a silent size at or below it is still suspect.
            limit = min(frag_mtus) if frag_mtus else None
            return sorted(s for s in silent if s > good and (limit is None or s <= limit))

        good, bad = bisect(good, bad)
        # A silent size is a black hole only if it stays silent when tried again once the path is
        # known to answer: the first packets of a fresh path (a tunnel handshake, neighbour
        # resolution, a loaded gateway) can be held for seconds, and a size tried then says
        # nothing. A size that answers now moves the search up from it.
        stalled = False
        while (suspects := larger_silent(good)) and time.monotonic() < deadline:
            size = suspects[0]
            again = probe(size, record=False, patient=True)
            if again != "ok":
                # Still silent: does the working size answer right now? If it does not either, the
                # path stalled while it was measured, which says nothing of sizes.
                if again == "silent":
                    stalled = probe(good, record=False, patient=True) not in ("ok", "timeout")
                    res["control"] = {"size": good, "answered": not stalled}
                break
            res["tried"][str(size)] = "ok (late)"
            silent.remove(size)
            good = size
            above = [int(k) for k, v in res["tried"].items() if int(k) > good and not v.startswith("ok")]
            bad = min(above) if above else None
            if bad is None and good < hi:
                r = probe(hi)
                good, bad = (hi, None) if r == "ok" else (good, None if r == "timeout" else hi)
            good, bad = bisect(good, bad)
    res["mtu"] = good
    if frag_mtus:
        res["icmp_frag_needed"] = True
        res["next_hop_mtu"] = min(frag_mtus)
    # A black hole: a size above the working one vanished, twice, although nothing said it was too big.
    res["blackhole"] = bool(larger_silent(good)) and not stalled
    complete = bad is None or bad - good <= 1
    if stalled:
        return finish(res, started, False,
                      f"{addr} stopped answering even {good}-byte packets while the larger sizes were tried: the "
                      "path is lossy or stalled, so a silent larger size proves nothing")
    if res["blackhole"]:
        return finish(res, started, False,
                      f"packets larger than {good} bytes to {addr} vanish without an ICMP "
                      "fragmentation-needed reply (PMTU blackhole): lower the MTU or allow ICMP type 3 code 4")
    if not complete:
        return finish(res, started, False,
                      f"path MTU search to {addr} not finished within {timeout}s "
                      f"(works at {good}, fails at {bad})")
    return finish(res, started, True, "")
