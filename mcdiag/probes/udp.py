"""UDP listen/send probes, with VXLAN encapsulation support.

``udp_listen`` sniffs (AF_PACKET via scapy) so it sees datagrams whether or
not anything is bound to the port, including the VXLAN port owned by a kernel
vxlan device (Submariner's vx-submariner uses UDP/4800). Sniffing happens
before netfilter on the receiving host: a DROP in the receiver's PREROUTING
or INPUT chain does not hide the datagram from the listener.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from ._base import (
    ProbeUsageError,
    check_count,
    check_ip,
    check_marker,
    check_port,
    check_timeout,
    errno_reason,
    finish,
    new_result,
)

VXLAN_DEFAULT_PORT = 4800  # Submariner's vx-submariner (IANA VXLAN is 4789, flannel 8472)
VXLAN_DEFAULT_VNI = 100
MAX_RECORDED = 20


def _quiet_scapy() -> None:
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy.loading").setLevel(logging.ERROR)


def vxlan_header(vni: int) -> bytes:
    """Return the 8-byte VXLAN header (flags I, VNI)."""
    return struct.pack("!B3s3sB", 0x08, b"\0\0\0", vni.to_bytes(3, "big"), 0)


def _parse_inner_l3(frame: bytes) -> dict[str, Any] | None:
    """Parse an inner Ethernet frame down to IPv4/IPv6 + UDP ports."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    l3 = frame[14:]
    info: dict[str, Any] = {
        "inner_src_mac": ":".join(f"{b:02x}" for b in frame[6:12]),
        "inner_dst_mac": ":".join(f"{b:02x}" for b in frame[0:6]),
    }
    if ethertype == 0x0800 and len(l3) >= 20:
        ihl = (l3[0] & 0x0F) * 4
        info["inner_src_ip"] = str(ipaddress.IPv4Address(l3[12:16]))
        info["inner_dst_ip"] = str(ipaddress.IPv4Address(l3[16:20]))
        proto, l4 = l3[9], l3[ihl:]
    elif ethertype == 0x86DD and len(l3) >= 40:
        info["inner_src_ip"] = str(ipaddress.IPv6Address(l3[8:24]))
        info["inner_dst_ip"] = str(ipaddress.IPv6Address(l3[24:40]))
        proto, l4 = l3[6], l3[40:]
    else:
        return None
    if proto == 17 and len(l4) >= 8:
        info["inner_src_port"], info["inner_dst_port"] = struct.unpack("!HH", l4[:4])
    return info


def describe_payload(payload: bytes, marker: bytes) -> dict[str, Any] | None:
    """Return VXLAN/inner info for a UDP payload carrying ``marker``, or None.

    A payload that looks like VXLAN (flag I set, reserved bytes zero, an
    IPv4/IPv6 inner frame) is reported with ``vxlan``/``vni``/``inner_*``.
    """
    if marker not in payload:
        return None
    info: dict[str, Any] = {"vxlan": False, "vni": None}
    if len(payload) >= 8 + 14 + 20 and payload[0] & 0x08 and payload[7] == 0:
        inner = _parse_inner_l3(payload[8:])
        if inner is not None:
            info["vxlan"] = True
            info["vni"] = int.from_bytes(payload[4:7], "big")
            info.update(inner)
    return info


def _summarise(res: dict[str, Any], hits: list[dict[str, Any]]) -> None:
    res["received"] = hits
    res["matches"] = len(hits)
    if not hits:
        return
    best = next((h for h in hits if h.get("vxlan")), hits[0])
    for key, value in best.items():
        if key != "t_s":
            res[key] = value
    res["first_arrival_s"] = hits[0]["t_s"]


# --------------------------------------------------------------------------- listen


def udp_listen(port: int, marker: str, iface: str | None = None, timeout: float = 5.0,
               bind: str = "0.0.0.0", ready: threading.Event | None = None,
               method: str = "auto", linger: float = 0.5,
               on_ready: Callable[[dict[str, Any]], None] | None = None,
               start_timeout: float = 10.0) -> dict[str, Any]:
    """Wait up to ``timeout`` for a UDP datagram to ``port`` whose payload contains ``marker``.

    Fields: method (``sniff`` or ``socket``), matches, received (one entry per
    matching datagram), and from the first matching datagram (an encapsulated
    one preferred): src_ip, src_port (as seen here: shows SNAT), dst_ip,
    dst_port, iface (where it arrived; ``listen_iface`` echoes the
    argument), vxlan, vni, inner_src_ip/inner_dst_ip/inner_*_port.
    ``other_datagrams`` counts datagrams to the port without the marker.

    ``method="auto"`` sniffs when allowed (CAP_NET_RAW) on ``iface`` or all
    interfaces, and only when sniffing is impossible (no CAP_NET_RAW, no
    scapy) binds a UDP socket to ``bind``:``port`` (which cannot see
    datagrams to a port the kernel owns, e.g. VXLAN). ``ready`` is set and
    ``on_ready(info)`` called once capture is up, so a coordinator knows when
    to start the sender; ``timeout`` counts from that moment, and starting the
    capture is bounded by ``start_timeout``. After the first match it keeps
    listening ``linger`` seconds (within ``timeout``) to collect the rest of
    a burst.
    """
    timeout = check_timeout(timeout)
    start_timeout = check_timeout(start_timeout, "start_timeout")
    port = check_port(port)
    marker_b = check_marker(marker)
    if method not in ("auto", "sniff", "socket"):
        raise ProbeUsageError(f"method must be auto, sniff or socket, got {method!r}")
    if not 0 <= float(linger) <= 60:
        raise ProbeUsageError("linger must be between 0 and 60 seconds")
    bind_addr = check_ip(bind, "bind")
    started = time.monotonic()
    res = new_result("udp-listen", port=port, marker=marker_b.decode(errors="replace"), listen_iface=iface,
                     iface=None, method=None, timeout=timeout, matches=0, src_ip=None, src_port=None,
                     dst_ip=None, dst_port=None, vxlan=False, vni=None, received=[],
                     other_datagrams=0)

    def announce(info: dict[str, Any]) -> None:
        if on_ready is not None:
            try:
                on_ready(info)
            except Exception:  # noqa: BLE001 - a coordinator callback must not break the probe
                pass
        if ready is not None:
            ready.set()

    notes: list[str] = []
    if method in ("auto", "sniff"):
        outcome, can_fall_back = _listen_sniff(res, port, marker_b, iface, started, timeout, start_timeout,
                                               float(linger), announce)
        if outcome is None:
            return _listen_result(res, started, port, marker_b, timeout, iface)
        notes.append(outcome)
        if method == "sniff" or not can_fall_back:
            res["method"] = "sniff"
            return finish(res, started, False, f"cannot sniff: {outcome}")
    if iface is not None:
        notes.append(f"iface {iface} ignored by the socket method")
    res["method"] = "socket"
    if notes:
        res["method_note"] = "; ".join(notes) + (
            "; fell back to a bound UDP socket, which cannot see datagrams to a port the kernel owns (VXLAN)"
            if method == "auto" else "")
    err = _listen_socket(res, port, marker_b, bind_addr, started, timeout, float(linger), announce)
    if err:
        return finish(res, started, False, err)
    return _listen_result(res, started, port, marker_b, timeout, iface)


def _listen_result(res: dict[str, Any], started: float, port: int, marker: bytes, timeout: float,
                   iface: str | None) -> dict[str, Any]:
    if res["matches"]:
        return finish(res, started, True, "")
    where = f" on {iface}" if iface else ""
    others = (f" ({res['other_datagrams']} other datagram(s) to the port without the marker)"
              if res["other_datagrams"] else "")
    return finish(res, started, False,
                  f"no datagram with marker {marker.decode(errors='replace')} arrived on UDP/{port}{where} "
                  f"within {timeout}s{others}")


def _listen_sniff(res: dict[str, Any], port: int, marker: bytes, iface: str | None, started: float,
                  timeout: float, start_timeout: float, linger: float,
                  announce: Callable[[dict[str, Any]], None]) -> tuple[str | None, bool]:
    """Capture with scapy; return (None, _) when capture ran, else (why not, may fall back)."""
    deadline = time.monotonic() + start_timeout
    try:
        _quiet_scapy()
        from scapy.arch.linux import L2ListenSocket
        from scapy.interfaces import get_if_list
        from scapy.layers.inet import UDP
        from scapy.layers.inet6 import IPv6  # noqa: F401 - registers IPv6 dissection
        from scapy.sendrecv import AsyncSniffer
    except Exception as exc:  # noqa: BLE001 - any import problem means "no sniffing"
        return f"scapy unavailable ({exc})", True

    # Only count datagrams that arrived, not copies of ones this host sends.
    l2socket: Any = L2ListenSocket
    if hasattr(L2ListenSocket, "_recv_raw"):
        class _InboundListenSocket(L2ListenSocket):  # type: ignore[misc, valid-type]
            def recv_raw(self, x: int = 65535) -> tuple:
                pkt, sa_ll, ts = self._recv_raw(self.ins, x)
                if sa_ll is not None and len(sa_ll) > 2 and sa_ll[2] == socket.PACKET_OUTGOING:
                    return None, None, None
                return self.LL, pkt, ts

        l2socket = _InboundListenSocket

    if iface is not None:
        ifaces: list[str] = [iface]
    else:
        try:
            ifaces = sorted(set(get_if_list()))
        except Exception as exc:  # noqa: BLE001
            return f"cannot list interfaces ({exc})", False
        if not ifaces:
            return "no network interfaces to sniff on", False
    res["sniffed_ifaces"] = ifaces

    hits: list[dict[str, Any]] = []
    got = threading.Event()
    capture_up = threading.Event()
    lock = threading.Lock()

    def lfilter(pkt: Any) -> bool:
        udp = pkt.getlayer(UDP)
        return udp is not None and udp.dport == port

    def prn(pkt: Any) -> None:
        udp = pkt.getlayer(UDP)
        payload = bytes(udp.payload)
        info = describe_payload(payload, marker)
        with lock:
            if info is None:
                res["other_datagrams"] += 1
                return
            if len(hits) >= MAX_RECORDED:
                return
            ip = udp.underlayer
            entry = {"iface": str(pkt.sniffed_on) if pkt.sniffed_on is not None else None,
                     "src_ip": getattr(ip, "src", None), "src_port": int(udp.sport),
                     "dst_ip": getattr(ip, "dst", None), "dst_port": int(udp.dport),
                     "bytes": len(payload), **info,
                     "t_s": round(time.monotonic() - started, 4)}
            hits.append(entry)
            got.set()

    bpf = f"udp dst port {port}"
    try:
        sniffer = AsyncSniffer(iface=ifaces, filter=bpf, lfilter=lfilter, prn=prn, store=False,
                               L2socket=l2socket, started_callback=capture_up.set)
        sniffer.start()
    except PermissionError:
        return "sniffing not permitted (needs CAP_NET_RAW)", True
    except Exception as exc:  # noqa: BLE001
        return f"cannot start the sniffer ({errno_reason(exc)})", False
    while not capture_up.is_set():
        thread = getattr(sniffer, "thread", None)
        if thread is not None and not thread.is_alive():
            break
        if time.monotonic() >= deadline:
            break
        capture_up.wait(0.02)
    if not capture_up.is_set():
        _stop(sniffer)
        exc = getattr(sniffer, "exception", None)
        if isinstance(exc, PermissionError):
            return "sniffing not permitted (needs CAP_NET_RAW)", True
        if exc is not None:
            return f"sniffer failed to start ({errno_reason(exc)})", False
        return f"sniffer did not start within {start_timeout}s", False
    res["method"] = "sniff"
    res["bpf"] = bpf
    deadline = time.monotonic() + timeout
    announce({"method": "sniff", "port": port, "ifaces": ifaces})
    try:
        got.wait(max(0.0, deadline - time.monotonic()))
        if got.is_set():
            end = min(deadline, time.monotonic() + linger)
            while time.monotonic() < end:
                with lock:
                    if len(hits) >= MAX_RECORDED:
                        break
                time.sleep(min(0.02, max(0.0, end - time.monotonic())))
    finally:
        _stop(sniffer)
    with lock:
        _summarise(res, list(hits))
    return None, False


def _stop(sniffer: Any) -> None:
    try:
        sniffer.stop(join=True)
    except Exception:  # noqa: BLE001 - "not running" after a failed start
        thread = getattr(sniffer, "thread", None)
        if thread is not None:
            thread.join(1.0)


def _listen_socket(res: dict[str, Any], port: int, marker: bytes,
                   bind_addr: ipaddress.IPv4Address | ipaddress.IPv6Address, started: float,
                   timeout: float, linger: float, announce: Callable[[dict[str, Any]], None]) -> str | None:
    family = socket.AF_INET6 if bind_addr.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        try:
            sock.bind((str(bind_addr), port))
        except OSError as exc:
            return f"cannot bind UDP {bind_addr}:{port}: {errno_reason(exc)}"
        sock.setblocking(False)
        local = sock.getsockname()
        res["bind"] = f"{local[0]}:{local[1]}"
        deadline = time.monotonic() + timeout
        announce({"method": "socket", "port": port, "bind": res["bind"]})
        hits: list[dict[str, Any]] = []
        end = deadline
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select([sock], [], [], remaining)
            if not readable:
                break
            try:
                payload, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                continue
            info = describe_payload(payload, marker)
            if info is None:
                res["other_datagrams"] += 1
                continue
            if len(hits) < MAX_RECORDED:
                hits.append({"iface": None, "src_ip": addr[0], "src_port": addr[1],
                             "dst_ip": str(bind_addr) if not bind_addr.is_unspecified else None,
                             "dst_port": port, "bytes": len(payload), **info,
                             "t_s": round(time.monotonic() - started, 4)})
            if len(hits) == 1:
                end = min(deadline, time.monotonic() + linger)
        _summarise(res, hits)
        return None
    finally:
        sock.close()


# --------------------------------------------------------------------------- send


def build_vxlan_payload(payload: bytes, vni: int, inner_src: str, inner_dst: str, inner_sport: int,
                        inner_dport: int, inner_src_mac: str = "02:6d:63:64:00:01",
                        inner_dst_mac: str = "ff:ff:ff:ff:ff:ff") -> bytes:
    """Return VXLAN header + inner Ethernet/IP/UDP frame carrying ``payload`` (built with scapy)."""
    _quiet_scapy()
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    l3 = IPv6(src=inner_src, dst=inner_dst) if ":" in inner_dst else IP(src=inner_src, dst=inner_dst, ttl=64)
    frame = Ether(src=inner_src_mac, dst=inner_dst_mac) / l3 / UDP(sport=inner_sport, dport=inner_dport) / Raw(payload)
    return vxlan_header(vni) + bytes(frame)


def udp_send(to_ip: str, port: int | None, marker: str, vxlan_vni: int | None = None,
             src_port: int | None = None, count: int = 3, interval: float = 0.2, timeout: float = 5.0,
             inner_src: str | None = None, inner_dst: str | None = None, inner_port: int | None = None,
             inner_dst_mac: str = "ff:ff:ff:ff:ff:ff") -> dict[str, Any]:
    """Send ``count`` datagrams whose payload contains ``marker`` to ``to_ip``:``port``.

    With ``vxlan_vni`` the payload is wrapped as VXLAN (port defaults to 4800,
    Submariner's vx-submariner; VNI e.g. 100) around an inner
    Ethernet/IP/UDP frame (inner_src defaults to the outer source address,
    inner_dst to ``to_ip``, inner_port to ``port``). Sent from an ordinary UDP
    socket (``src_port`` binds the source port), so no privilege is needed.
    Fields: sent, src_ip, src_port, bytes, vxlan, vni, inner_*. ok when every
    datagram was handed to the kernel; delivery is the listener's to judge.
    """
    timeout = check_timeout(timeout)
    addr = check_ip(to_ip, "to_ip")
    marker_b = check_marker(marker)
    count = check_count(count, maximum=1000)
    if vxlan_vni is not None:
        try:
            vxlan_vni = int(vxlan_vni)
        except (TypeError, ValueError):
            raise ProbeUsageError(f"vxlan_vni must be an integer, got {vxlan_vni!r}") from None
        if not 0 <= vxlan_vni < 2 ** 24:
            raise ProbeUsageError(f"vxlan_vni must be 0..16777215, got {vxlan_vni}")
        port = VXLAN_DEFAULT_PORT if port is None else port
    if port is None:
        raise ProbeUsageError("port is required (it defaults to 4800 only with vxlan_vni)")
    port = check_port(port)
    if src_port is not None:
        src_port = check_port(src_port, "src_port")
    if not 0 <= float(interval) <= 60:
        raise ProbeUsageError("interval must be between 0 and 60 seconds")
    started = time.monotonic()
    deadline = started + timeout
    res = new_result("udp-send", to_ip=str(addr), port=port, marker=marker_b.decode(errors="replace"),
                     count=count, sent=0, src_ip=None, src_port=None, bytes=None,
                     vxlan=vxlan_vni is not None, vni=vxlan_vni)
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        try:
            sock.bind(("::" if addr.version == 6 else "0.0.0.0", src_port or 0))
        except OSError as exc:
            return finish(res, started, False, f"cannot bind source port {src_port}: {errno_reason(exc)}")
        res["src_port"] = sock.getsockname()[1]
        # Which source address will the kernel pick? (connect() on UDP sends nothing.)
        try:
            probe = socket.socket(family, socket.SOCK_DGRAM)
            try:
                probe.connect((str(addr), port))
                res["src_ip"] = probe.getsockname()[0]
            finally:
                probe.close()
        except OSError as exc:
            return finish(res, started, False, f"no route to {addr}: {errno_reason(exc)}")

        def payload_for(seq: int) -> bytes:
            body = marker_b + b" mcdiag-udp seq=%d" % seq
            if vxlan_vni is None:
                return body
            isrc = inner_src or res["src_ip"]
            idst = inner_dst or str(addr)
            iport = inner_port or port
            res.update(inner_src_ip=isrc, inner_dst_ip=idst, inner_dst_port=iport,
                       inner_src_port=res["src_port"])
            return build_vxlan_payload(body, vxlan_vni, isrc, idst, res["src_port"], iport,
                                       inner_dst_mac=inner_dst_mac)

        try:
            payloads = [payload_for(i) for i in range(count)]
        except Exception as exc:  # noqa: BLE001 - bad inner addresses etc.
            raise ProbeUsageError(f"cannot build the VXLAN frame: {exc}") from None
        res["bytes"] = len(payloads[0])
        errors: list[str] = []
        for i, data in enumerate(payloads):
            if i:
                pause = float(interval)
                if time.monotonic() + pause > deadline:
                    errors.append(f"timeout after {i} datagram(s)")
                    break
                time.sleep(pause)
            try:
                sock.sendto(data, (str(addr), port))
                res["sent"] += 1
            except PermissionError as exc:
                errors.append(f"{errno_reason(exc)} (a local firewall rule rejected the datagram)")
            except OSError as exc:
                errors.append(errno_reason(exc))
        if errors:
            res["send_errors"] = sorted(set(errors))
        if res["sent"] == count:
            return finish(res, started, True, "")
        return finish(res, started, False,
                      f"sent {res['sent']} of {count} datagram(s) to {addr}:{port}: {errors[0]}")
    finally:
        sock.close()


def new_marker() -> str:
    """Return a random marker string suitable for udp_send/udp_listen."""
    return "mcdiag-" + os.urandom(6).hex()
