"""The lab's Lighthouse stand-in: every peer is asked, what they say is answered (loopback only, any user)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rrset
import pytest

from mcdiag.lab.lighthouse import LighthouseStandIn, _peer, combine

NAME = "nginx.nginx-test.svc.clusterset.local."


def _reply(query: dns.message.Message, rcode: int = dns.rcode.NOERROR, *ips: str) -> bytes:
    r = dns.message.make_response(query)
    r.set_rcode(rcode)
    if ips:
        r.answer.append(dns.rrset.from_text(query.question[0].name, 5, "IN", "A", *ips))
    return r.to_wire()


def _answers(wire: bytes) -> tuple[str, list[str]]:
    m = dns.message.from_wire(wire)
    return dns.rcode.to_text(m.rcode()), sorted(r.to_text() for rrset in m.answer for r in rrset)


@pytest.fixture
def query():
    return dns.message.make_query(NAME, "A")


def test_one_peer_is_a_plain_forwarder(query):
    assert _answers(combine(query, [_reply(query, dns.rcode.NOERROR, "10.45.45.229")])) == ("NOERROR", ["10.45.45.229"])
    assert _answers(combine(query, [_reply(query, dns.rcode.NXDOMAIN)])) == ("NXDOMAIN", [])
    assert _answers(combine(query, [_reply(query, dns.rcode.SERVFAIL)])) == ("SERVFAIL", [])
    assert combine(query, [None]) is None  # a silent peer: the asker times out, as behind a forwarder


def test_several_peers(query):
    a, b, nx = (_reply(query, dns.rcode.NOERROR, "10.45.45.229"), _reply(query, dns.rcode.NOERROR, "10.47.45.229"),
                _reply(query, dns.rcode.NXDOMAIN))
    assert _answers(combine(query, [a, b])) == ("NOERROR", ["10.45.45.229", "10.47.45.229"])  # the union
    assert _answers(combine(query, [nx, b])) == ("NOERROR", ["10.47.45.229"])  # whoever knows it
    assert _answers(combine(query, [None, b])) == ("NOERROR", ["10.47.45.229"])  # even with a silent peer
    assert _answers(combine(query, [nx, nx])) == ("NXDOMAIN", [])
    assert _answers(combine(query, [nx, _reply(query)])) == ("NOERROR", [])  # one says the name exists
    assert combine(query, [nx, None]) is None  # nobody knows it and a peer is silent: no answer
    assert dns.message.from_wire(combine(query, [nx, b])).id == query.id


def test_a_name_several_peers_export_answers_the_local_export(query):
    """Lighthouse prefers a local export: a name every cluster exports answers the asker's own service."""
    a, b, own = (_reply(query, dns.rcode.NOERROR, "10.45.45.229"), _reply(query, dns.rcode.NOERROR, "10.47.45.229"),
                 _reply(query, dns.rcode.NOERROR, "10.43.45.229"))
    nx = _reply(query, dns.rcode.NXDOMAIN)
    assert _answers(combine(query, [a, b], own)) == ("NOERROR", ["10.43.45.229"])
    assert _answers(combine(query, [a, b], nx)) == ("NOERROR", ["10.45.45.229", "10.47.45.229"])  # not exported here
    assert _answers(combine(query, [nx, b], own)) == ("NOERROR", ["10.47.45.229"])  # one peer's name: that peer's
    assert _answers(combine(query, [a], own)) == ("NOERROR", ["10.45.45.229"])  # one peer: a plain forwarder


class _Peer:
    """A UDP DNS server on loopback answering one fixed reply (or nothing)."""

    def __init__(self, ips: list[str] | None, rcode: int = dns.rcode.NOERROR):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.ips, self.rcode, self.asked = ips, rcode, 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.asked += 1
            if self.ips is not None:
                self.sock.sendto(_reply(dns.message.from_wire(wire), self.rcode, *self.ips), client)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_server_on_loopback_asks_every_peer():
    peers = [_Peer(["10.45.45.229"]), _Peer([], dns.rcode.NXDOMAIN), _Peer(None)]
    # The stand-in would wait 10 s for the silent peer; the asker waits 3: a known name must not wait for it.
    server = LighthouseStandIn(["127.0.0.1"], [_peer(p.addr) for p in peers], timeout=10.0, port=0)
    port = server.socks[0].getsockname()[1]
    t = threading.Thread(target=server.serve, daemon=True)
    t.start()
    try:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(3)
        q = dns.message.make_query(NAME, "A")
        c.sendto(q.to_wire(), ("127.0.0.1", port))
        assert _answers(c.recv(4096)) == ("NOERROR", ["10.45.45.229"])
        assert [p.asked for p in peers] == [1, 1, 1]
        q = dns.message.make_query("example.org.", "A")
        c.sendto(q.to_wire(), ("127.0.0.1", port))
        assert _answers(c.recv(4096)) == ("REFUSED", [])  # outside the zone
        assert [p.asked for p in peers] == [1, 1, 1]
    finally:
        server.stop.set()
        t.join(3)
        for s in server.socks:
            s.close()
        for p in peers:
            p.close()
