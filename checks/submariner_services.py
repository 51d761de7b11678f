"""Submariner service discovery and Globalnet: globalnet, service-exports, service-imports."""

from __future__ import annotations

from typing import Any

from mcdiag.facts import cluster, submariner
from mcdiag.facts.objects import meta, named, qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView
from mcdiag.model import Check, CheckContext, Findings, Outcome, Scope, reads

SUBMARINER = frozenset({"submariner"})


SERVICE_DISCOVERY_DOCS = "https://submariner.io/getting-started/architecture/service-discovery/"


GLOBALNET_DAEMONSET = "submariner-globalnet"


LIGHTHOUSE_AGENT = "submariner-lighthouse-agent"


CLUSTER_EGRESS_NAME = "cluster-egress.submariner.io"


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or []) if c.get("type")}


def _quote(message: Any) -> str:
    return f': "{message}"' if message else ""


def _exported_services(view: ClusterView) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(ServiceExport, its Service or None) for every export of the cluster."""
    exports = view.optional(R.SERVICE_EXPORTS) or []
    out = []
    for exp in sorted(exports, key=qualname):
        out.append((exp, named(view, R.SERVICES, str(meta(exp).get("name")), meta(exp).get("namespace"))))
    return out


class Globalnet(Check):
    """With Globalnet: the cluster egress IPs are allocated and every exported ClusterIP Service has a global IP."""

    id = "globalnet"
    depends = ("submariner-deployment",)
    title = "Globalnet IP allocation"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads(
        (R.CLUSTER_GLOBAL_EGRESS_IPS, R.GLOBAL_INGRESS_IPS, R.SERVICE_EXPORTS),
        submariner.SUBMARINER_SETTINGS_READS,
        cluster.PROVIDER_READS,
    )
    #: The exported Services, each by its name.
    reads_if_needed = (R.SERVICES,)
    docs = "https://submariner.io/getting-started/architecture/globalnet/"

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        settings = view.fact(submariner.submariner_settings)
        if not settings.globalnet:
            return self.skip("Globalnet is off (no global CIDR)")
        egress = view.optional(R.CLUSTER_GLOBAL_EGRESS_IPS)
        if egress is None:
            return self.skip("clusterglobalegressips.submariner.io CRD not installed")
        ns = settings.namespace
        logs = f"kubectl -n {ns} logs ds/{GLOBALNET_DAEMONSET}"
        found = Findings()
        cluster_egress = next((e for e in egress if meta(e).get("name") == CLUSTER_EGRESS_NAME), None)
        egress_ips: list[str] = []
        if cluster_egress is None:
            found.fail(f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} not found", f"Check that Globalnet runs ({logs}).")
        else:
            egress_ips = list((cluster_egress.get("status") or {}).get("allocatedIPs") or [])
            if not egress_ips:
                cond = _conditions(cluster_egress).get("Allocated") or {}
                found.fail(
                    f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} has no allocated IPs{_quote(cond.get('message'))}",
                    f"Check that the global CIDR {', '.join(settings.global_cidrs)} has free addresses and read the Globalnet logs ({logs}).",
                )
        ingress = view.optional(R.GLOBAL_INGRESS_IPS) or []
        allocated: dict[str, str] = {}
        for _exp, svc in _exported_services(view):
            if svc is None:
                continue
            spec = svc.get("spec") or {}
            if spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("clusterIP") in (None, "None"):
                continue
            ns_svc, name = meta(svc).get("namespace"), meta(svc).get("name")
            gip = next(
                (
                    g
                    for g in ingress
                    if meta(g).get("namespace") == ns_svc
                    and (g.get("spec") or {}).get("target") == "ClusterIPService"
                    and ((g.get("spec") or {}).get("serviceRef") or {}).get("name") == name
                ),
                None,
            )
            if gip is None:
                found.fail(
                    f"exported Service {ns_svc}/{name} has no GlobalIngressIP",
                    f"Globalnet has not processed the export: read the Globalnet logs ({logs}).",
                )
            elif not (gip.get("status") or {}).get("allocatedIP"):
                cond = _conditions(gip).get("Allocated") or {}
                found.fail(
                    f"GlobalIngressIP {qualname(gip)} for Service {ns_svc}/{name} has no allocated IP{_quote(cond.get('message'))}",
                    f"Check that the global CIDR has free addresses and read the Globalnet logs ({logs}).",
                )
            else:
                allocated[f"{ns_svc}/{name}"] = gip["status"]["allocatedIP"]
        return found.outcome(
            self,
            f"cluster egress IPs {', '.join(egress_ips)} allocated; {len(allocated)} exported Service(s) have global IPs",
            global_cidrs=settings.global_cidrs,
            egress_ips=egress_ips,
            ingress_ips=allocated,
        )


class ServiceExports(Check):
    """Every ServiceExport is Valid and Ready (or legacy Synced), without Conflict, and its Service exists."""

    id = "service-exports"
    depends = ("submariner-deployment",)
    title = "ServiceExports valid and ready"
    tags = frozenset({"passive", "submariner"})
    providers = SUBMARINER
    reads = reads((R.SERVICE_EXPORTS,), submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    #: The exported Services, each by its name.
    reads_if_needed = (R.SERVICES,)
    docs = SERVICE_DISCOVERY_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        view = ctx.cluster
        if view.optional(R.SERVICE_EXPORTS) is None:
            return self.skip("serviceexports.multicluster.x-k8s.io CRD not installed")
        ns = submariner.submariner_namespace(view)
        agent_logs = f"kubectl -n {ns} logs deploy/{LIGHTHOUSE_AGENT}"
        found = Findings()
        exports = _exported_services(view)
        if not exports:
            return self.skip(f"no ServiceExport in {view.name}: nothing is exported from it")
        states: dict[str, Any] = {}
        for exp, svc in exports:
            name = qualname(exp)
            conds = _conditions(exp)
            states[name] = {t: c.get("status") for t, c in conds.items()}
            if svc is None:
                found.fail(
                    f"ServiceExport {name} exports a Service that does not exist",
                    f"Create Service {name} or delete the ServiceExport (kubectl -n {meta(exp).get('namespace')} delete serviceexport {meta(exp).get('name')}).",
                )
                continue
            valid = conds.get("Valid")
            if valid is not None and valid.get("status") != "True":
                found.fail(
                    f"ServiceExport {name} is not Valid ({valid.get('reason') or valid.get('status')}){_quote(valid.get('message'))}",
                    f"Fix what the Valid condition says on Service {name} (e.g. its type: ExternalName cannot be exported), then check the Lighthouse agent logs ({agent_logs}).",
                )
                continue
            conflict = conds.get("Conflict")
            if conflict is not None and conflict.get("status") == "True":
                found.fail(
                    f"ServiceExport {name} is in Conflict ({conflict.get('reason')}){_quote(conflict.get('message'))}",
                    f"Make the Service {name} the same (ports, type) in every cluster that exports it.",
                )
                continue
            ready = conds.get("Ready") or conds.get("Synced")
            if valid is None and ready is None:
                found.fail(
                    f"ServiceExport {name} has no status conditions: the Lighthouse agent has not processed it",
                    f"Check that Deployment {ns}/{LIGHTHOUSE_AGENT} runs and read its logs ({agent_logs}).",
                )
            elif ready is None or ready.get("status") != "True":
                found.fail(
                    f"ServiceExport {name} is not Ready" + (f" ({ready.get('reason')}){_quote(ready.get('message'))}" if ready else ""),
                    f"The export has not reached the broker: read the Lighthouse agent logs ({agent_logs}).",
                )
        ok = f"{len(exports)} ServiceExport(s) Valid and Ready: {', '.join(qualname(e) for e, _ in exports)}"
        return found.outcome(self, ok, exports=states)


class ServiceImports(Check):
    """Every service exported in A has an aggregated ServiceImport `<ns>/<svc>` in B listing A."""

    id = "service-imports"
    depends = ("service-exports", "submariner-deployment")
    title = "Exported services imported by the peer"
    scope = Scope.ORDERED_PAIR
    tags = frozenset({"passive", "submariner", "inter-cluster"})
    providers = SUBMARINER
    reads = reads((R.SERVICE_EXPORTS, R.SERVICE_IMPORTS), submariner.SUBMARINER_SETTINGS_READS, cluster.PROVIDER_READS)
    #: The namespace of an export without its import, by name (does it exist in B?).
    reads_if_needed = (R.NAMESPACES.metadata(),)
    docs = SERVICE_DISCOVERY_DOCS

    def run(self, ctx: CheckContext) -> Outcome:
        a, b = ctx.a, ctx.b
        exports = a.optional(R.SERVICE_EXPORTS)
        if exports is None:
            return self.skip(f"serviceexports.multicluster.x-k8s.io CRD not installed in {a.name}")
        if not exports:
            return self.skip(f"{a.name} exports no service: nothing to import in {b.name}")
        imports = b.optional(R.SERVICE_IMPORTS)
        if imports is None:
            return self.skip(f"serviceimports.multicluster.x-k8s.io CRD not installed in {b.name}")
        a_id = submariner.cluster_id_of(a)
        ns_b = submariner.submariner_namespace(b)
        found = Findings()
        listed: dict[str, list[str]] = {}
        for exp in sorted(exports, key=qualname):
            ns, name = meta(exp).get("namespace"), meta(exp).get("name")
            imp = next((i for i in imports if meta(i).get("namespace") == ns and meta(i).get("name") == name), None)
            if imp is None:
                if not b.list(R.NAMESPACES.named(str(ns)).metadata()):
                    found.fail(
                        f"no ServiceImport {ns}/{name} in {b.name}: namespace {ns} does not exist there",
                        f"Create namespace {ns} in {b.name} (kubectl create namespace {ns}): Lighthouse imports services only into existing namespaces.",
                    )
                else:
                    found.fail(
                        f"no ServiceImport {ns}/{name} in {b.name} for the service exported by {a.name}",
                        f"Check that the ServiceExport {ns}/{name} in {a.name} is Ready and read the Lighthouse agent logs in both "
                        f"clusters (kubectl -n {ns_b} logs deploy/{LIGHTHOUSE_AGENT}).",
                    )
                continue
            clusters = [str(c.get("cluster")) for c in ((imp.get("status") or {}).get("clusters") or [])]
            listed[qualname(imp)] = clusters
            if a_id not in clusters:
                found.fail(
                    f"ServiceImport {qualname(imp)} in {b.name} lists clusters [{', '.join(clusters)}] but not {a_id}",
                    f"The export from {a.name} has not reached {b.name}: read the Lighthouse agent logs in both clusters "
                    f"(kubectl -n {ns_b} logs deploy/{LIGHTHOUSE_AGENT}).",
                )
        return found.outcome(
            self,
            f"{len(exports)} service(s) exported by {a.name} imported in {b.name}: {', '.join(sorted(listed))}",
            imports=listed,
        )
