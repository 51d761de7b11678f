"""Active: services across clusters, by name and by address: dns-clusterset, service-reachability.

For A→B both checks probe B's services: mcdiag's temporary echo service (the control, always)
and B's exported services (Submariner ServiceExports; with Netmaker what servicex publishes), at
most ``--max-services``, sorted; ``--service NS/NAME`` (repeatable) names them instead. A result
fails when any probed service fails, naming each.

DNS is decided, not waited out: from a pod on A's gateway node each name is asked of A's cluster
DNS and of the DNS that owns B's zone for A (A's Lighthouse DNS; with Netmaker the server A's
Corefile forwards B's network to), at the same moment. The echo service's name, made for this run,
is asked of its owner first, again only while the owner does not know it yet (bounded by
:data:`ECHO_DNS_WAIT`), and then of A's cluster DNS, in the same probe pod (``dns --then``): at
once after the owner's answer, or alongside it when the owner is silent for half the wait; once the
owner answers and A's cluster DNS does not, the broken hop is A's cluster DNS. Every question waits
``--answer-timeout`` (sent again after half of it). Both checks share each lookup (one per
direction and service per run).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mcdiag.active import targets as T
from mcdiag.active.base import ActiveCheck, not_started
from mcdiag.active.targets import ServiceTarget, ZoneOwner
from mcdiag.facts import cluster, dns, netmaker, objects, submariner
from mcdiag.gather import resources as R
from mcdiag.model import CheckContext, Outcome, Scope

#: Seconds the echo service's name may take to reach the DNS that owns B's zone (only while that owner does not know it).
ECHO_DNS_WAIT = 45.0
#: Seconds between two questions about a name the owner does not know yet.
DNS_RETRY = 2.0
#: Seconds a denial may stay in A's cluster DNS's cache (CoreDNS's ``cache 30``): how long A's cluster DNS is asked
#: again when it was asked while the owner still denied the name (only then).
NEGATIVE_CACHE_WAIT = 30.0
#: Seconds an HTTP exchange may take once connected (the connection itself waits ``--answer-timeout``).
HTTP_TIMEOUT = 5.0
SERVICEIMPORTS = "/apis/multicluster.x-k8s.io/v1alpha1/namespaces"

WHAT = {
    "nxdomain": "does not exist (NXDOMAIN)",
    "timeout": "got no answer in time (timeout)",
    "nodata": "exists but has no address (NOERROR, empty answer)",
    "servfail": "failed (SERVFAIL)",
    "refused": "was refused (REFUSED)",
}


@dataclass
class Lookup:
    """One of B's service names asked of A's cluster DNS and of the zone's owner, from a pod in A."""

    service: ServiceTarget
    name: str = ""
    server: str | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    owner: dict[str, Any] | None = None
    zone_owner: ZoneOwner | None = None
    waited_s: float = 0.0
    #: A holds a ServiceImport of it (``None``: the provider has no ServiceImports, or it was not asked).
    imported: bool | None = None
    #: Why nothing could be asked (no name, probe pod never started).
    problem: str = ""

    @property
    def answers(self) -> list[str]:
        """What A's cluster DNS answered."""
        return list(self.cluster.get("answers") or [])

    @property
    def resolved(self) -> bool:
        """A's cluster DNS answers one of the expected addresses."""
        return bool(set(self.answers) & set(self.service.expected))


class ServiceCheck(ActiveCheck):
    """Shared by dns-clusterset and service-reachability: which of B's services, and resolving their names from A."""

    scope = Scope.ORDERED_PAIR
    tags = frozenset({"active", "inter-cluster"})
    reads = T.SERVICE_READS
    reads_if_needed = T.SERVICE_READS_IF_NEEDED

    # -- which services ----------------------------------------------------------------------
    def services(self, ctx: CheckContext, probes: Any) -> tuple[list[ServiceTarget], list[str]]:
        """B's services to probe (the echo control first), and notes on what was left out."""
        b = ctx.b
        export = b.fact(cluster.detect_provider) == "submariner"
        echo = probes.echo_service(b.name, export=export)
        out = [ServiceTarget(echo.namespace, echo.name, [echo.ip] if echo.ip else [], echo.port, [echo.ip] if echo.ip else [],
                             "echo control", f"{b.name}: {echo.problem}" if echo.problem else "")]
        notes: list[str] = []
        given = ctx.option("service") or []
        given = [given] if isinstance(given, str) else [str(s) for s in given]
        if given:
            for ref in dict.fromkeys(given):
                ns, _, name = ref.partition("/")
                out.append(T.service_target(b, ns, name, "--service"))
            return out, notes
        limit = int(ctx.option("max_services", 5))
        found, how, total = T.exported_services(b, limit, skip_namespaces=(getattr(probes, "namespace", ""),))
        for ns, name in found:
            out.append(T.service_target(b, ns, name, how))
        if total > len(found):
            notes.append(f"{total - len(found)} more exported service(s) of {b.name} not probed (--max-services {limit})")
        return out, notes

    # -- names -------------------------------------------------------------------------------
    def lookup(self, ctx: CheckContext, probes: Any, svc: ServiceTarget, node: str) -> Lookup:
        """The shared lookup of ``svc``'s name for this direction (made once per run, by whichever check asks first)."""
        wait = self.answer_timeout(ctx)
        bound = ECHO_DNS_WAIT + NEGATIVE_CACHE_WAIT + 3 * (float(getattr(probes, "start_timeout", 60.0)) + wait + 20)
        return probes.shared(("dns", ctx.a.name, ctx.b.name, svc.ref), lambda: self._lookup(ctx, probes, svc, node, wait),
                             bound)

    @staticmethod
    def _dns_argv(name: str, server: tuple[str, int] | None, timeout: float) -> list[str]:
        argv = ["dns", name, "--timeout", f"{timeout:g}"]
        if server is not None:
            argv += ["--server", server[0], "--port", str(server[1])]
        return argv

    def _ask(self, probes: Any, a: str, node: str, name: str, servers: list[tuple[str, int] | None],
             timeout: float) -> tuple[list[dict[str, Any]], str]:
        """Each server asked by its own probe pod, all at once."""
        jobs = [(a, self.spec(node, self._dns_argv(name, server, timeout), "dns", False, timeout + 5)) for server in servers]
        results = probes.run_all(jobs)
        problem = not_started(*results)
        return [r.data or {} for r in results], problem or ""

    def _ask_owner_then(self, probes: Any, a: str, node: str, name: str, owner: tuple[str, int], server: tuple[str, int],
                        timeout: float) -> tuple[dict[str, Any], str]:
        """The owner, then A's cluster DNS, in one probe pod (``dns --then``): A's answer is the ``then`` field."""
        argv = self._dns_argv(name, owner, timeout) + ["--then", server[0], "--then-port", str(server[1])]
        r = probes.run(a, self.spec(node, argv, "dns", False, 2 * timeout + 5))
        return r.data or {}, not_started(r) or ""

    def _lookup(self, ctx: CheckContext, probes: Any, svc: ServiceTarget, node: str, wait: float) -> Lookup:
        a, b = ctx.a, ctx.b
        lk = Lookup(svc)
        name, why = T.exported_name(a, b, svc.namespace, svc.name)
        if name is None:
            lk.problem = why
            return lk
        lk.name = name
        server = dns.cluster_dns(a)
        lk.server = server[0] if server else None
        owner = lk.zone_owner = T.zone_owner(a, b)
        servers: list[tuple[str, int] | None] = [server]
        if owner.ip:
            servers.append((owner.ip, owner.port))
        start = time.monotonic()
        deadline = start + (ECHO_DNS_WAIT if svc.temporary else 0.0)
        if svc.temporary and owner.ip and server is not None:
            # A name made for this run: ask its owner, and A's cluster DNS only once the owner knows it or is silent
            # (the probe stages it): asking A's cluster DNS while the owner denies the name would only leave that
            # denial in its cache (CoreDNS caches denials). Again, bounded, while the owner does not know it yet.
            premature = False
            while True:
                data, problem = self._ask_owner_then(probes, a.name, node, lk.name, (owner.ip, owner.port), server, wait)
                if problem:
                    lk.problem = problem
                    return lk
                then = data.pop("then", None)
                lk.owner, lk.cluster = data, then or lk.cluster
                denied = data.get("rcode_class") in ("nxdomain", "nodata")
                # A's cluster DNS asked alongside an owner that was slow and then denied the name: it may cache that.
                premature = premature or (denied and then is not None)
                if not denied or time.monotonic() >= deadline:
                    break
                time.sleep(DNS_RETRY)
            if denied and not lk.cluster:
                # The owner still does not know it: what A's cluster DNS says completes the picture.
                answers, problem = self._ask(probes, a.name, node, lk.name, [server], wait)
                if problem:
                    lk.problem = problem
                    return lk
                lk.cluster = answers[0]
            elif premature and set(lk.owner.get("answers") or []) & set(svc.expected):
                # The owner knows it now; A's cluster DNS may still hold the denial it was given: ask it again until
                # that could have expired (only in this case, and only while it denies the name).
                until = time.monotonic() + NEGATIVE_CACHE_WAIT
                while lk.cluster.get("rcode_class") in ("nxdomain", "nodata") and time.monotonic() < until:
                    time.sleep(DNS_RETRY)
                    answers, problem = self._ask(probes, a.name, node, lk.name, [server], wait)
                    if problem:
                        break
                    lk.cluster = answers[0]
        elif svc.temporary and owner.ip:
            # No cluster DNS address to stage against (the probe uses its resolv.conf): the owner first, then it.
            while True:
                answers, problem = self._ask(probes, a.name, node, lk.name, [(owner.ip, owner.port)], wait)
                if problem:
                    lk.problem = problem
                    return lk
                lk.owner = answers[0]
                if lk.owner.get("rcode_class") not in ("nxdomain", "nodata") or time.monotonic() >= deadline:
                    break
                time.sleep(DNS_RETRY)
            answers, problem = self._ask(probes, a.name, node, lk.name, [server], wait)
            if problem:
                lk.problem = problem
                return lk
            lk.cluster = answers[0]
        else:
            specific = False
            while True:
                answers, problem = self._ask(probes, a.name, node, lk.name, servers, wait)
                if problem:
                    lk.problem = problem
                    return lk
                lk.cluster, lk.owner = answers[0], (answers[1] if len(answers) > 1 else None)
                got = set(lk.answers)
                if (not specific and got and not got & set(svc.expected) and b.fact(cluster.detect_provider) == "submariner"
                        and self._local_export(a, svc, got)):
                    # Lighthouse prefers the local cluster's export of the same service: ask for B's by its cluster id.
                    lk.name, specific = f"{submariner.cluster_id_of(b)}.{name}", True
                    continue
                break
            if not lk.resolved and set((lk.owner or {}).get("answers") or []) & set(svc.expected):
                # The owner knows it and A's cluster DNS did not: ask A's cluster DNS once more, so a name that
                # reached the owner between the two questions is not taken for a broken hop.
                answers, problem = self._ask(probes, a.name, node, lk.name, [server], wait)
                if not problem:
                    lk.cluster = answers[0]
        lk.waited_s = round(time.monotonic() - start, 1)
        if not lk.resolved and lk.owner is not None and lk.owner.get("rcode_class") in ("nxdomain", "nodata"):
            lk.imported = self._imported(probes, a, b, svc)
        return lk

    @staticmethod
    def _local_export(a: Any, svc: ServiceTarget, got: set[str]) -> bool:
        local = objects.named(a, R.SERVICES, svc.name, svc.namespace)
        return local is not None and got <= set(T.service_ips(local))

    @staticmethod
    def _imported(probes: Any, a: Any, b: Any, svc: ServiceTarget) -> bool | None:
        if not svc.temporary:
            return T.service_import(a, b, svc.namespace, svc.name)
        if b.fact(cluster.detect_provider) != "submariner":
            return None
        paths = [f"{SERVICEIMPORTS}/{svc.namespace}/serviceimports/{svc.name}",
                 f"{SERVICEIMPORTS}/{submariner.submariner_namespace(a)}/serviceimports/{svc.name}-{svc.namespace}-{submariner.cluster_id_of(b)}"]
        try:
            return any(probes.get_object(a.name, p) is not None for p in paths)
        except Exception:  # noqa: BLE001 - only a detail of the message
            return None

    # -- judging -----------------------------------------------------------------------------
    def each(self, ctx: CheckContext, probes: Any, judge: Any) -> Outcome:
        """Judge every service with ``judge(ctx, probes, svc, node) -> Entry``, then one outcome for them all."""
        a_gw = self.gateway(ctx.a)
        if a_gw.node is None:
            return self.error(f"{ctx.a.name}: {a_gw.reason}")
        svcs, notes = self.services(ctx, probes)
        runnable = [s for s in svcs if not s.problem]
        with ThreadPoolExecutor(max_workers=max(1, len(runnable)), thread_name_prefix=f"mcdiag-{self.id}") as pool:
            judged = dict(zip([s.ref for s in runnable], pool.map(lambda s: judge(ctx, probes, s, a_gw.name), runnable), strict=True))
        entries = [judged.get(s.ref) or Entry(s, "error" if s.source != "--service" else "fail", s.problem,
                                              hint=f"Check the name: kubectl -n {s.namespace} get service {s.name} in {ctx.b.name}.")
                   for s in svcs]
        return self.combine(ctx, entries, notes)

    def combine(self, ctx: CheckContext, entries: list[Entry], notes: list[str]) -> Outcome:
        """One outcome: fail when any probed service fails (each named), error when none could be probed."""
        details: dict[str, Any] = {"services": [e.detail() for e in entries], "from_node": self.gateway(ctx.a).name, "notes": notes}
        primary = next((e for e in entries if not e.service.temporary and e.status != "error"), None) or entries[0]
        details.update(primary.summary)
        details.update(service=primary.service.ref, temporary_service=primary.service.temporary)
        probed = [e for e in entries if e.status != "error"]
        unprobed = [f"{e.service.ref} ({e.service.source}) not probed: {e.sentence}" for e in entries if e.status == "error"]
        tail = "".join(f"; {n}" for n in unprobed + notes)
        if not probed:
            return self.error("; ".join(e.sentence for e in entries) + "".join(f"; {n}" for n in notes),
                              hint=next((e.hint for e in entries if e.hint), None), **details)
        failed = [e for e in probed if e.status == "fail"]
        control = next((e for e in entries if e.service.temporary), None)
        if failed:
            hints = list(dict.fromkeys(e.hint for e in failed if e.hint))
            users = [e for e in failed if not e.service.temporary]
            if control is not None and control.status == "pass" and users:
                said = f"the echo control {control.service.ref} {control.ok_words}"
                hint = (f"{said}, so the path from {ctx.a.name} to {ctx.b.name} works: look at "
                        + ", ".join(e.service.ref for e in users) + " itself. " + " ".join(hints))
                return self.fail("; ".join(e.sentence for e in failed) + f"; {said}" + tail, hint=hint.strip(), **details)
            return self.fail("; ".join(e.sentence for e in failed) + tail, hint=" ".join(hints) or None, **details)
        return self.passed("; ".join(e.sentence for e in probed) + tail, **details)


@dataclass
class Entry:
    """The verdict about one service: ``pass``, ``fail`` or ``error`` (could not be probed), with its sentence."""

    service: ServiceTarget
    status: str
    sentence: str
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: For the echo control: what it did when it passed ("resolves", "answered (HTTP 200)").
    ok_words: str = ""
    #: Fields kept at the top of the result's details (of the primary service).
    summary: dict[str, Any] = field(default_factory=dict)

    def detail(self) -> dict[str, Any]:
        return {"service": self.service.ref, "source": self.service.source, "status": self.status, "message": self.sentence,
                **self.data}


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
        "hop": "A's cluster DNS does not pass clusterset.local on to the Lighthouse DNS, which knows the name: check "
               "coredns-forwarding (the clusterset.local:53 block the CoreDNS pods load) and that CoreDNS reloaded it.",
        "owner-down": "A's Lighthouse DNS does not answer: check the submariner-lighthouse-coredns pods (kubectl -n "
                      "submariner-operator get pods -l app=submariner-lighthouse-coredns) and that UDP/53 to them is allowed.",
        "not-imported": "Lighthouse in A does not know the service because A has no ServiceImport of it: check the "
                        "ServiceExport in B (service-exports), the Lighthouse agents' logs and the broker connection.",
        "imported": "A holds the ServiceImport but its Lighthouse DNS does not serve it: read the "
                    "submariner-lighthouse-coredns logs and check the ServiceImport's status lists B's cluster.",
    },
    "netmaker": {
        "nxdomain": "The name is unknown: A's CoreDNS needs a `NETWORK:53 { forward . IP }` block for B's network "
                    "(coredns-forwarding) and servicex must publish B's services to Netmaker DNS.",
        "timeout": "No DNS answer in time: check A's CoreDNS and that the Netmaker DNS it forwards to is reachable "
                   "through the tunnel (UDP/53).",
        "nodata": "The name exists but has no A record: servicex published no address for the service.",
        "wrong": "The name answers another address: servicex's entry is stale (re-run servicex or check for a "
                 "same-named service in another cluster).",
        "hop": "A's cluster DNS does not pass B's network zone on to the Netmaker DNS, which knows the name: check "
               "coredns-forwarding (the NETWORK:53 block the CoreDNS pods load) and that CoreDNS reloaded it.",
        "owner-down": "The Netmaker DNS that A's CoreDNS forwards B's network to does not answer: check that it runs and is "
                      "reachable from A through the tunnel (UDP/53).",
        "not-imported": "The Netmaker DNS does not know the name: check that servicex runs in B and published the "
                        "service (its logs), with the right NETWORK.",
        "imported": "The Netmaker DNS does not know the name: check servicex in B.",
    },
}


class DnsClusterset(ServiceCheck):
    """From a pod in A, each probed service name of B resolves to B's service IP; A's cluster DNS is compared with the zone's owner."""

    id = "dns-clusterset"
    depends = ("coredns-forwarding", "nodelocaldns", "service-imports", "pod-connectivity")
    title = "Cross-cluster service DNS"
    hint = "Check service export and DNS forwarding for the clusterset zone."
    docs = "https://submariner.io/getting-started/architecture/service-discovery/"
    provider_docs = MappingProxyType({"netmaker": netmaker.NETMAKER_K8S_DOCS})

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        return self.each(ctx, probes, self.judge)

    def judge(self, ctx: CheckContext, probes: Any, svc: ServiceTarget, node: str) -> Entry:
        a, b = ctx.a, ctx.b
        lk = self.lookup(ctx, probes, svc, node)
        hints = DNS_HINTS.get(b.fact(cluster.detect_provider), DNS_HINTS["submariner"])
        owner = lk.zone_owner
        data = {"name": lk.name, "server": lk.server or lk.cluster.get("server"), "rcode": lk.cluster.get("rcode"),
                "rcode_class": lk.cluster.get("rcode_class"), "answers": lk.answers, "expected": svc.expected,
                "owner": None if owner is None else {"what": owner.what, "ip": owner.ip,
                                                     "rcode_class": (lk.owner or {}).get("rcode_class"),
                                                     "answers": list((lk.owner or {}).get("answers") or [])},
                "waited_s": lk.waited_s, "imported": lk.imported}
        summary = {k: data[k] for k in ("name", "server", "rcode", "rcode_class", "answers", "expected")}
        if lk.problem:
            return Entry(svc, "error", lk.problem, data=data, summary=summary)
        tag = f"{b.name}'s {svc.ref}" + (" (echo control)" if svc.temporary else "")
        if lk.resolved:
            return Entry(svc, "pass", f"{lk.name} resolves to {', '.join(lk.answers)} ({tag})", data=data, ok_words="resolves",
                         summary=summary)
        cls = str(lk.cluster.get("rcode_class") or "error")
        where = f"{a.name}'s cluster DNS ({lk.cluster.get('server') or lk.server})"
        if cls == "answer":
            return Entry(svc, "fail", f"{lk.name} resolves to {', '.join(lk.answers)}, not to {tag} ({', '.join(svc.expected)})",
                         hints["wrong"], data, summary=summary)
        base = f"{lk.name} {WHAT.get(cls, 'does not resolve: ' + str(lk.cluster.get('reason')))} from {where}"
        if owner is None or owner.ip is None:
            why = owner.what if owner is not None else "no zone owner"
            return Entry(svc, "fail", f"{base}; no zone owner to compare with ({why})", hints.get(cls, self.hint), data, summary=summary)
        o = lk.owner or {}
        ocls = str(o.get("rcode_class") or "error")
        oans = list(o.get("answers") or [])
        if set(oans) & set(svc.expected):
            return Entry(svc, "fail", f"{base}, while {owner.what} answers {', '.join(oans)}: the broken hop is {a.name}'s "
                         f"cluster DNS, which does not pass the name on to it", hints["hop"], data, summary=summary)
        if ocls == "answer":
            return Entry(svc, "fail", f"{base}; {owner.what} answers {', '.join(oans)}, not {tag} ({', '.join(svc.expected)})",
                         hints["wrong"], data, summary=summary)
        if ocls not in ("nxdomain", "nodata"):
            return Entry(svc, "fail", f"{base}; {owner.what} {WHAT.get(ocls, 'failed')} as well: the broken hop is the zone's "
                         f"owner ({o.get('reason')})", hints["owner-down"], data, summary=summary)
        known = f"{owner.what} {WHAT[ocls]} too"
        if svc.temporary:
            known += f" (still, after {lk.waited_s:g}s)"
        if lk.imported is False:
            return Entry(svc, "fail", f"{base}; {known}, and {a.name} holds no ServiceImport of {svc.ref} from {b.name}: "
                         "the export never reached it", hints["not-imported"], data, summary=summary)
        if lk.imported is True:
            return Entry(svc, "fail", f"{base}; {known}, although {a.name} holds its ServiceImport", hints["imported"], data,
                         summary=summary)
        return Entry(svc, "fail", f"{base}; {known}: the zone's owner does not know the name", hints["not-imported"], data,
                     summary=summary)


class ServiceReachability(ServiceCheck):
    """From a pod in A, an HTTP GET to each probed service of B, by DNS name and by IP, answers within the timeout."""

    id = "service-reachability"
    depends = ("pod-connectivity", "dns-clusterset", "service-exports")
    title = "Cross-cluster service answers"
    hint = "Check that B's service has ready endpoints listening on its port, and that B's service CIDR is routed through the tunnel."
    docs = "https://submariner.io/operations/troubleshooting/"

    def probe(self, ctx: CheckContext, probes: Any) -> Outcome:
        return self.each(ctx, probes, self.judge)

    def judge(self, ctx: CheckContext, probes: Any, svc: ServiceTarget, node: str) -> Entry:
        a, b = ctx.a, ctx.b
        if svc.port is None:
            return Entry(svc, "error", f"Service {svc.ref} in {b.name} has no TCP port to send an HTTP GET to")
        ip = svc.ips[0]
        urls = [f"http://{ip}:{svc.port}/"]

        connect = self.answer_timeout(ctx)
        whole = max(HTTP_TIMEOUT, connect + 3)

        def get(url: str) -> Any:
            argv = ["http", url, "--timeout", f"{whole:g}", "--connect-timeout", f"{connect:g}"]
            return probes.run(a.name, self.spec(node, argv, "http", False, whole))

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mcdiag-http") as pool:  # by IP needs no name: ask both at once
            by_ip = pool.submit(get, urls[0])
            lk = self.lookup(ctx, probes, svc, node)
            results = [by_ip.result()]
        if lk.problem and not lk.name:
            lk = Lookup(svc)  # no name to resolve: judged by IP only
        resolved = lk.answers if lk.cluster.get("rcode_class") == "answer" else []
        by_name = resolved[0] if resolved else None
        if by_name and by_name != ip:
            urls.append(f"http://{by_name}:{svc.port}/")
            results.append(get(urls[1]))
        if (problem := not_started(*results)) is not None:
            return Entry(svc, "error", problem)
        answers = {u: r.data or {} for u, r in zip(urls, results, strict=True)}
        ip_data = answers[urls[0]]
        name_data = answers[urls[-1]] if by_name else None
        tag = f"{b.name}'s {svc.ref}" + (" (echo control)" if svc.temporary else "")
        data = {"name": lk.name, "resolved": resolved,
                "by_ip": {"url": urls[0], "outcome": ip_data.get("outcome"), "status": ip_data.get("status"),
                          "total_s": ip_data.get("total_s")},
                "by_name": None if name_data is None else {"url": urls[-1], "outcome": name_data.get("outcome"),
                                                           "status": name_data.get("status")}}
        summary = {k: data[k] for k in ("name", "resolved", "by_ip", "by_name")}
        if not _answered(ip_data):
            hint = None
            if ip_data.get("outcome") == "refused":
                hint = (f"Nothing listens behind {svc.ref} in {b.name} on port {svc.port}: check its endpoints (kubectl -n "
                        f"{svc.namespace} get endpoints {svc.name}), that its pods are Ready, and its targetPort.")
            return Entry(svc, "fail", f"GET {urls[0]} ({tag} by ClusterIP) failed: {_said(ip_data)}", hint, data, summary=summary)
        if not by_name:
            why = (f"{lk.name} does not resolve from {a.name} (dns-clusterset's failure)" if lk.name
                   else f"it has no cross-cluster name ({lk.problem})")
            return Entry(svc, "pass", f"{tag} answers by ClusterIP {ip}:{svc.port} ({_said(ip_data)}); by name judged by IP "
                         f"only: {why}", data=data, ok_words=f"answered ({_said(ip_data)})", summary=summary)
        if not _answered(name_data or {}):
            return Entry(svc, "fail", f"{lk.name} resolves to {by_name}, and GET {urls[-1]} failed: {_said(name_data or {})}",
                         "The name answers an address that does not serve: see dns-clusterset (wrong IP).", data, summary=summary)
        return Entry(svc, "pass", f"{tag} answers by name {lk.name} and by ClusterIP {ip}:{svc.port} ({_said(ip_data)})",
                     data=data, ok_words=f"answered ({_said(ip_data)})", summary=summary)


def _answered(d: dict[str, Any]) -> bool:
    """An HTTP response, or a TCP connection whose peer spoke something else than HTTP (a service that answers)."""
    return d.get("outcome") == "response" or (d.get("outcome") == "error" and d.get("connect_s") is not None)


def _said(d: dict[str, Any]) -> str:
    if d.get("outcome") == "response":
        return f"HTTP {d['status']}"
    if d.get("outcome") == "error" and d.get("connect_s") is not None:
        return f"TCP connection accepted, not HTTP: {d.get('reason')}"
    return str(d.get("reason") or d.get("outcome"))
