"""path_mtu's search against a scripted path (a unit test: the pinger is replaced, no packets).

The real paths are in test_mtu.py (namespaces, a router with a lowered MTU). Here the path's
timing is scripted, which namespaces cannot do without netem: replies that come late on a busy
path, and a path that stops answering altogether while it is measured.
"""

from __future__ import annotations

import heapq
import time

import pytest

from mcdiag.probes import mtu as mtu_probe


class ScriptedPath:
    """Echo replies for sizes up to ``mtu`` after ``delay(n)`` seconds (n: the n-th packet sent).

    Larger sizes get an ICMP fragmentation-needed naming ``mtu`` when ``frag``, else vanish (a black hole).
    ``frag_mtu``: sizes above it get a fragmentation-needed naming it, sizes between ``mtu`` and it vanish
    (a black hole behind a tunnel interface that reports its own MTU). ``expired`` counts the waits that
    ended with nothing (the silent waits a search cost), ``sizes`` the size of every packet sent.
    """

    def __init__(self, mtu: int, delay, answers=lambda n: True, frag: bool = False, frag_mtu: int | None = None):
        self.mtu, self.delay, self.answers = mtu, delay, answers
        self.frag_mtu = mtu if frag else frag_mtu
        self.sent = 0
        self.expired = 0
        self.sizes: list[int] = []
        self.pending: list[tuple[float, int, int]] = []

    # IcmpPinger's interface, as path_mtu uses it
    def __call__(self, addr, df=True, raw_only=True):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def send(self, seq: int, ip_size: int) -> None:
        self.sent += 1
        self.sizes.append(ip_size)
        if not self.answers(self.sent):
            return
        if ip_size <= self.mtu:
            heapq.heappush(self.pending, (time.monotonic() + self.delay(self.sent), seq, ("reply", seq, "10.0.0.2", ip_size)))
        elif self.frag_mtu is not None and ip_size > self.frag_mtu:
            event = ("error", seq, "10.0.0.1", mtu_probe.ICMP_DEST_UNREACH, 4, self.frag_mtu)
            heapq.heappush(self.pending, (time.monotonic() + 0.001, seq, event))

    def recv(self, until: float):
        if not self.pending or self.pending[0][0] > until:
            time.sleep(max(0.0, until - time.monotonic()))
            self.expired += 1
            return []
        at, _seq, event = heapq.heappop(self.pending)
        time.sleep(max(0.0, at - time.monotonic()))
        return [event]

    def local_mtu(self):
        return None

    def describe_error(self, ev):
        return "error"


def run(monkeypatch, path: ScriptedPath, **kw) -> dict:
    monkeypatch.setattr(mtu_probe, "IcmpPinger", path)
    return mtu_probe.path_mtu("10.0.0.2", lo=576, hi=1500, probe_timeout=0.5, timeout=20, **kw)


def test_late_replies_on_a_busy_path_are_not_a_black_hole(monkeypatch):
    """The first reply is quick (1 ms), the later ones take 0.3 s: past the short wait, within the whole one."""
    res = run(monkeypatch, ScriptedPath(1400, lambda n: 0.001 if n == 1 else 0.3, frag=True))
    assert res["ok"], res
    assert res["mtu"] == 1400 and res["blackhole"] is False


def test_a_real_black_hole_is_still_found_and_confirmed(monkeypatch):
    res = run(monkeypatch, ScriptedPath(1400, lambda n: 0.001))
    assert not res["ok"] and res["blackhole"] is True and res["mtu"] == 1400
    assert res["control"] == {"size": 1400, "answered": True}


def test_a_path_that_stops_answering_is_not_called_a_black_hole(monkeypatch):
    """Replies stop after the first few packets: the sizes that went silent prove nothing."""
    res = run(monkeypatch, ScriptedPath(9000, lambda n: 0.001, answers=lambda n: n == 1))
    assert not res["ok"] and res["blackhole"] is False
    assert res["control"]["answered"] is False
    assert "stopped answering" in res["reason"]


@pytest.mark.parametrize("attempts", [1, 2])
def test_the_healthy_path_is_measured(monkeypatch, attempts):
    res = run(monkeypatch, ScriptedPath(1500, lambda n: 0.001), attempts=attempts)
    assert res["ok"] and res["mtu"] == 1500 and res["blackhole"] is False


def test_a_fresh_path_that_holds_its_first_packets_is_measured(monkeypatch):
    """Replies are held for the first 1.2 s (a tunnel handshake, neighbour resolution on a loaded gateway).

    The first size tried (576) goes unanswered twice within that time; 84 then answers. Seen on a
    loaded 8-cluster lab as "black hole above 575 bytes" on healthy paths: the silent 576 is tried
    again before anything is called a black hole, answers, and the search goes on from it.
    """
    hold_until = time.monotonic() + 1.2
    res = run(monkeypatch, ScriptedPath(1400, lambda n: max(0.001, hold_until - time.monotonic()), frag=True))
    assert res["ok"], res
    assert res["mtu"] == 1400 and res["blackhole"] is False
    assert res["tried"]["576"] == "ok (late)"


def test_a_black_hole_behind_a_tunnel_costs_a_few_silent_waits(monkeypatch):
    """The lab's fault: replies up to 1216 bytes, silence for 1217..1420, frag-needed from the local wg at 1420.

    Called as the path-mtu check calls it (lo 576, hi 9000). The search goes in rounds that each wait once:
    at most 3 rounds end silent between 576 and 1420, then the smallest silent size is tried again
    patiently (``attempts`` = 2 waits) and the working size answers the control. One size at a time this
    cost 16 silent waits.
    """
    path = ScriptedPath(1216, lambda n: 0.0005, frag_mtu=1420)
    monkeypatch.setattr(mtu_probe, "IcmpPinger", path)
    res = mtu_probe.path_mtu("10.0.0.2", timeout=25, probe_timeout=0.5)
    print(f"\nblack hole at 1216 behind frag-needed 1420: {res['duration_s']}s, {path.expired} silent waits, "
          f"{path.sent} echoes")
    assert not res["ok"] and res["blackhole"] is True and res["mtu"] == 1216, res
    assert res["icmp_frag_needed"] is True and res["next_hop_mtu"] == 1420
    assert res["control"] == {"size": 1216, "answered": True}
    assert res["tried"]["1217"] == "silent" and res["tried"]["1421"] == "frag"
    assert path.expired <= 5, path.expired
    assert "PMTU blackhole" in res["reason"]


def test_a_healthy_path_behind_a_tunnel_is_measured_in_the_hint_round(monkeypatch):
    """The hi size gets frag-needed naming 1420; one round holds 1420 and 1421 (and sizes below): nothing waits."""
    path = ScriptedPath(1420, lambda n: 0.0005, frag=True)
    monkeypatch.setattr(mtu_probe, "IcmpPinger", path)
    res = mtu_probe.path_mtu("10.0.0.2", timeout=25, probe_timeout=0.5)
    assert res["ok"] and res["mtu"] == 1420 and res["blackhole"] is False, res
    assert res["tried"]["1420"] == "ok" and res["tried"]["1421"] == "frag"
    assert path.expired == 0
    assert path.sent <= 2 + mtu_probe.ROUND_SIZES + 2  # lo, hi, one round


@pytest.mark.parametrize("lost", range(3, 14))
def test_a_lost_echo_of_a_working_size_is_no_black_hole(monkeypatch, lost):
    """One echo vanishes (each of the first round's in turn) on a healthy path: the size is tried again."""
    path = ScriptedPath(1400, lambda n: 0.001, answers=lambda n: n != lost, frag=True)
    res = run(monkeypatch, path)
    assert path.sizes[lost - 1] <= 1400  # the lost echo was of a working size
    assert res["ok"] and res["mtu"] == 1400 and res["blackhole"] is False, res
    assert all(v != "silent" for k, v in res["tried"].items() if int(k) <= 1400), res["tried"]


@pytest.mark.parametrize("lost", [16, 22])
def test_a_lost_echo_does_not_lower_a_black_hole_s_mtu(monkeypatch, lost):
    """A black hole above 1400 and one echo of a working size lost in the second round: still 1400."""
    path = ScriptedPath(1400, lambda n: 0.001, answers=lambda n: n != lost)
    res = run(monkeypatch, path)
    assert path.sizes[lost - 1] <= 1400  # the lost echo was of a working size
    assert not res["ok"] and res["blackhole"] is True and res["mtu"] == 1400, res
    assert res["control"] == {"size": 1400, "answered": True}


def test_a_silent_size_the_deadline_left_unconfirmed_is_no_black_hole_yet(monkeypatch):
    """The deadline comes before the silent sizes could be tried again: the search is not finished."""
    monkeypatch.setattr(mtu_probe, "IcmpPinger", ScriptedPath(1400, lambda n: 0.001))
    res = mtu_probe.path_mtu("10.0.0.2", lo=576, hi=1500, probe_timeout=0.5, timeout=0.7)
    assert not res["ok"] and res["blackhole"] is False, res
    assert "not finished" in res["reason"] and "control" not in res


def test_a_dead_path_says_so(monkeypatch):
    path = ScriptedPath(1500, lambda n: 0.001, answers=lambda n: False)
    res = run(monkeypatch, path)
    assert not res["ok"] and res["mtu"] is None
    assert "no ICMP echo reply from 10.0.0.2 even for 84-byte packets" in res["reason"]
    assert path.sizes == [576, 576, 84, 84]
