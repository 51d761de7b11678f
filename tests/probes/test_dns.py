"""dns_query against servers the test runs itself on loopback (never a real resolver).

- dnsmasq on a random 127.x address and high port: answer, nodata, nxdomain,
  refused (no upstream configured), SRV answers;
- a tiny dnspython UDP server answering SERVFAIL;
- a bound UDP socket that never answers: timeout.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import threading
import time

import dns.message
import dns.rcode
import dns.rrset
import pytest

from mcdiag.probes import ProbeUsageError, dns_query


def free_udp_port(addr):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dnsmasq():
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed")
    addr = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
    port = free_udp_port(addr)
    proc = subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
         "--no-poll", "--pid-file=", f"--listen-address={addr}", "--bind-interfaces", f"--port={port}",
         "--address=/ok.test/10.9.9.9",
         "--local=/nx.test/", "--host-record=h.nx.test,10.9.9.7",
         "--srv-host=_dns._udp.ok.test,ns.ok.test,53"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"dnsmasq exited: {proc.stderr.read()}")
            if dns_query("ok.test", server=addr, port=port, timeout=0.2)["ok"]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("dnsmasq did not answer")
        yield addr, port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stderr.close()


@pytest.fixture
def rcode_server():
    """UDP DNS server on 127.0.0.1 answering every query with SERVFAIL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def test_answer(dnsmasq):
    addr, port = dnsmasq
    res = dns_query("ok.test", server=addr, port=port, timeout=1)
    assert res["ok"] and res["rcode_class"] == "answer" and res["answers"] == ["10.9.9.9"]
    assert res["server"] == addr and res["rcode"] == "NOERROR" and res["reason"] == ""


def test_srv_answer(dnsmasq):
    addr, port = dnsmasq
    res = dns_query("_dns._udp.ok.test", server=addr, port=port, rdtype="SRV", timeout=1)
    assert res["ok"] and res["answers"] == ["0 0 53 ns.ok.test."]


def test_nodata(dnsmasq):
    addr, port = dnsmasq
    res = dns_query("h.nx.test", server=addr, port=port, rdtype="AAAA", timeout=1)
    assert not res["ok"] and res["rcode_class"] == "nodata" and res["answers"] == []


def test_nxdomain(dnsmasq):
    addr, port = dnsmasq
    res = dns_query("missing.nx.test", server=addr, port=port, timeout=1)
    assert not res["ok"] and res["rcode_class"] == "nxdomain" and "NXDOMAIN" in res["reason"]


def test_refused(dnsmasq):
    addr, port = dnsmasq
    # dnsmasq without upstream servers refuses names it is not configured for.
    res = dns_query("elsewhere.example", server=addr, port=port, timeout=1)
    assert not res["ok"] and res["rcode_class"] == "refused"


class ScriptedServer:
    """A UDP DNS server on a random 127.x address: ``reply(n, query)`` gives the n-th question's response (or None: silence)."""

    def __init__(self, reply):
        self.reply = reply
        self.asked: list[tuple[tuple[str, int], str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((f"127.54.{random.randint(1, 254)}.{random.randint(1, 254)}", 0))
        self.sock.settimeout(0.05)
        self.addr, self.port = self.sock.getsockname()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            self.asked.append((peer, query.question[0].name.to_text()))
            response = self.reply(len(self.asked), query)
            if response is not None:
                self.sock.sendto(response.to_wire(), peer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def answer(query, ip):
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 30, "IN", "A", ip))
    return response


def test_servfail(rcode_server):
    addr, port = rcode_server
    res = dns_query("anything.test", server=addr, port=port, timeout=1)
    assert not res["ok"] and res["rcode_class"] == "servfail" and res["rcode"] == "SERVFAIL"


def test_timeout():
    with ScriptedServer(lambda n, q: None) as silent:
        res = dns_query("ok.test", server=silent.addr, port=silent.port, timeout=0.3)
    assert not res["ok"] and res["rcode_class"] == "timeout" and "0.3s" in res["reason"]
    # Sent again at half the timeout, as a stub resolver does: two questions, on the same socket.
    assert res["sends"] == 2 and len(silent.asked) == 2 and len({peer for peer, _ in silent.asked}) == 1


def test_a_lost_question_is_sent_again():
    """The server drops the first datagram (as a lossy path would) and answers the second."""
    with ScriptedServer(lambda n, q: None if n == 1 else answer(q, "10.9.9.9")) as lossy:
        res = dns_query("ok.test", server=lossy.addr, port=lossy.port, timeout=2, retry=0.2)
    assert res["ok"] and res["answers"] == ["10.9.9.9"] and res["sends"] == 2


def test_a_late_answer_to_the_first_question_counts():
    """The first answer comes after the resend went out; it answers the same question and is taken."""
    def late(n, q):
        if n == 1:
            time.sleep(0.3)
            return answer(q, "10.9.9.8")
        return None

    with ScriptedServer(late) as slow:
        res = dns_query("ok.test", server=slow.addr, port=slow.port, timeout=2, retry=0.1)
    assert res["ok"] and res["answers"] == ["10.9.9.8"] and res["sends"] >= 2


# -- --then: the zone's owner first, then the cluster DNS --------------------------------------------
def test_then_is_asked_once_the_first_server_answers(dnsmasq):
    addr, port = dnsmasq
    with ScriptedServer(lambda n, q: answer(q, "10.9.9.9")) as second:
        res = dns_query("ok.test", server=addr, port=port, timeout=2, then=second.addr, then_port=second.port)
    assert res["ok"] and res["then"]["ok"] and res["then"]["server"] == second.addr
    assert len(second.asked) == 1


@pytest.mark.parametrize("name", ["nope.nx.test", "h.nx.test"], ids=["nxdomain", "nodata"])
def test_then_is_not_asked_while_the_first_server_does_not_know_the_name(dnsmasq, name):
    """A forwarder asked now would cache the denial: it is left alone, and the result says so."""
    addr, port = dnsmasq
    with ScriptedServer(lambda n, q: answer(q, "10.9.9.9")) as second:
        res = dns_query(name, server=addr, port=port, rdtype="AAAA" if name.startswith("h.") else "A", timeout=2,
                        then=second.addr, then_port=second.port)
    assert res["rcode_class"] in ("nxdomain", "nodata") and res["then"] is None
    assert "not asked" in res["then_skipped"] and second.asked == []


def test_then_is_asked_alongside_a_silent_first_server():
    with ScriptedServer(lambda n, q: None) as silent, ScriptedServer(lambda n, q: answer(q, "10.9.9.9")) as second:
        res = dns_query("ok.test", server=silent.addr, port=silent.port, timeout=0.6, then=second.addr,
                        then_port=second.port, then_after=0.2)
    assert res["rcode_class"] == "timeout" and res["then"]["ok"] and res["then_asked_after_s"] == 0.2
    assert len(second.asked) == 1


def test_server_from_resolv_conf(dnsmasq, tmp_path):
    addr, port = dnsmasq
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"search example\n# comment\nnameserver {addr}\noptions ndots:5\n")
    res = dns_query("ok.test", port=port, timeout=1, resolv_conf=str(conf))
    assert res["ok"] and res["server"] == addr and res["server_source"] == str(conf)
    empty = tmp_path / "empty.conf"
    empty.write_text("search example\n")
    res = dns_query("ok.test", port=port, timeout=1, resolv_conf=str(empty))
    assert not res["ok"] and "no nameserver" in res["reason"]


def test_usage_errors():
    with pytest.raises(ProbeUsageError):
        dns_query("ok.test", server="127.0.0.1", rdtype="BOGUS")
    with pytest.raises(ProbeUsageError):
        dns_query("ok.test", server="not-an-ip")
    with pytest.raises(ProbeUsageError):
        dns_query("", server="127.0.0.1")
