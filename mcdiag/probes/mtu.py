"""Path MTU probe: a search in rounds of don't-fragment ICMP echoes.

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
ROUND_SIZES = 10
"""How many evenly spaced sizes one search round sends between the working and the failing size. A round
costs one wait whatever its size, so the rounds a search needs (``log(hi - lo) / log(ROUND_SIZES + 1)``: 3
for 576..1500) are what a black hole costs; 10 echoes of up to the path MTU back to back are still a
small burst (about 15 KB on a 1500-byte path)."""


def path_mtu(ip: str, timeout: float = 10.0, lo: int = 576, hi: int = 9000,
             probe_timeout: float | None = None, attempts: int = 2) -> dict[str, Any]:
    """Find the largest DF ICMP echo (IP packet size) that gets an echo reply.

    Fields: ``mtu`` (largest working size), ``icmp_frag_needed`` (an ICMP
    type 3 code 4 came back for a larger size), ``next_hop_mtu`` (the smallest
    MTU such an ICMP reported), ``blackhole`` (larger packets vanished with no
    ICMP at all: PMTU discovery is broken on this path), ``local_mtu`` (the
    local route/interface MTU when larger sizes could not even be sent),
    ``tried`` ({size: outcome}), ``control`` (the working size tried again
    when a larger one stayed silent). ok is False on a blackhole or when
    nothing answers. Needs a raw socket (CAP_NET_RAW); IPv4 only.

    First ``lo`` is tried (then 84 when ``lo`` gets no reply), then ``hi``. The
    search between the working and the failing size goes in rounds: a round
    sends its sizes back to back, one echo each, and waits once, until every
    size has an outcome or the short wait expires. A round holds the sizes an
    ICMP fragmentation-needed or the local MTU named (``m`` and ``m + 1``: a
    healthy path behind a tunnel is measured in one round) and
    ``ROUND_SIZES`` evenly spaced sizes below them (when the named size
    vanishes, the same round has already narrowed the search below it). Once
    a size got its reply,
    the short wait is ``max(0.2 s, 10 x the shortest RTT seen)`` (never more
    than ``probe_timeout``): on a short path a round with a vanishing size
    then costs a fraction of a second, on a long one the full
    ``probe_timeout``. A reply to any earlier echo of a size counts for it,
    whenever it comes.

    ``attempts``: how many echoes the first sizes, the confirmation and the
    control send, each waiting its turn. The rounds send each size once: a
    size silent in its round is not sent again there, because the smallest
    silent size above the working one is tried again patiently (``attempts``
    x ``probe_timeout``) before anything is called a black hole, and a size
    that answers then moves the search up from it; the working size is tried
    again too (the control) so a path that stopped answering altogether is
    not called a black hole.
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

    tried: dict[str, str] = res["tried"]  # {size: outcome}, the search's whole state
    seq_box = [0]
    sizes: dict[int, int] = {}  # sequence number -> size of every echo sent
    sent_at: dict[int, float] = {}
    answers: dict[int, str] = {}  # sequence number -> its own outcome
    frag_mtus: list[int] = []
    silent: list[int] = []  # sizes that vanished (black hole suspects), until something answers for them
    rtt_box: list[float] = []  # the shortest round trip of a reply so far

    def settle(size: int, outcome: str) -> None:
        """Record a size's outcome; a silent size that answers after all becomes 'ok (late)'."""
        key = str(size)
        if key not in tried:
            tried[key] = outcome
        elif tried[key] == "silent":
            tried[key] = "ok (late)" if outcome == "ok" else outcome
            if size in silent:
                silent.remove(size)

    def send(size: int) -> int | None:
        """Send one echo of ``size``; return its sequence number (None: the send failed, recorded)."""
        seq_box[0] += 1
        seq = seq_box[0]
        try:
            pinger.send(seq, ip_size=size)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                res["local_mtu"] = pinger.local_mtu()
                settle(size, "local")
            else:
                settle(size, f"send error: {errno_reason(exc)}")
            return None
        sizes[seq] = size
        sent_at[seq] = time.monotonic()
        return seq

    def take(events: list[tuple]) -> None:
        for ev in events:
            size = sizes.get(ev[1])
            if size is None:
                continue
            if ev[0] == "reply":
                outcome = "ok"
                rtt = time.monotonic() - sent_at[ev[1]]
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
            answers.setdefault(ev[1], outcome)
            settle(size, outcome)

    def wait(until: float, done) -> bool:
        """Take events until ``done()`` or ``until``; return ``done()``."""
        while not done():
            events = pinger.recv(until)
            if not events:
                return done()
            take(events)
        return True

    def short_wait(patient: bool = False) -> float:
        return probe_timeout if not rtt_box or patient else min(probe_timeout, max(0.2, 10 * rtt_box[0]))

    def is_ok(outcome: str | None) -> bool:
        return outcome is not None and outcome.startswith("ok")

    def probe(size: int, patient: bool = False, own: bool = False) -> str:
        """Return 'ok', 'frag', 'local', 'error', 'silent' or 'timeout' for one size.

        Up to ``attempts`` echoes, each waiting the short time the path's RTT allows (``patient``: the
        whole ``probe_timeout``); a late reply to an earlier echo of the same size counts. ``own``: only
        this call's echoes count and nothing is recorded (the control of a size known to work).
        """
        key = str(size)
        mine: list[int] = []
        for _ in range(attempts):
            if time.monotonic() >= deadline:
                return "timeout"
            seq = send(size)
            if seq is None:
                break
            mine.append(seq)
            until = min(deadline, time.monotonic() + short_wait(patient))
            if own and wait(until, lambda: any(s in answers for s in mine)):
                return next(answers[s] for s in mine if s in answers)
            if not own and wait(until, lambda: tried.get(key, "silent") != "silent"):
                break
        if own:
            return "silent"
        if key not in tried:
            tried[key] = "silent"
            silent.append(size)
        outcome = tried[key]
        return "ok" if is_ok(outcome) else outcome if outcome in ("frag", "local", "silent") else "error"

    def state() -> tuple[int | None, int | None]:
        """(the largest size that answered, the smallest size above it that did not)."""
        done = {int(k): v for k, v in tried.items()}
        oks = [s for s, v in done.items() if is_ok(v)]
        if not oks:
            return None, None
        good = max(oks)
        above = [s for s, v in done.items() if s > good and not is_ok(v)]
        return good, min(above) if above else None

    def search_round(good: int, bad: int) -> None:
        """Send one round of sizes strictly between good and bad, wait once, record the silent ones."""
        hints = ([res["local_mtu"], res["local_mtu"] + 1] if res["local_mtu"] else []) + \
            [x for m in sorted(set(frag_mtus)) for x in (m, m + 1)]
        hints = sorted({h for h in hints if good < h < bad and str(h) not in tried})
        top = hints[0] if hints else bad
        if top - good - 1 <= ROUND_SIZES:
            spaced = range(good + 1, top)
        else:
            spaced = [good + i * (top - good) // (ROUND_SIZES + 1) for i in range(1, ROUND_SIZES + 1)]
        batch = sorted(set(spaced) | set(hints))
        for size in batch:
            send(size)
        until = min(deadline, time.monotonic() + short_wait())

        def open_sizes() -> list[int]:
            # The sizes still without an outcome that matter: not below a size that answered, not
            # above one that failed for sure (frag-needed, local MTU, an ICMP error).
            now_good = state()[0] or 0
            failed = [int(k) for k, v in tried.items() if int(k) > now_good and not is_ok(v) and v != "silent"]
            limit = min(failed) if failed else None
            return [s for s in batch if str(s) not in tried and s > now_good and (limit is None or s < limit)]
        wait(until, lambda: not open_sizes())
        # The ones that still matter vanished: black hole suspects. The sizes the round stopped waiting
        # for because they no longer mattered are not recorded (a reply that still comes is).
        for size in open_sizes():
            tried[str(size)] = "silent"
            silent.append(size)

    def larger_silent(good: int) -> list[int]:
        # A frag-needed (often from the local tunnel interface, e.g. wg at 1420) only explains
        # the sizes above the MTU it reported; a silent size at or below it is still suspect.
        limit = min(frag_mtus) if frag_mtus else None
        return sorted(s for s in silent if s > good and (limit is None or s <= limit))

    stalled = False
    confirmed: set[int] = set()  # silent sizes that stayed silent when tried again patiently
    with pinger:
        if probe(lo) not in ("ok", "timeout") and lo > 84 and state()[0] is None:
            # The path MTU may be below lo: search between a plain-sized echo and lo.
            probe(84)
        good, bad = state()
        if good is None:
            errs = f" ({res['icmp_errors'][0]})" if res["icmp_errors"] else ""
            return finish(res, started, False,
                          f"no ICMP echo reply from {addr} even for {min(lo, 84)}-byte packets{errs}: "
                          "host unreachable or ICMP echo blocked, cannot measure the path MTU")
        while time.monotonic() < deadline:
            good, bad = state()
            if bad is None and good < hi and str(hi) not in tried:
                probe(hi)
            elif bad is not None and bad - good > 1:
                search_round(good, bad)
            elif suspects := larger_silent(good):
                # A silent size is a black hole only if it stays silent when tried again once the
                # path is known to answer: the first packets of a fresh path (a tunnel handshake,
                # neighbour resolution, a loaded gateway) can be held for seconds, and a lost echo
                # says nothing. A size that answers now moves the search up from it.
                size = suspects[0]
                if probe(size, patient=True) != "silent":
                    continue
                confirmed.add(size)
                # Still silent: does the working size answer right now? If it does not either, the
                # path stalled while it was measured, which says nothing of sizes.
                control = probe(good, patient=True, own=True)
                stalled = control not in ("ok", "timeout")
                res["control"] = {"size": good, "answered": not stalled}
                if stalled or tried[str(size)] == "silent":
                    break
                # It answered while the control was tried: the search goes on from it.
            else:
                break
        good, bad = state()
    res["mtu"] = good
    if frag_mtus:
        res["icmp_frag_needed"] = True
        res["next_hop_mtu"] = min(frag_mtus)
    # A black hole: a size above the working one vanished, twice, although nothing said it was too big.
    suspects = larger_silent(good)
    res["blackhole"] = bool(suspects) and suspects[0] in confirmed and not stalled
    # A silent size the deadline left unconfirmed proves nothing yet: the search is not finished.
    complete = (bad is None or bad - good <= 1) and (not suspects or suspects[0] in confirmed)
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
