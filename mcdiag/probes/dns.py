"""DNS query probe (dnspython), classifying the outcome into rcode classes."""

from __future__ import annotations

import time
from typing import Any

from ._base import ProbeUsageError, check_ip, check_port, check_timeout, errno_reason, finish, new_result


def _nameserver_from_resolv_conf(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split("#", 1)[0].split(";", 1)[0].split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1].split("%")[0]
    except OSError:
        return None
    return None


def dns_query(name: str, server: str | None = None, rdtype: str = "A", timeout: float = 2.0,
              port: int = 53, tcp: bool = False, resolv_conf: str = "/etc/resolv.conf",
              retry: float | None = None, then: str | None = None, then_port: int = 53,
              then_after: float | None = None) -> dict[str, Any]:
    """Ask ``server`` for ``name``/``rdtype`` and classify the response; with ``then``, ask a second server as well.

    ``then`` (an IP; ``then_port``) is asked in the same probe, staged for a name that may not
    have reached the first server yet (a name just created, asked of the DNS that owns its zone
    first): at once when the first server answers anything but NXDOMAIN or NODATA; not at all
    when it says NXDOMAIN or NODATA (asking a forwarder then would only leave that denial in its
    cache; ``then_skipped`` says so); and, when the first server is still silent after
    ``then_after`` seconds (default half of ``timeout``), right then, side by side with the wait
    for the first (a silent server has no denial to leave in a cache). The second server's
    result, classified the same way, is the ``then`` field; ``ok`` is the first server's.
    """
    if then is None:
        return _query(name, server, rdtype, timeout, port, tcp, resolv_conf, retry)
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    timeout = check_timeout(timeout)
    check_ip(then, "then")
    then_port = check_port(then_port)
    then_after = timeout / 2 if then_after is None else then_after
    if not 0 <= then_after <= timeout:
        raise ProbeUsageError("then_after must be between 0 and the timeout")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dns") as pool:
        first = pool.submit(_query, name, server, rdtype, timeout, port, tcp, resolv_conf, retry)
        try:
            res = first.result(timeout=then_after)
        except FutureTimeout:
            second = pool.submit(_query, name, then, rdtype, max(0.1, timeout - then_after), then_port, tcp, resolv_conf, retry)
            res = first.result()
            res["then"] = second.result()
            res["then_asked_after_s"] = round(then_after, 3)
            return res
    if res.get("rcode_class") in ("nxdomain", "nodata"):
        res["then"] = None
        res["then_skipped"] = f"{res.get('server')} does not know the name ({res['rcode_class']}): {then} not asked"
        return res
    res["then"] = _query(name, then, rdtype, timeout, then_port, tcp, resolv_conf, retry)
    res["then_asked_after_s"] = round(time.monotonic() - started, 3)
    return res


def _query(name: str, server: str | None, rdtype: str, timeout: float, port: int, tcp: bool, resolv_conf: str,
           retry: float | None) -> dict[str, Any]:
    """One question to one server (see :func:`dns_query`).

    Over UDP the question is sent again every ``retry`` seconds (default half of ``timeout``, as a
    stub resolver does) on the same socket, so one lost datagram is not a timeout; a late answer
    to an earlier send counts.

    ``rcode_class`` is ``answer`` (NOERROR with records of the asked type, in
    ``answers``), ``nodata`` (NOERROR, none), ``nxdomain``, ``servfail``,
    ``refused``, ``timeout`` (no response in time), or ``error`` (any other
    rcode or a socket error). The name is queried as absolute (no search
    list). ``server`` defaults to the first nameserver of ``resolv_conf``.
    UDP, retried over TCP when the answer is truncated. ok only for ``answer``.
    """
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype

    timeout = check_timeout(timeout)
    port = check_port(port)
    retry = timeout / 2 if retry is None else check_timeout(retry, "retry")
    if not isinstance(name, str) or not name.strip():
        raise ProbeUsageError("name must be a non-empty DNS name")
    try:
        qname = dns.name.from_text(name.strip())
    except dns.exception.DNSException as exc:
        raise ProbeUsageError(f"bad DNS name {name!r}: {exc}") from None
    try:
        qtype = dns.rdatatype.from_text(str(rdtype).upper())
    except dns.exception.DNSException:
        raise ProbeUsageError(f"unknown DNS record type {rdtype!r}") from None
    started = time.monotonic()
    res = new_result("dns", name=qname.to_text(), rdtype=dns.rdatatype.to_text(qtype), server=None,
                     port=port, rcode=None, rcode_class=None, answers=[], cname_chain=[], rtt_s=None,
                     transport="tcp" if tcp else "udp")
    server_source = "argument"
    if server is None:
        server = _nameserver_from_resolv_conf(resolv_conf)
        server_source = resolv_conf
        if server is None:
            res["rcode_class"] = "error"
            return finish(res, started, False, f"no nameserver found in {resolv_conf}")
    addr = check_ip(server, "server")
    res["server"] = str(addr)
    res["server_source"] = server_source

    query = dns.message.make_query(qname, qtype, dns.rdataclass.IN)
    t0 = time.monotonic()
    try:
        if tcp:
            response = dns.query.tcp(query, str(addr), timeout=timeout, port=port)
        else:
            response = _udp_with_resends(query, str(addr), port, timeout, retry, res)
            if response.flags & dns.flags.TC:
                res["transport"] = "tcp"
                remaining = max(0.05, timeout - (time.monotonic() - t0))
                response = dns.query.tcp(query, str(addr), timeout=remaining, port=port)
    except dns.exception.Timeout:
        res["rcode_class"] = "timeout"
        return finish(res, started, False,
                      f"no DNS response from {addr}:{port} for {res['name']} {res['rdtype']} within {timeout}s")
    except ConnectionRefusedError:
        res["rcode_class"] = "error"
        return finish(res, started, False,
                      f"DNS server {addr}:{port} refused the connection (ICMP port unreachable: nothing listens)")
    except (OSError, dns.exception.DNSException, EOFError) as exc:
        res["rcode_class"] = "error"
        return finish(res, started, False, f"DNS query to {addr}:{port} failed: {errno_reason(exc)}")
    res["rtt_s"] = round(time.monotonic() - t0, 6)
    rcode = response.rcode()
    res["rcode"] = dns.rcode.to_text(rcode)
    res["authoritative"] = bool(response.flags & dns.flags.AA)

    if rcode == dns.rcode.NOERROR:
        owner = qname
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and qtype != dns.rdatatype.CNAME:
                res["cname_chain"].append(rrset.name.to_text())
        for rrset in response.answer:
            if rrset.rdtype == qtype or qtype == dns.rdatatype.ANY:
                res["answers"].extend(rdata.to_text() for rdata in rrset)
                res["ttl"] = rrset.ttl
                owner = rrset.name
        res["answer_name"] = owner.to_text()
        if res["answers"]:
            res["rcode_class"] = "answer"
            return finish(res, started, True, "")
        res["rcode_class"] = "nodata"
        return finish(res, started, False,
                      f"{res['name']} exists but has no {res['rdtype']} record (NOERROR, empty answer) at {addr}")
    if rcode == dns.rcode.NXDOMAIN:
        res["rcode_class"] = "nxdomain"
        return finish(res, started, False, f"{addr} says {res['name']} does not exist (NXDOMAIN)")
    if rcode == dns.rcode.SERVFAIL:
        res["rcode_class"] = "servfail"
        return finish(res, started, False,
                      f"{addr} answered SERVFAIL for {res['name']} {res['rdtype']} (its upstream or plugin failed)")
    if rcode == dns.rcode.REFUSED:
        res["rcode_class"] = "refused"
        return finish(res, started, False,
                      f"{addr} REFUSED the query for {res['name']} (not authoritative/allowed for this zone or client)")
    res["rcode_class"] = "error"
    return finish(res, started, False, f"{addr} answered {res['rcode']} for {res['name']} {res['rdtype']}")


def _udp_with_resends(query: Any, addr: str, port: int, timeout: float, retry: float, res: dict[str, Any]) -> Any:
    """Send ``query`` over UDP, again every ``retry`` seconds, until an answer to it comes or ``timeout`` passes.

    ``res["sends"]`` counts the datagrams sent.
    """
    import socket

    import dns.exception
    import dns.inet
    import dns.query

    family = dns.inet.af_for_address(addr)
    now = time.time()  # dnspython's expirations are wall-clock times
    deadline = now + timeout
    res["sends"] = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        while True:
            dns.query.send_udp(sock, query, (addr, port), deadline)
            res["sends"] += 1
            try:
                response, _ = dns.query.receive_udp(sock, (addr, port), min(deadline, time.time() + retry),
                                                     ignore_unexpected=True, query=query, ignore_errors=True)
                return response
            except dns.exception.Timeout:
                if time.time() >= deadline:
                    raise
