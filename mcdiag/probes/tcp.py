"""TCP connect, ICMP echo (ping) and latency probes.

ICMP uses a raw socket when allowed (CAP_NET_RAW) and otherwise the
unprivileged ICMP "ping socket" (needs net.ipv4.ping_group_range).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import statistics
import struct
import time
from typing import Any

from ._base import (
    ProbeUsageError,
    check_count,
    check_ip,
    check_port,
    check_timeout,
    errno_reason,
    finish,
    new_result,
)

# Linux socket option values missing from Python's socket module.
IP_MTU_DISCOVER = 10
IP_MTU = 14
IP_PMTUDISC_PROBE = 3

ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
ICMP6_DEST_UNREACH = 1
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3
ICMP6_ECHO_REQUEST = 128
ICMP6_ECHO_REPLY = 129

_UNREACH4 = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}
_UNREACH6 = {0: "no route", 1: "administratively prohibited", 3: "address unreachable", 4: "port unreachable"}


def split_host_port(value: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``IP:PORT`` / ``[V6]:PORT`` / ``IP`` (with a default port)."""
    value = value.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise ProbeUsageError(f"bad address {value!r}: missing ']'")
        port_s = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port_s = value.partition(":")
    else:
        host, port_s = value, ""
    if not host:
        raise ProbeUsageError(f"bad address {value!r}: empty host")
    if not port_s:
        if default_port is None:
            raise ProbeUsageError(f"bad address {value!r}: expected HOST:PORT")
        return host, default_port
    return host, check_port(port_s)


# --------------------------------------------------------------------------- tcp


def tcp_connect(ip: str, port: int, timeout: float = 3.0) -> dict[str, Any]:
    """Open (and close) a TCP connection to ip:port.

    ``outcome`` is ``connected``, ``refused`` (RST: host reachable, nothing
    listening), ``timeout`` (SYN unanswered: filtered or blackholed),
    ``unreachable`` (ICMP/route error) or ``error``.
    """
    timeout = check_timeout(timeout)
    port = check_port(port)
    if not isinstance(ip, str) or not ip:
        raise ProbeUsageError("ip must be a non-empty string")
    host = ip.strip("[]")
    res = new_result("tcp", ip=host, port=port, timeout=timeout, outcome=None, connect_s=None)
    started = time.monotonic()
    try:
        addr = ipaddress.ip_address(host)
        family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        target: tuple = (host, port)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            res["outcome"] = "error"
            return finish(res, started, False, f"cannot resolve {host}: {exc}")
        family, _, _, _, target = infos[0]
        res["resolved"] = target[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    t0 = time.monotonic()
    try:
        sock.connect(target)
        res["connect_s"] = round(time.monotonic() - t0, 6)
        res["outcome"] = "connected"
        try:
            local = sock.getsockname()
            res["local"] = f"{local[0]}:{local[1]}"
        except OSError:
            pass
        return finish(res, started, True, "")
    except TimeoutError:
        res["outcome"] = "timeout"
        return finish(res, started, False,
                      f"no answer to TCP SYN to {host}:{port} within {timeout}s (filtered or dropped)")
    except ConnectionRefusedError:
        res["outcome"] = "refused"
        return finish(res, started, False,
                      f"connection to {host}:{port} refused: host reachable but nothing listens on the port")
    except OSError as exc:
        res["outcome"] = ("unreachable" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
                          else "error")
        return finish(res, started, False, f"connect to {host}:{port} failed: {errno_reason(exc)}")
    finally:
        sock.close()


# --------------------------------------------------------------------------- icmp


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class IcmpPinger:
    """Send ICMP echo requests and classify what comes back.

    ``recv`` yields events: ``("reply", seq, src, size)`` and
    ``("error", seq, src, type, code, next_hop_mtu)`` for ICMP errors that
    quote one of our requests (only visible with a raw socket).
    """

    def __init__(self, dst: ipaddress.IPv4Address | ipaddress.IPv6Address, *, df: bool = False,
                 raw_only: bool = False):
        self.dst = dst
        self.v6 = dst.version == 6
        self.family = socket.AF_INET6 if self.v6 else socket.AF_INET
        proto = socket.IPPROTO_ICMPV6 if self.v6 else socket.IPPROTO_ICMP
        self.ident = os.getpid() & 0xFFFF
        try:
            self.sock = socket.socket(self.family, socket.SOCK_RAW, proto)
            self.method = "raw"
        except PermissionError:
            if raw_only:
                raise
            self.sock = socket.socket(self.family, socket.SOCK_DGRAM, proto)
            self.method = "dgram"
            self.sock.bind(("::", 0) if self.v6 else ("0.0.0.0", 0))
            self.ident = self.sock.getsockname()[1]
        if df and not self.v6:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        self.sock.setblocking(False)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> IcmpPinger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def local_mtu(self) -> int | None:
        """Return the kernel's MTU towards dst (connected raw IPv4 socket), if known."""
        if self.v6:
            return None
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.connect((str(self.dst), 9))
                return s.getsockopt(socket.IPPROTO_IP, IP_MTU)
            finally:
                s.close()
        except OSError:
            return None

    def send(self, seq: int, ip_size: int | None = None, payload_len: int = 56) -> None:
        """Send one echo request; ``ip_size`` sets the whole IP packet size (IPv4)."""
        if ip_size is not None:
            payload_len = ip_size - (48 if self.v6 else 28)
        payload_len = max(payload_len, 0)
        stamp = struct.pack("!d", time.time())
        payload = (stamp + b"mcdiag-probe" * (payload_len // 12 + 1))[:payload_len]
        icmp_type = ICMP6_ECHO_REQUEST if self.v6 else ICMP_ECHO_REQUEST
        header = struct.pack("!BBHHH", icmp_type, 0, 0, self.ident, seq & 0xFFFF)
        if not self.v6:  # the kernel computes the ICMPv6 checksum
            csum = _checksum(header + payload)
            header = struct.pack("!BBHHH", icmp_type, 0, csum, self.ident, seq & 0xFFFF)
        self.sock.sendto(header + payload, (str(self.dst), 0))

    def _parse(self, data: bytes, src: str) -> tuple | None:
        if not self.v6 and self.method == "raw":
            if len(data) < 20:
                return None
            ihl = (data[0] & 0x0F) * 4
            data = data[ihl:]
        if len(data) < 8:
            return None
        typ, code, _, ident, seq = struct.unpack("!BBHHH", data[:8])
        reply_type = ICMP6_ECHO_REPLY if self.v6 else ICMP_ECHO_REPLY
        if typ == reply_type:
            if self.method == "raw" and ident != self.ident:
                return None
            if src != str(self.dst):
                return None
            return ("reply", seq, src, len(data) + (48 if self.v6 else 28))
        err_types = ((ICMP6_DEST_UNREACH, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED) if self.v6
                     else (ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED))
        if typ in err_types:
            inner = data[8:]
            if self.v6:
                if len(inner) < 48 or inner[6] != socket.IPPROTO_ICMPV6:
                    return None
                quoted_dst = str(ipaddress.IPv6Address(inner[24:40]))
                q = inner[40:48]
                mtu = struct.unpack("!I", data[4:8])[0] if typ == ICMP6_PACKET_TOO_BIG else None
            else:
                if len(inner) < 28 or inner[9] != socket.IPPROTO_ICMP:
                    return None
                qihl = (inner[0] & 0x0F) * 4
                quoted_dst = str(ipaddress.IPv4Address(inner[16:20]))
                q = inner[qihl:qihl + 8]
                mtu = struct.unpack("!H", data[6:8])[0] if (typ, code) == (ICMP_DEST_UNREACH, 4) else None
            if len(q) < 8 or quoted_dst != str(self.dst):
                return None
            qtype, _, _, qident, qseq = struct.unpack("!BBHHH", q)
            if qtype != (ICMP6_ECHO_REQUEST if self.v6 else ICMP_ECHO_REQUEST) or qident != self.ident:
                return None
            return ("error", qseq, src, typ, code, mtu)
        return None

    def recv(self, until: float) -> list[tuple]:
        """Wait until ``until`` (monotonic) for at least one event; return events read."""
        events: list[tuple] = []
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return events
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                return events
            while True:
                try:
                    data, addr = self.sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    # e.g. ECONNREFUSED queued on a ping socket
                    break
                ev = self._parse(data, addr[0].split("%")[0])
                if ev is not None:
                    events.append((*ev, time.monotonic()))
            if events:
                return events

    def describe_error(self, ev: tuple) -> str:
        _, _, src, typ, code, mtu = ev[:6]
        if self.v6:
            if typ == ICMP6_PACKET_TOO_BIG:
                return f"packet too big (mtu {mtu}) from {src}"
            if typ == ICMP6_TIME_EXCEEDED:
                return f"hop limit exceeded at {src}"
            return f"destination unreachable ({_UNREACH6.get(code, code)}) from {src}"
        if typ == ICMP_TIME_EXCEEDED:
            return f"TTL exceeded at {src}"
        text = _UNREACH4.get(code, f"code {code}")
        if code == 4:
            text += f", next-hop MTU {mtu}"
        return f"destination unreachable ({text}) from {src}"


#: Seconds between the warm-up echoes of :func:`latency` (sent until the first reply).
WARMUP_INTERVAL = 0.2


def _ping_run(probe: str, ip: Any, count: Any, timeout: Any, interval: float, size: int,
              wait: float | None, first_reply: bool = False) -> dict[str, Any]:
    timeout = check_timeout(timeout)
    count = check_count(count)
    addr = check_ip(ip)
    if not 0 <= interval <= 60:
        raise ProbeUsageError("interval must be between 0 and 60 seconds")
    if not 0 <= size <= 65000:
        raise ProbeUsageError("size must be between 0 and 65000 bytes")
    wait = min(timeout, 1.0) if wait is None else check_timeout(wait, "wait")
    res = new_result(probe, ip=str(addr), sent=0, received=0, loss_pct=None, rtt_ms=[],
                     min_ms=None, avg_ms=None, max_ms=None, stddev_ms=None, method=None,
                     icmp_errors=[])
    started = time.monotonic()
    deadline = started + timeout
    try:
        pinger = IcmpPinger(addr)
    except OSError as exc:
        return finish(res, started, False, f"cannot open an ICMP socket: {errno_reason(exc)} "
                      "(needs CAP_NET_RAW or net.ipv4.ping_group_range)")
    res["method"] = pinger.method
    sent_at: dict[int, float] = {}
    rtts: dict[int, float] = {}
    send_errors: list[str] = []
    base_seq = int.from_bytes(os.urandom(2), "big") & 0x7FFF
    with pinger:
        next_send = started
        i = 0
        stop = deadline
        while time.monotonic() < stop:
            now = time.monotonic()
            if i < count and now >= next_send:
                seq = (base_seq + i) & 0xFFFF
                try:
                    pinger.send(seq, payload_len=size)
                    sent_at[seq] = time.monotonic()
                except OSError as exc:
                    send_errors.append(errno_reason(exc))
                i += 1
                res["sent"] = i
                next_send = now + interval
                if i == count:
                    stop = min(deadline, time.monotonic() + wait)
                continue
            if (i >= count and len(rtts) >= len(sent_at)) or (first_reply and rtts):
                break
            until = min(stop, next_send) if i < count else stop
            for ev in pinger.recv(until):
                if ev[0] == "reply" and ev[1] in sent_at and ev[1] not in rtts:
                    rtts[ev[1]] = (ev[-1] - sent_at[ev[1]]) * 1000.0
                elif ev[0] == "error" and ev[1] in sent_at:
                    text = pinger.describe_error(ev)
                    if text not in res["icmp_errors"]:
                        res["icmp_errors"].append(text)
    values = [round(rtts[s], 3) for s in sorted(rtts, key=lambda s: sent_at[s])]
    res["received"] = len(values)
    res["rtt_ms"] = values
    if res["sent"]:
        res["loss_pct"] = round(100.0 * (res["sent"] - len(values)) / res["sent"], 1)
    if values:
        res["min_ms"] = min(values)
        res["max_ms"] = max(values)
        res["avg_ms"] = round(statistics.fmean(values), 3)
        res["stddev_ms"] = round(statistics.pstdev(values), 3)
    if send_errors:
        res["send_errors"] = sorted(set(send_errors))
    if values:
        return finish(res, started, True, "")
    if send_errors and not sent_at:
        return finish(res, started, False, f"cannot send ICMP echo to {addr}: {send_errors[0]}")
    extra = f"; got {res['icmp_errors'][0]}" if res["icmp_errors"] else ""
    return finish(res, started, False,
                  f"no ICMP echo reply from {addr} to {res['sent']} request(s) within {timeout}s{extra}")


def ping(ip: str, count: int = 3, timeout: float = 3.0, interval: float = 0.2, size: int = 56,
         wait: float | None = None) -> dict[str, Any]:
    """ICMP echo ``count`` times; ok when at least one reply came back.

    Fields: sent, received, loss_pct, rtt_ms (list), min/avg/max/stddev_ms,
    method (raw|dgram), icmp_errors (ICMP errors quoting our requests).
    """
    return _ping_run("ping", ip, count, timeout, interval, size, wait)


def latency(ip: str, count: int = 10, timeout: float = 5.0, interval: float = 0.1,
            max_loss_pct: float = 50.0, warmup: bool = True, warmup_wait: float | None = None) -> dict[str, Any]:
    """Round-trip time statistics over ``count`` ICMP echoes (min/avg/max/stddev ms).

    ok when some replies came back and loss_pct <= ``max_loss_pct``. With ``warmup``, echoes go
    first, one every :data:`WARMUP_INTERVAL` s until the first reply (its RTT is ``warmup_ms``),
    for at most ``warmup_wait`` seconds (default a third of ``timeout``), and are not counted:
    the first packets of a fresh path can be held while a tunnel handshakes or a neighbour is
    resolved, which is not the RTT every later call will see. When none of them is answered the
    probe ends there and fails (a path that answered none of them would lose the series too).
    """
    started = time.monotonic()
    timeout = check_timeout(timeout)
    warm_ms = None
    if warmup:
        wait = timeout / 3 if warmup_wait is None else min(check_timeout(warmup_wait, "warmup_wait"), timeout)
        warm = _ping_run("latency", ip, max(1, int(wait / WARMUP_INTERVAL)), wait, WARMUP_INTERVAL, 56, wait,
                         first_reply=True)
        if not warm["rtt_ms"]:
            # Not one of these echoes came back: the series would only be lost as well.
            warm.update(warmup_ms=None, warmup_sent=warm["sent"], duration_s=round(time.monotonic() - started, 4))
            if warm["ok"] is False and warm["sent"] and "no ICMP echo reply" in warm["reason"]:
                warm["reason"] += " (warm-up: the series was not sent)"
            return warm
        warm_ms = warm["rtt_ms"][0]
    left = max(0.5, timeout - (time.monotonic() - started))
    res = _ping_run("latency", ip, count, left, interval, 56, None)
    res["warmup_ms"] = warm_ms
    res["duration_s"] = round(time.monotonic() - started, 4)
    if res["ok"] and res["loss_pct"] is not None and res["loss_pct"] > max_loss_pct:
        res["ok"] = False
        res["reason"] = (f"{res['loss_pct']}% of ICMP echoes to {res['ip']} were lost "
                         f"(limit {max_loss_pct}%)")
    return res
