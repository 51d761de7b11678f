"""UDP listen/send probes, with VXLAN encapsulation support.

``udp_listen`` sniffs (one AF_PACKET socket, a libpcap-compiled filter, scapy to
dissect) so it sees datagrams whether or
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
               on_ready: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Wait up to ``timeout`` for a UDP datagram to ``port`` whose payload contains ``marker``.

    Fields: method (``sniff`` or ``socket``), matches, received (one entry per
    matching datagram), and from the first matching datagram (an encapsulated
    one preferred): src_ip, src_port (as seen here: shows SNAT), dst_ip,
    dst_port, iface (where it arrived; ``listen_iface`` echoes the
    argument), vxlan, vni, inner_src_ip/inner_dst_ip/inner_*_port.
    ``other_datagrams`` counts datagrams to the port without the marker.

    ``method="auto"`` sniffs when allowed (CAP_NET_RAW) on ``iface`` or on
    every interface of the namespace (one packet socket, so interfaces that
    appear or vanish meanwhile do not matter), and only when sniffing is impossible (no CAP_NET_RAW, no
    scapy) binds a UDP socket to ``bind``:``port`` (which cannot see
    datagrams to a port the kernel owns, e.g. VXLAN). ``ready`` is set and
    ``on_ready(info)`` called once capture is up, so a coordinator knows when
    to start the sender; ``timeout`` counts from that moment. After the first match it keeps
    listening ``linger`` seconds (within ``timeout``) to collect the rest of
    a burst.
    """
    timeout = check_timeout(timeout)
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
        outcome, can_fall_back = _listen_sniff(res, port, marker_b, iface, started, timeout,
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


ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26


def _packet_socket(port: int, iface: str | None) -> tuple[socket.socket, str]:
    """A "cooked" (SOCK_DGRAM) AF_PACKET socket seeing IP packets to UDP ``port``; returns (socket, BPF text).

    Cooked packets start at the IP header whatever the link (Ethernet, loopback, WireGuard's
    header-less tunnel), so one socket and one filter (libpcap-compiled for raw IP) serve every
    interface. Not bound to an interface unless ``iface`` is given: it sees every interface of the
    namespace, including ones created after it opened, and a veth that vanishes meanwhile (pods come
    and go on a busy node) cannot make it fail, as opening one socket per listed interface could.
    """
    from scapy.arch.common import compile_filter
    from scapy.arch.linux import sock_fprog
    from scapy.data import DLT_RAW

    bpf = f"udp dst port {port}"
    prog = compile_filter(bpf, linktype=DLT_RAW)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, sock_fprog(prog.bf_len, prog.bf_insns))
        if iface is not None:
            sock.bind((iface, ETH_P_ALL))
        sock.setblocking(False)
        while True:  # what queued before the filter was attached
            try:
                sock.recv(65535)
            except BlockingIOError:
                break
    except BaseException:
        sock.close()
        raise
    return sock, bpf


def _udp_of(packet: bytes, proto: int) -> Any:
    """The UDP layer of a cooked packet (IPv4 or IPv6 by its link-level protocol), or None."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    if proto == 0x0800:
        pkt = IP(packet)
    elif proto == 0x86DD:
        pkt = IPv6(packet)
    else:
        return None
    return pkt.getlayer(UDP)


def _listen_sniff(res: dict[str, Any], port: int, marker: bytes, iface: str | None, started: float,
                  timeout: float, linger: float,
                  announce: Callable[[dict[str, Any]], None]) -> tuple[str | None, bool]:
    """Capture on a packet socket; return (None, _) when capture ran, else (why not, may fall back)."""
    try:
        _quiet_scapy()
        sock, bpf = _packet_socket(port, iface)
    except PermissionError:
        return "sniffing not permitted (needs CAP_NET_RAW)", True
    except ImportError as exc:
        return f"scapy or libpcap unavailable ({exc})", True
    except OSError as exc:
        return f"cannot open a packet socket{f' on {iface}' if iface else ''} ({errno_reason(exc)})", False
    except Exception as exc:  # noqa: BLE001 - e.g. scapy cannot compile the filter
        return f"cannot set up capture ({exc})", False
    res["sniffed_ifaces"] = [iface] if iface else "all"
    res["method"] = "sniff"
    res["bpf"] = bpf
    hits: list[dict[str, Any]] = []
    try:
        announce({"method": "sniff", "port": port, "ifaces": res["sniffed_ifaces"]})
        deadline = time.monotonic() + timeout
        end = deadline
        while len(hits) < MAX_RECORDED:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select([sock], [], [], remaining)
            if not readable:
                continue
            try:
                data, (ifname, proto, pkttype, _hatype, _addr) = sock.recvfrom(65535)
            except BlockingIOError:
                continue
            if pkttype == socket.PACKET_OUTGOING:
                continue  # a copy of what this host sends, not an arrival
            try:
                udp = _udp_of(data, proto)
            except Exception:  # noqa: BLE001 - a malformed packet is not ours
                udp = None
            if udp is None or udp.dport != port:
                continue
            payload = bytes(udp.payload)
            info = describe_payload(payload, marker)
            if info is None:
                res["other_datagrams"] += 1
                continue
            ip = udp.underlayer
            hits.append({"iface": ifname, "src_ip": getattr(ip, "src", None), "src_port": int(udp.sport),
                         "dst_ip": getattr(ip, "dst", None), "dst_port": int(udp.dport),
                         "bytes": len(payload), **info, "t_s": round(time.monotonic() - started, 4)})
            if len(hits) == 1:
                end = min(deadline, time.monotonic() + linger)  # collect the rest of a burst
    finally:
        sock.close()
    _summarise(res, hits)
    return None, False


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
