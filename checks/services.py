"""Active: services across clusters, by name and by address: dns-clusterset, service-reachability."""

from __future__ import annotations

import time
from typing import Any

from mcdiag.active import targets as T
from mcdiag.active.base import ActiveCheck, not_started
from mcdiag.facts import cluster, dns, submariner
from mcdiag.gather import resources as R
from mcdiag.model import CheckContext, Outcome, Scope

#: Seconds a temporary echo service may take to become resolvable across clusters.
ECHO_DNS_WAIT = 45.0


DNS_TIMEOUT = 3.0


class _Service:
    """B's service to probe: the ``--service`` given, or the run's temporary echo service."""

    def __init__(self, namespace: str, name: str, ips: list[str], port: int | None, temporary: bool, expected: list[str]):
        self.namespace, self.name, self.ips, self.port = namespace, name, ips, port
        self.temporary = temporary
        #: What the clusterset name must answer: the ClusterIP(s), or Globalnet ingress IPs.
        self.expected = expected

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class ServiceCheck(ActiveCheck):
    """Shared by dns-clusterset and service-reachability: the service, its name, and resolving it from A."""

    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.SERVICE_READS

    def service(self, ctx: CheckContext, probes: Any) -> tuple[_Service | None, Outcome | None]:
        b = ctx.b
        given = ctx.option("service")
        if given:
            ns, _, name = str(given).partition("/")
            svc = b.find(R.SERVICES, name, ns)
            if svc is None:
                return None, self.error(f"service {given} (--service) does not exist in {b.name}")
            ips = T.service_ips(svc)
            if not ips:
                return None, self.error(f"service {given} in {b.name} is headless (no ClusterIP): give a ClusterIP service")
            expected = ips
            if b.fact(cluster.detect_provider) == "submariner" and b.fact(submariner.submariner_settings).globalnet:
                expected = T.global_ingress_ips(b, ns, name) or ips
            return _Service(ns, name, ips, T.service_port(svc), False, expected), None
        export = b.fact(cluster.detect_provider) == "submariner"
        echo = probes.echo_service(b.name, export=export)
        if echo.problem:
            return None, self.error(f"{b.name}: {echo.problem}")
        return _Service(echo.namespace, echo.name, [echo.ip], echo.port, True, [echo.ip]), None

    def resolve(self, ctx: CheckContext, probes: Any, svc: _Service, node: str) -> tuple[dict[str, Any] | None, str, Outcome | None]:
        """Query B's service name from a pod on ``node`` in A; a temporary service gets time to appear.

        Returns (dns probe result, name, error outcome).
        """
        a, b = ctx.a, ctx.b
        name, why = T.exported_name(a, b, svc.namespace, svc.name)
        if name is None:
            return None, "", self.error(why)
        server = dns.cluster_dns(a)
        argv = ["dns", name, "--timeout", str(DNS_TIMEOUT)]
        if server:
            argv += ["--server", server[0], "--port", str(server[1])]
        end = time.monotonic() + (ECHO_DNS_WAIT if svc.temporary else 0)
        while True:
            r = probes.run(a.name, self.spec(node, argv, "dns", False, DNS_TIMEOUT + 5))
            if (problem := not_started(r)) is not None:
                return None, name, self.error(problem)
            answered = set(r.data.get("answers") or [])
            if not svc.temporary or (answered & set(svc.expected)) or time.monotonic() >= end:
                break
            time.sleep(3)
        data = r.data
        if svc.temporary and not (set(data.get("answers") or []) & set(svc.expected)):
            data["temporary_unresolved"] = True
        return data, name, None


DNS_HINTS = {
    "submariner": {
        "nxdomain": "The name is unknown: check the ServiceExport in B is Valid/Ready (service-exports), that Lighthouse "
                    "imported it (service-imports) and that A's CoreDNS forwards clusterset.local to the Lighthouse DNS "
                    "(coredns-forwarding).",
        "timeout": "No DNS answer in time: check that A's CoreDNS and the submariner-lighthouse-coredns pods run and that "
                   "UDP/53 to them is allowed.",
        "nodata": "The name exists but has no A record: the service has no ready endpoints in B, or its export is not "
                  "ready yet (ServiceImport without IPs).",
        "wrong": "The name answers another address: look for a stale ServiceImport, a service of the same name exported "
                 "by another cluster, or Globalnet ingress IPs not allocated.",
    },
    "netmaker": {
        "nxdomain": "The name is unknown: A's CoreDNS needs a `NETWORK:53 { forward . IP }` block for B's network "
                    "(coredns-forwarding) and servicex must publish B's services to Netmaker DNS.",
        "timeout": "No DNS answer in time: check A's CoreDNS and that the Netmaker DNS it forwards to is reachable "
                   "through the tunnel (UDP/53).",
        "nodata": "The name exists but has no A record: servicex published no address for the service.",
        "wrong": "The name answers another address: servicex's entry is stale (re-run servicex or check for a "
                 "same-named service in another cluster).",
    },
}


class DnsClusterset(ServiceCheck):
    """From a pod in A, B's exported service name resolves to B's service IP."""

    id = "dns-clusterset"
    depends = ("coredns-forwarding", "nodelocaldns", "service-imports", "pod-connectivity")
    title = "Cross-cluster service DNS"
    hint = "Check service export and DNS forwarding for the clusterset zone."
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a, b = ctx.a, ctx.b
        a_gw, svc, err = self.gateway_and_service(ctx, probes)
        if err:
            return err
        data, name, err = self.resolve(ctx, probes, svc, a_gw.name)
        if err:
            return err
        provider = b.fact(cluster.detect_provider)
        answers = list(data.get("answers") or [])
        if provider == "submariner" and answers and not set(answers) & set(svc.expected):
            local = a.find(R.SERVICES, svc.name, svc.namespace)
            if local is not None and set(answers) <= set(T.service_ips(local)):
                # Lighthouse prefers the local cluster's export of the same service: ask for B's by its cluster id.
                specific = f"{submariner.cluster_id_of(b)}.{name}"
                argv = ["dns", specific, "--timeout", str(DNS_TIMEOUT)]
                if (server := dns.cluster_dns(a)) is not None:
                    argv += ["--server", server[0], "--port", str(server[1])]
                r = probes.run(a.name, self.spec(a_gw.name, argv, "dns", False, DNS_TIMEOUT + 5))
                if (problem := not_started(r)) is not None:
                    return self.error(problem)
                data, name, answers = r.data, specific, list(r.data.get("answers") or [])
        cls = data.get("rcode_class")
        details = {"name": name, "server": data.get("server"), "rcode": data.get("rcode"), "rcode_class": cls,
                   "answers": answers, "expected": svc.expected, "service": svc.ref, "from_node": a_gw.name,
                   "temporary_service": svc.temporary}
        hints = DNS_HINTS.get(provider, DNS_HINTS["submariner"])
        if set(answers) & set(svc.expected):
            return self.passed(f"{name} resolves to {', '.join(answers)} ({b.name}'s {svc.ref})", **details)
        if data.get("temporary_unresolved") and cls != "answer":
            return self.error(f"the temporary echo service {svc.ref} of {b.name} never became resolvable as {name} "
                              f"within {ECHO_DNS_WAIT:g}s: {data.get('reason')}", hint=hints.get(cls), **details)
        if cls == "answer":
            return self.fail(f"{name} resolves to {', '.join(answers)}, not to {b.name}'s {svc.ref} "
                             f"({', '.join(svc.expected)})", hint=hints["wrong"], **details)
        if cls in ("nxdomain", "timeout", "nodata"):
            what = {"nxdomain": "does not exist (NXDOMAIN)", "timeout": "got no answer in time (timeout)",
                    "nodata": "exists but has no address (NOERROR, empty answer)"}[cls]
            return self.fail(f"{name} {what} from {a.name} (server {data.get('server')})", hint=hints[cls], **details)
        return self.fail(f"{name} does not resolve from {a.name}: {data.get('reason')}", **details)


class ServiceReachability(ServiceCheck):
    """From a pod in A, an HTTP GET to B's exported service, by DNS name and by IP, answers within the timeout."""

    id = "service-reachability"
    depends = ("pod-connectivity", "dns-clusterset", "service-exports")
    title = "Cross-cluster service answers"
    hint = "Check that B's service has ready endpoints listening on its port, and that B's service CIDR is routed through the tunnel."
    docs = "https://submariner.io/operations/troubleshooting/"

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        a, b = ctx.a, ctx.b
        a_gw, svc, err = self.gateway_and_service(ctx, probes)
        if err:
            return err
        if svc.port is None:
            return self.error(f"service {svc.ref} in {b.name} has no TCP port to send an HTTP GET to")
        data, name, err = self.resolve(ctx, probes, svc, a_gw.name)
        if err:
            return err
        resolved = list(data.get("answers") or []) if data.get("rcode_class") == "answer" else []
        ip = svc.ips[0]
        urls = [f"http://{ip}:{svc.port}/"]
        by_name = resolved[0] if resolved else None
        if by_name and by_name != ip:
            urls.append(f"http://{by_name}:{svc.port}/")
        results = probes.run_all([(a.name, self.spec(a_gw.name, ["http", u, "--timeout", "5"], "http", False, 5)) for u in urls])
        for r in results:
            if (problem := not_started(r)) is not None:
                return self.error(problem)
        answers = {u: r.data for u, r in zip(urls, results, strict=True)}
        ip_data = answers[urls[0]]
        name_data = answers[urls[-1]] if by_name else None

        def said(d: dict[str, Any]) -> str:
            return f"HTTP {d['status']}" if d.get("outcome") == "response" else (d.get("reason") or str(d.get("outcome")))

        details = {"service": svc.ref, "name": name, "resolved": resolved, "from_node": a_gw.name,
                   "by_ip": {"url": urls[0], "outcome": ip_data.get("outcome"), "status": ip_data.get("status"),
                             "total_s": ip_data.get("total_s")},
                   "by_name": None if name_data is None else {
                       "url": urls[-1], "outcome": name_data.get("outcome"), "status": name_data.get("status")}}
        ip_ok = ip_data.get("outcome") == "response"
        name_ok = name_data is not None and name_data.get("outcome") == "response"
        if not ip_ok:
            hint = None
            if ip_data.get("outcome") == "refused":
                hint = f"Nothing listens behind {svc.ref} in {b.name} on port {svc.port}: check its pods are Ready and its targetPort."
            return self.fail(f"GET {urls[0]} ({b.name}'s {svc.ref} by ClusterIP) failed: {said(ip_data)}", hint=hint, **details)
        if not by_name:
            return self.passed(f"{b.name}'s {svc.ref} answers by ClusterIP {ip}:{svc.port} ({said(ip_data)}); by name "
                               f"judged by IP only: {name} does not resolve from {a.name} (dns-clusterset's failure)",
                               **details)
        if not name_ok:
            return self.fail(f"{name} resolves to {by_name}, and GET {urls[-1]} failed: {said(name_data)}",
                             hint="The name answers an address that does not serve: see dns-clusterset (wrong IP).", **details)
        return self.passed(f"{b.name}'s {svc.ref} answers by name {name} and by ClusterIP {ip}:{svc.port} ({said(ip_data)})",
                           **details)
