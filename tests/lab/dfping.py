"""``python dfping.py DST SIZE [TIMEOUT]``: one don't-fragment ICMP echo of SIZE payload bytes.

Prints one JSON line; exit 0 when the reply came back, 1 otherwise. (The
probes' ``ping`` has no size option; ``mtu`` searches, which is slower.)
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import sys
import time


def _cksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def dfping(dst: str, size: int, timeout: float = 1.5, count: int = 2) -> dict:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF, no fragmentation
    ident = os.getpid() & 0xFFFF
    payload = b"mcdiag-lab".ljust(size, b"x")
    for seq in range(1, count + 1):
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        try:
            s.sendto(struct.pack("!BBHHH", 8, 0, _cksum(hdr + payload), ident, seq) + payload, (dst, 0))
        except OSError as e:
            return {"ok": False, "size": size, "error": str(e)}
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            data, addr = s.recvfrom(65535)
            ihl = (data[0] & 0x0F) * 4
            t, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if t == 0 and rid == ident and addr[0] == dst:
                return {"ok": True, "size": size}
    return {"ok": False, "size": size, "error": "no reply"}


if __name__ == "__main__":
    res = dfping(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 1.5)
    print(json.dumps(res))
    sys.exit(0 if res["ok"] else 1)
