r"""The lab's stand-in for Submariner's Lighthouse DNS: asks every peer cluster, answers what they say.

    python -m mcdiag.lab.lighthouse --listen IP [--listen IP ...] --peer IP [--peer IP ...] [--local IP]
        [--zone clusterset.local] [--timeout S] --pid-file FILE [--log FILE]

Runs inside a gateway's network namespace, on UDP/53 of the given addresses (the
``submariner-lighthouse-coredns`` ClusterIP and its pod IP). A question in the zone
goes, across the tunnel, to every peer's "exports" DNS (each answers the names its
own cluster exports and NXDOMAIN for the rest); the stand-in answers:

* when several peers know the name and so does the cluster's own "exports" DNS
  (``--local``: a service this cluster exports as well, such as ``nginx-test/nginx``,
  which every lab cluster exports), the cluster's own answer, as Lighthouse prefers a
  local export; otherwise
* the union of the positive answers (records of every peer that knows the name),
  once every peer replied, or a moment after the first one knew it;
* otherwise, once every peer replied: NXDOMAIN when every peer said NXDOMAIN, an
  empty NOERROR when one said the name exists without such records, else the
  first peer's reply as it is (SERVFAIL, REFUSED);
* nothing at all when a peer stayed silent and nobody knew the name, as a
  forwarder whose upstream is gone (the asker times out);
* REFUSED to a question outside the zone.

With one peer (a two-cluster lab) this is a plain forwarder: the peer's reply, or
silence, as the lab's Lighthouse always was (the real one would answer a name the
cluster exports itself with its own address). With several it is the lab's model of
Lighthouse answering from every cluster's exports (the real one answers from the
ServiceImports the broker synchronised, preferring a local export, then taking turns
between the clusters that export the name): the names of one cluster
(``CLUSTER.nginx.nginx-test...``, mcdiag's echo services) come from that cluster across
the tunnel; a name every cluster exports answers the local export, and mcdiag asks
for the peer's by its cluster id. No cache.

Writes ``--pid-file`` once listening; SIGTERM or SIGINT stops it. One log line per
question (``--log``).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

#: Seconds the stand-in waits for the peers (the probes ask with 3 s or less, so they time out first).
DEFAULT_TIMEOUT = 4.0
#: Seconds the other peers still get once one peer answered the name.
POSITIVE_GRACE = 0.3


def _peer(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    return (host, int(port)) if port else (text, 53)


def ask_peers(wire: bytes, peers: list[tuple[str, int]], timeout: float) -> list[bytes | None]:
    """Send the question ``wire`` to every peer at once; each peer's reply (``None``: silent) within ``timeout``."""
    qid = wire[:2]
    socks: dict[socket.socket, int] = {}
    replies: list[bytes | None] = [None] * len(peers)
    try:
        for i, addr in enumerate(peers):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            try:
                s.connect(addr)
                s.send(wire)
            except OSError:
                s.close()
                continue
            socks[s] = i
        end = time.monotonic() + timeout
        pending = set(socks)
        while pending and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select(list(pending), [], [], left)
            for s in ready:
                try:
                    data = s.recv(65535)
                except OSError:  # ICMP port unreachable: nobody serves there; as silent
                    pending.discard(s)
                    continue
                if data[:2] == qid:
                    replies[socks[s]] = data
                    pending.discard(s)
                    if _positive(data):  # someone knows it: the others get a moment more, not the whole wait
                        end = min(end, time.monotonic() + POSITIVE_GRACE)
    finally:
        for s in socks:
            s.close()
    return replies


def _positive(wire: bytes) -> bool:
    try:
        msg = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return False
    return msg.rcode() == dns.rcode.NOERROR and bool(msg.answer)


def combine(query: dns.message.Message, replies: list[bytes | None], local: bytes | None = None) -> bytes | None:
    """The stand-in's reply to ``query`` from the peers' ``replies`` and the cluster's own exports' ``local`` reply
    (see the module docstring); ``None``: stay silent.
    """
    parsed: list[dns.message.Message | None] = []
    for r in replies:
        try:
            parsed.append(dns.message.from_wire(r) if r is not None else None)
        except dns.exception.DNSException:
            parsed.append(None)
    positive = [m for m in parsed if m is not None and m.rcode() == dns.rcode.NOERROR and m.answer]
    if len(positive) > 1 and local is not None and _positive(local):
        out = dns.message.from_wire(local)
        out.id = query.id
        return out.to_wire()
    if positive:
        out = positive[0]
        for other in positive[1:]:
            for rrset in other.answer:
                mine = out.find_rrset(out.answer, rrset.name, rrset.rdclass, rrset.rdtype, create=True)
                mine.update(rrset)
        out.id = query.id
        return out.to_wire()
    if any(m is None for m in parsed):
        return None
    if all(m.rcode() == dns.rcode.NXDOMAIN for m in parsed):
        out = parsed[0]
    else:
        out = next((m for m in parsed if m.rcode() == dns.rcode.NOERROR), parsed[0])
    out.id = query.id
    return out.to_wire()


class LighthouseStandIn:
    """UDP listeners on ``listen`` addresses; each question is answered in a thread of its own."""

    def __init__(self, listen: list[str], peers: list[tuple[str, int]], zone: str = "clusterset.local",
                 timeout: float = DEFAULT_TIMEOUT, port: int = 53, log=None, local: tuple[str, int] | None = None):
        self.peers, self.timeout, self.local = peers, timeout, local
        self.zone = dns.name.from_text(zone)
        self.log = log or (lambda line: None)
        self.socks = []
        for ip in listen:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
            self.socks.append(s)
        self.stop = threading.Event()

    def serve(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select(self.socks, [], [], 0.5)
            for s in ready:
                try:
                    wire, client = s.recvfrom(65535)
                except OSError:
                    continue
                threading.Thread(target=self.answer, args=(s, wire, client), daemon=True).start()

    def answer(self, sock: socket.socket, wire: bytes, client) -> None:
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError):
            return
        name = question.name
        if not name.is_subdomain(self.zone):
            reply: bytes | None = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.REFUSED)
            reply = reply.to_wire()
            said = "REFUSED (outside the zone)"
        else:
            asked = self.peers + ([self.local] if self.local and len(self.peers) > 1 else [])
            replies = ask_peers(wire, asked, self.timeout)
            reply = combine(query, replies[:len(self.peers)], replies[len(self.peers)] if len(replies) > len(self.peers) else None)
            said = "no reply (a peer is silent, none knows it)" if reply is None else _summary(reply)
            said += " [" + ", ".join(f"{h}:{'reply' if r is not None else 'silent'}"
                                     for (h, _), r in zip(asked, replies, strict=True)) + "]"
        self.log(f"{time.strftime('%H:%M:%S')} query[{dns.rdatatype.to_text(question.rdtype)}] {name} "
                 f"from {client[0]}: {said}")
        if reply is not None:
            try:
                sock.sendto(reply, client)
            except OSError:
                pass


def _summary(wire: bytes) -> str:
    msg = dns.message.from_wire(wire)
    records = [r.to_text() for rrset in msg.answer for r in rrset]
    return dns.rcode.to_text(msg.rcode()) + (f" {', '.join(records)}" if records else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mcdiag.lab.lighthouse", description=__doc__.splitlines()[0])
    p.add_argument("--listen", action="append", required=True, help="address to answer on (UDP/53; repeatable)")
    p.add_argument("--peer", action="append", required=True, help="a peer's exports DNS, IP[:PORT] (repeatable)")
    p.add_argument("--local", default=None, help="this cluster's own exports DNS, IP[:PORT] (asked with several peers)")
    p.add_argument("--zone", default="clusterset.local")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--pid-file", type=Path, required=True)
    p.add_argument("--log", type=Path, default=None)
    args = p.parse_args(argv)
    lock = threading.Lock()
    logf = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115 - open for the process's life

    def log(line: str) -> None:
        if logf is not None:
            with lock:
                logf.write(line + "\n")

    server = LighthouseStandIn(args.listen, [_peer(x) for x in args.peer], args.zone, args.timeout, args.port, log,
                               _peer(args.local) if args.local else None)
    signal.signal(signal.SIGTERM, lambda *_: server.stop.set())
    signal.signal(signal.SIGINT, lambda *_: server.stop.set())
    tmp = args.pid_file.with_name(args.pid_file.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, args.pid_file)
    log(f"listening on {', '.join(args.listen)}; peers {', '.join(args.peer)}; zone {args.zone}")
    try:
        server.serve()
    finally:
        for s in server.socks:
            s.close()
        try:
            args.pid_file.unlink()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
