"""The Kubernetes objects that describe a lab cluster, in the real resources' shapes.

``lab_objects(topology, cluster_name)`` is a pure function of the topology (plus
the real CRDs read from ``shared/crds`` when that directory exists); the API
emulator serves its result. Where each object comes from:

Submariner lab: the Submariner guide's kubeadm clusters with Calico in VXLAN
mode and its API server; Netmaker lab: the Netmaker guide's k3s clusters. The
CIDRs are the Netmaker guide's 10.42/10.43 on-prem and 10.44/10.45 cloud in both.

* Submariner: ``Node`` per lab node in kubeadm shapes (``kubeletVersion``
  ``v1.29.3``, Calico's ``projectcalico.org/IPv4Address``, the gateway a
  control-plane node labelled ``submariner.io/gateway=true`` with
  ``gateway.submariner.io/public-ip``); ``kubeadm-config`` (``podSubnet``,
  ``serviceSubnet``), the ``kube-proxy`` ConfigMap in ``mode: iptables`` and its
  DaemonSet; Calico by the Tigera operator (``calico-node``, ``calico-apiserver``)
  with the IPPools in ``projectcalico.org/v3`` (served by the emulator as the
  Calico API server's aggregated group) and ``crd.projectcalico.org/v1``: the
  VXLAN pod pool ``default-ipv4-ippool`` and the disabled pools for the peer's
  pod and service CIDRs (``disabled: true``, ``natOutgoing: false``,
  ``disableBGPExport: true``), as the guide has them.
* Netmaker: ``Node`` per lab node: k3s shapes (``kubeletVersion`` ``v1.29.3+k3s1``,
  ``k3s.io/node-args`` with ``--cluster-cidr``/``--service-cidr`` on the server,
  ``k3s.io/internal-ip``, flannel's ``flannel.alpha.coreos.com/*`` annotations
  with the node IP as ``public-ip``), ``spec.podCIDR(s)`` = the node's slice,
  ``InternalIP`` = its LAN address, ``Ready=True``. The gateway is the k3s
  server started with ``--node-external-ip <public IP>`` (so ``ExternalIP`` =
  its 198.18.x.x WAN address, ``k3s.io/external-ip``; for Netmaker also
  ``flannel.alpha.coreos.com/public-ip-overwrite``); the worker an agent
  (``--token`` shown as ``********`` as k3s does).
* ``kube-system/coredns`` ConfigMap and Deployment as each distribution ships
  them (kubeadm: key ``Corefile`` mounted at ``/etc/coredns``; k3s: ``Corefile``
  and ``NodeHosts`` plus the optional ``coredns-custom`` at ``/etc/coredns/custom``),
  with, for Submariner, the block Lighthouse writes
  (``clusterset.local:53 { forward . <submariner-lighthouse-coredns ClusterIP> }``),
  for Netmaker the guide's ``<other network>:53 { errors cache 30 forward . IP }``
  (IP = the peer's DNS the lab forwards to). k3s has no ``kube-proxy`` ConfigMap:
  kube-proxy runs inside k3s with its default mode, iptables.
* Services ``default/kubernetes``, ``kube-system/kube-dns`` and
  ``nginx-test/nginx`` (the Submariner guide's ``kubectl expose deployment
  nginx --port 8080``) with the ClusterIPs the lab really serves, their
  Endpoints, and the nginx Deployment (image from the guide) with its Pod.
  CoreDNS, nginx and Lighthouse's DNS pods sit on the gateway node, where the
  lab serves them (:mod:`mcdiag.lab.topology`).

Submariner (the Submariner guide: Helm chart 0.20.0, broker on ``cluster``,
``natEnabled=true``, gateway label ``submariner.io/gateway=true``, public IP
annotation ``gateway.submariner.io/public-ip=ipv4:...``; the lab's cable driver
is WireGuard on UDP 51821, so ``ceIPSecNATTPort`` and the Endpoints'
``udp-port`` say 51821):

* CRDs: the real ones from ``shared/crds`` (Submariner, ServiceDiscovery,
  Broker, ServiceExport, ServiceImport) when present, and minimal CRDs for
  ``clusters/endpoints/gateways/routeagents/clusterglobalegressips/
  globalegressips/globalingressips.submariner.io`` (not shipped there).
* ``submariner-operator/submariner`` (Submariner CR) with the guide's Helm
  values (broker token and PSK are FAKE, see :data:`FAKE_SECRETS`, so mcdiag's
  redaction can be tested) and a status as the operator writes it
  (``networkPlugin: generic``: Submariner does not see k3s's built-in flannel).
* ``ServiceDiscovery`` CR, Secrets ``submariner-ipsec-psk`` and (on the broker)
  ``submariner-k8s-broker-client-token``, ``Broker`` CR and ``Cluster`` objects in
  ``submariner-k8s-broker`` (on ``cluster`` only, as in the guide).
* ``Endpoint`` objects (snake_case spec keys) for both clusters in
  ``submariner-operator`` (and the broker namespace), a ``Gateway`` with
  ``haStatus: active`` and a ``connected`` connection to the peer, and a
  ``RouteAgent`` per node (the gateway's remote endpoint ``none``: not
  checked on gateway nodes; the worker's ``connected``).
* DaemonSets ``submariner-gateway``, ``submariner-routeagent``,
  ``submariner-metrics-proxy``; Deployments ``submariner-operator``,
  ``submariner-lighthouse-agent``, ``submariner-lighthouse-coredns``; their
  ReplicaSets and Pods, Running and Ready (the gateway pod labelled
  ``gateway.submariner.io/status=active``); Service
  ``submariner-lighthouse-coredns``.
* ``ServiceExport`` ``nginx-test/nginx`` (``Valid``/``Ready`` True) and the
  aggregated ``ServiceImport`` ``nginx-test/nginx`` listing both clusters
  (both export nginx).

Netmaker (the netmaker guide and gravitl/netmak8s's current manifests, netclient
v0.9.x: DaemonSet ``netclient`` ``app=netclient`` in ``default`` whose only
network setting is its FAKE access token (base64 JSON naming the network); Deployment ``netclient-gateway`` ``app=netclient-gateway``
with node affinity ``gateway=true`` on the node labelled ``gateway=true``,
joined to the *other* network; Deployment ``servicex`` ``app=servicex``):
the lab's one tunnel between the gateways listens on 51821 (``wg show`` in the
guide), which ``NETCLIENT_PORT`` of the gateway says.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import uuid
from pathlib import Path

from .topology import MAX_CLUSTERS, Cluster, Node, Topology, cluster_plan

K3S_VERSION = "v1.29.3+k3s1"
CONTAINERD = "containerd://1.7.11-k3s2"
#: The Submariner lab's clusters are kubeadm's (the Submariner guide's setup).
KUBEADM_VERSION = "v1.29.3"
KUBEADM_CONTAINERD = "containerd://1.7.13"
CALICO_VERSION = "v3.27.3"
#: The Calico API server's group (an aggregated API, no CRD): what the emulator serves for the Submariner lab.
CALICO_API = ({"group": "projectcalico.org", "version": "v3",
               "resources": [{"plural": "ippools", "kind": "IPPool", "namespaced": False}]},)


def k8s_version(provider: str) -> str:
    """The Kubernetes version of the lab's clusters: kubeadm's (Submariner) or k3s's (Netmaker)."""
    return KUBEADM_VERSION if provider == "submariner" else K3S_VERSION


def extra_groups(provider: str) -> tuple[dict, ...]:
    """API groups the lab's API server serves without CRDs: the Calico API server in the Submariner lab."""
    return CALICO_API if provider == "submariner" else ()
SUBMARINER_VERSION = "0.20.0"
SUBMARINER_REPO = "swr.cn-east-3.myhuaweicloud.com/lomtom-common"  # the guide's mirror
BROKER_NS = "submariner-k8s-broker"
OPERATOR_NS = "submariner-operator"
CREATED = "2025-05-15T08:09:35Z"  # the guide's `kubectl get crds` timestamp
STARTED = "2025-05-15T08:10:02Z"

# Fake credentials placed where the real ones live; mcdiag must never print them.
FAKE_BROKER_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Im1jZGlhZy1sYWItZmFrZSJ9."
    "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c3VibWFyaW5lci1rOHMtYnJva2VyOm1jZGlhZy1sYWIifQ."
    "RkFLRS1tY2RpYWctbGFiLWJyb2tlci10b2tlbi1zaWduYXR1cmU"
)
FAKE_PSK = "mcdiagLabFakePSKyxywUMWl85AHqVi0aoVbzPlLEiBb2EnLmZNCF5HxqNHbT44PP"
FAKE_BROKER_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMCDIAG-LAB-FAKE-CA\n-----END CERTIFICATE-----\n").decode()
FAKE_NETMAKER_TOKENS = {
    "dc1-k3s": "eyJhcGljb25uc3RyaW5nIjoiYXBpLm5ldG1ha2VyLmV4YW1wbGU6NDQzIiwibmV0d29yayI6ImRjMS1rM3MiLCJrZXkiOiJtY2RpYWdmYWtlIn0",
    "cloud-k3s": "eyJhcGljb25uc3RyaW5nIjoiYXBpLm5ldG1ha2VyLmV4YW1wbGU6NDQzIiwibmV0d29yayI6ImNsb3VkLWszcyIsImtleSI6Im1jZGlhZ2Zha2UifQ",
}


def _fake_token(network: str) -> str:
    """A fake netclient access token for ``network``, in the shape of the two above (unpadded base64 JSON)."""
    raw = json.dumps({"apiconnstring": "api.netmaker.example:443", "network": network, "key": "mcdiagfake"},
                     separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode().rstrip("=")


# The networks of clusters 3 and up (``mcdiag lab up --clusters N``), generated in the same shape.
for _i in range(2, MAX_CLUSTERS):
    _net = cluster_plan(_i, "netmaker")["network"]
    FAKE_NETMAKER_TOKENS[_net] = _fake_token(_net)
FAKE_NETMAKER_MASTER_KEY = "mcdiag-lab-fake-netmaker-master-key-8f3a"
FAKE_SECRETS = (FAKE_BROKER_TOKEN, FAKE_PSK, FAKE_BROKER_CA, *FAKE_NETMAKER_TOKENS.values(), FAKE_NETMAKER_MASTER_KEY)

_CRDS_REQUIRED = {
    # name -> (group, version, kind, plural, scope)
    "submariners.submariner.io": ("submariner.io", "v1alpha1", "Submariner", "submariners", "Namespaced"),
    "servicediscoveries.submariner.io": ("submariner.io", "v1alpha1", "ServiceDiscovery", "servicediscoveries", "Namespaced"),
    "brokers.submariner.io": ("submariner.io", "v1alpha1", "Broker", "brokers", "Namespaced"),
    "clusters.submariner.io": ("submariner.io", "v1", "Cluster", "clusters", "Namespaced"),
    "endpoints.submariner.io": ("submariner.io", "v1", "Endpoint", "endpoints", "Namespaced"),
    "gateways.submariner.io": ("submariner.io", "v1", "Gateway", "gateways", "Namespaced"),
    "routeagents.submariner.io": ("submariner.io", "v1", "RouteAgent", "routeagents", "Namespaced"),
    "clusterglobalegressips.submariner.io": ("submariner.io", "v1", "ClusterGlobalEgressIP", "clusterglobalegressips", "Cluster"),
    "globalegressips.submariner.io": ("submariner.io", "v1", "GlobalEgressIP", "globalegressips", "Namespaced"),
    "globalingressips.submariner.io": ("submariner.io", "v1", "GlobalIngressIP", "globalingressips", "Namespaced"),
    "serviceexports.multicluster.x-k8s.io": ("multicluster.x-k8s.io", "v1alpha1", "ServiceExport", "serviceexports", "Namespaced"),
    "serviceimports.multicluster.x-k8s.io": ("multicluster.x-k8s.io", "v1alpha1", "ServiceImport", "serviceimports", "Namespaced"),
    "ippools.crd.projectcalico.org": ("crd.projectcalico.org", "v1", "IPPool", "ippools", "Cluster"),
}


# ----------------------------------------------------------------- helpers

def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mcdiag-lab/" + "/".join(parts)))


def _hash(*parts: str, n: int = 10) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = int(hashlib.sha256("/".join(parts).encode()).hexdigest(), 16)
    out = ""
    for _ in range(n):
        h, r = divmod(h, len(alphabet))
        out += alphabet[r]
    return out


def _meta(cluster: str, kind: str, name: str, ns: str | None = None, labels: dict | None = None,
          annotations: dict | None = None, owner: dict | None = None) -> dict:
    m: dict = {"name": name}
    if ns:
        m["namespace"] = ns
    m["uid"] = _uid(cluster, kind, ns or "", name)
    m["resourceVersion"] = str(1000 + int(hashlib.sha1(m["uid"].encode()).hexdigest()[:4], 16))
    m["generation"] = 1
    m["creationTimestamp"] = CREATED
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [owner]
    return m


def _owner(kind: str, api: str, meta: dict, controller: bool = True) -> dict:
    return {"apiVersion": api, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": controller, "blockOwnerDeletion": True}


def _obj(api: str, kind: str, meta: dict, **rest) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": meta, **rest}


def _namespace(cluster: str, name: str) -> dict:
    return _obj("v1", "Namespace", _meta(cluster, "Namespace", name, labels={"kubernetes.io/metadata.name": name}),
                spec={"finalizers": ["kubernetes"]}, status={"phase": "Active"})


def _cond(type_: str, status: str = "True", reason: str | None = None, message: str | None = None,
          probe: bool = False) -> dict:
    c = {"type": type_, "status": status, "lastTransitionTime": STARTED}
    if probe:
        c["lastProbeTime"] = None
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _container(name: str, image: str, env: list | None = None, ports: list | None = None,
               command: list | None = None, privileged: bool = False) -> dict:
    c: dict = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
               "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    if command:
        c["command"] = command
    if env:
        c["env"] = env
    if ports:
        c["ports"] = ports
    if privileged:
        c["securityContext"] = {"privileged": True}
    return c


def _pod_template(labels: dict, containers: list, host_network: bool = False, node_selector: dict | None = None,
                  sa: str | None = None, affinity: dict | None = None) -> dict:
    spec: dict = {"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                  "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"}
    if host_network:
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if sa:
        spec["serviceAccountName"] = sa
        spec["serviceAccount"] = sa
    if affinity:
        spec["affinity"] = affinity
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


class _Builder:
    """Accumulates the objects of one cluster; workloads come with their ReplicaSets and Pods."""

    def __init__(self, topo: Topology, c: Cluster) -> None:
        self.topo, self.c, self.objs = topo, c, []

    def add(self, o: dict) -> dict:
        self.objs.append(o)
        return o

    def _pod(self, name: str, ns: str, template: dict, node: Node, ip: str | None, owner: dict) -> dict:
        spec = copy.deepcopy(template["spec"])
        spec["nodeName"] = node.name
        host_ip = node.lan_ip
        pod_ip = host_ip if spec.get("hostNetwork") else ip
        statuses = [{"name": k["name"], "image": k["image"], "imageID": f"{k['image'].split(':')[0]}@sha256:"
                     + hashlib.sha256(k["image"].encode()).hexdigest(),
                     "containerID": "containerd://" + hashlib.sha256((self.c.name + name + k["name"]).encode()).hexdigest(),
                     "ready": True, "started": True, "restartCount": 0,
                     "state": {"running": {"startedAt": STARTED}}, "lastState": {}} for k in spec["containers"]]
        return self.add(_obj("v1", "Pod", _meta(self.c.name, "Pod", name, ns, template["metadata"]["labels"],
                                                owner=owner),
                             spec=spec,
                             status={"phase": "Running", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                                     "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": STARTED,
                                     "qosClass": "BestEffort",
                                     "conditions": [_cond("PodReadyToStartContainers", probe=True),
                                                    _cond("Initialized", probe=True), _cond("Ready", probe=True),
                                                    _cond("ContainersReady", probe=True),
                                                    _cond("PodScheduled", probe=True)],
                                     "containerStatuses": statuses}))

    def deployment(self, name: str, ns: str, labels: dict, template: dict, placements: list[tuple[Node, str | None]],
                   deploy_labels: dict | None = None) -> None:
        n = len(placements)
        sel = {"matchLabels": dict(labels)}
        dm = _meta(self.c.name, "Deployment", name, ns, deploy_labels or labels,
                   annotations={"deployment.kubernetes.io/revision": "1"})
        self.add(_obj("apps/v1", "Deployment", dm,
                      spec={"replicas": n, "selector": sel, "template": template, "revisionHistoryLimit": 10,
                            "progressDeadlineSeconds": 600,
                            "strategy": {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
                      status={"observedGeneration": 1, "replicas": n, "updatedReplicas": n, "readyReplicas": n,
                              "availableReplicas": n,
                              "conditions": [_cond("Available", reason="MinimumReplicasAvailable",
                                                   message="Deployment has minimum availability."),
                                             _cond("Progressing", reason="NewReplicaSetAvailable",
                                                   message=f'ReplicaSet "{name}" has successfully progressed.')]}))
        h = _hash(self.c.name, ns, name)
        rs_name = f"{name}-{h}"
        tpl = copy.deepcopy(template)
        tpl["metadata"]["labels"]["pod-template-hash"] = h
        rm = _meta(self.c.name, "ReplicaSet", rs_name, ns, tpl["metadata"]["labels"],
                   owner=_owner("Deployment", "apps/v1", dm))
        self.add(_obj("apps/v1", "ReplicaSet", rm,
                      spec={"replicas": n, "selector": {"matchLabels": tpl["metadata"]["labels"]}, "template": tpl},
                      status={"replicas": n, "fullyLabeledReplicas": n, "readyReplicas": n, "availableReplicas": n,
                              "observedGeneration": 1}))
        for i, (node, ip) in enumerate(placements):
            self._pod(f"{rs_name}-{_hash(rs_name, str(i), n=5)}", ns, tpl, node, ip, _owner("ReplicaSet", "apps/v1", rm))

    def daemonset(self, name: str, ns: str, labels: dict, template: dict, nodes: list[tuple[Node, str | None]],
                  ds_labels: dict | None = None) -> dict:
        n = len(nodes)
        dm = _meta(self.c.name, "DaemonSet", name, ns, ds_labels or labels,
                   annotations={"deprecated.daemonset.template.generation": "1"})
        status = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
                  "numberMisscheduled": 0, "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n}
        self.add(_obj("apps/v1", "DaemonSet", dm,
                      spec={"selector": {"matchLabels": dict(labels)}, "template": template,
                            "revisionHistoryLimit": 10,
                            "updateStrategy": {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}},
                      status=status))
        h = _hash(self.c.name, ns, name)
        tpl = copy.deepcopy(template)
        tpl["metadata"]["labels"]["controller-revision-hash"] = h
        tpl["metadata"]["labels"]["pod-template-generation"] = "1"
        for node, ip in nodes:
            self._pod(f"{name}-{_hash(name, node.name, n=5)}", ns, tpl, node, ip, _owner("DaemonSet", "apps/v1", dm))
        return status

    def service(self, name: str, ns: str, ip: str, ports: list[dict], selector: dict | None, labels: dict | None,
                endpoints: list[str], target_ports: list[int] | None = None) -> None:
        spec = {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "ports": ports,
                "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster"}
        if selector:
            spec["selector"] = selector
        self.add(_obj("v1", "Service", _meta(self.c.name, "Service", name, ns, labels), spec=spec,
                      status={"loadBalancer": {}}))
        eports = [{"name": p.get("name"), "port": tp, "protocol": p.get("protocol", "TCP")}
                  for p, tp in zip(ports, target_ports or [p.get("targetPort", p["port"]) for p in ports], strict=True)]
        for p in eports:
            if p["name"] is None:
                del p["name"]
        self.add(_obj("v1", "Endpoints", _meta(self.c.name, "Endpoints", name, ns, labels),
                      subsets=[{"addresses": [{"ip": a} for a in endpoints], "ports": eports}]))


# ---------------------------------------------------------------- sections

def _node(c: Cluster, n: Node) -> dict:
    if c.provider == "submariner":
        return _kubeadm_node(c, n)
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "k3s",
        "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "k3s",
    }
    if n.is_gateway:
        labels["node-role.kubernetes.io/control-plane"] = "true"
        labels["node-role.kubernetes.io/master"] = "true"
        args = ["server", "--cluster-cidr", c.pod_cidr, "--service-cidr", c.service_cidr,
                "--node-ip", n.lan_ip, "--node-external-ip", n.public_ip, "--flannel-backend", "vxlan"]
    else:
        args = ["agent", "--server", f"https://{c.gateway.lan_ip}:6443", "--token", "********",
                "--node-ip", n.lan_ip]
    h = hashlib.sha256(f"{c.name}/{n.name}".encode()).hexdigest()
    vtep = ":".join(["ba", h[0:2], h[2:4], h[4:6], h[6:8], h[8:10]])
    ann = {
        "flannel.alpha.coreos.com/backend-data": json.dumps({"VNI": 1, "VtepMAC": vtep}, separators=(",", ":")),
        "flannel.alpha.coreos.com/backend-type": "vxlan",
        "flannel.alpha.coreos.com/kube-subnet-manager": "true",
        "flannel.alpha.coreos.com/public-ip": n.lan_ip,
        "k3s.io/hostname": n.name,
        "k3s.io/internal-ip": n.lan_ip,
        "k3s.io/node-args": json.dumps(args),
        "k3s.io/node-config-hash": _hash(n.name, "cfg", n=52).upper(),
        "k3s.io/node-env": "{}",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    addresses = [{"type": "InternalIP", "address": n.lan_ip}]
    if n.is_gateway:
        # k3s --node-external-ip: ExternalIP address and k3s.io/external-ip
        addresses.append({"type": "ExternalIP", "address": n.public_ip})
        ann["k3s.io/external-ip"] = n.public_ip
    if n.is_gateway and c.provider == "submariner":
        labels["submariner.io/gateway"] = "true"
        ann["gateway.submariner.io/public-ip"] = f"ipv4:{n.public_ip}"
    if n.is_gateway and c.provider == "netmaker":
        labels["gateway"] = "true"
        ann["flannel.alpha.coreos.com/public-ip-overwrite"] = n.public_ip
    cap = {"cpu": "2", "ephemeral-storage": "40581564Ki", "hugepages-2Mi": "0", "memory": "4013928Ki", "pods": "110"}
    return _obj("v1", "Node", _meta(c.name, "Node", n.name, labels=labels, annotations=ann),
                spec={"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr], "providerID": f"k3s://{n.name}"},
                status={
                    "addresses": [*addresses, {"type": "Hostname", "address": n.name}],
                    "allocatable": {**cap, "ephemeral-storage": "39478645191"},
                    "capacity": cap,
                    "conditions": [
                        {**_cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                                 "kubelet has sufficient memory available"), "lastHeartbeatTime": STARTED},
                        {**_cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
                                 "kubelet has no disk pressure"), "lastHeartbeatTime": STARTED},
                        {**_cond("PIDPressure", "False", "KubeletHasSufficientPID",
                                 "kubelet has sufficient PID available"), "lastHeartbeatTime": STARTED},
                        {**_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                         "lastHeartbeatTime": STARTED},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "architecture": "amd64", "bootID": _uid(n.name, "boot"), "containerRuntimeVersion": CONTAINERD,
                        "kernelVersion": "5.15.0-101-generic", "kubeProxyVersion": K3S_VERSION,
                        "kubeletVersion": K3S_VERSION, "machineID": _uid(n.name, "machine").replace("-", ""),
                        "operatingSystem": "linux", "osImage": "Ubuntu 22.04.4 LTS", "systemUUID": _uid(n.name, "sys"),
                    },
                })


def _conditions(calico: bool = False) -> list[dict]:
    conds = [
        {**_cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
         "lastHeartbeatTime": STARTED},
        {**_cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"), "lastHeartbeatTime": STARTED},
        {**_cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
         "lastHeartbeatTime": STARTED},
        {**_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"), "lastHeartbeatTime": STARTED},
    ]
    if calico:
        conds.insert(0, {**_cond("NetworkUnavailable", "False", "CalicoIsUp", "Calico is running on this node"),
                         "lastHeartbeatTime": STARTED})
    return conds


def _kubeadm_node(c: Cluster, n: Node) -> dict:
    """A kubeadm node with Calico (the Submariner guide): node1-style control plane gateway, a worker."""
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux",
    }
    prefix = c.lan_cidr.split("/")[1]
    ann = {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "projectcalico.org/IPv4Address": f"{n.lan_ip}/{prefix}",
        "projectcalico.org/IPv4VXLANTunnelAddr": n.pod_address(192),
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    if n.is_gateway:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        labels["submariner.io/gateway"] = "true"
        ann["gateway.submariner.io/public-ip"] = f"ipv4:{n.public_ip}"
    cap = {"cpu": "2", "ephemeral-storage": "40581564Ki", "hugepages-2Mi": "0", "memory": "4013928Ki", "pods": "110"}
    return _obj("v1", "Node", _meta(c.name, "Node", n.name, labels=labels, annotations=ann),
                spec={"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]},
                status={
                    "addresses": [{"type": "InternalIP", "address": n.lan_ip}, {"type": "Hostname", "address": n.name}],
                    "allocatable": {**cap, "ephemeral-storage": "39478645191"},
                    "capacity": cap,
                    "conditions": _conditions(calico=True),
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "architecture": "amd64", "bootID": _uid(n.name, "boot"), "containerRuntimeVersion": KUBEADM_CONTAINERD,
                        "kernelVersion": "5.15.0-105-generic", "kubeProxyVersion": KUBEADM_VERSION,
                        "kubeletVersion": KUBEADM_VERSION, "machineID": _uid(n.name, "machine").replace("-", ""),
                        "operatingSystem": "linux", "osImage": "Ubuntu 22.04.4 LTS", "systemUUID": _uid(n.name, "sys"),
                    },
                })


K3S_COREFILE = """.:53 {
    errors
    health
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    hosts /etc/coredns/NodeHosts {
      ttl 60
      reload 15s
      fallthrough
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
"""


KUBEADM_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def lighthouse_block(c: Cluster) -> str:
    """The section the Submariner operator writes into the Corefile: clusterset.local to the Lighthouse DNS."""
    return (f"#lighthouse-start AUTO-GENERATED SECTION. DO NOT EDIT\nclusterset.local:53 {{\n    forward . {c.lighthouse_ip}\n}}\n"
            "#lighthouse-end\n")


def peer_block(topo: Topology, c: Cluster) -> str:
    """The blocks the Netmaker guide adds: each peer's network zone to the DNS that knows it (one per peer)."""
    return "".join(f"{peer.network}:53 {{\n    errors\n    cache 30\n    forward . {peer.exports_dns_ip}\n}}\n"
                   for peer in topo.peers(c.name))


def corefile(topo: Topology, c: Cluster, forward: bool = True) -> str:
    """Return the Corefile of ``kube-system/coredns`` for cluster ``c`` (``forward=False``: without the cross-cluster block)."""
    if c.provider == "submariner":
        return KUBEADM_COREFILE + (lighthouse_block(c) if forward else "")
    return K3S_COREFILE + (peer_block(topo, c) if forward else "")


def _kube_system(b: _Builder) -> None:
    c, topo = b.c, b.topo
    if c.provider == "submariner":
        b.add(_obj("v1", "ConfigMap", _meta(c.name, "ConfigMap", "coredns", "kube-system"), data={"Corefile": corefile(topo, c)}))
        _kubeadm(b)
    else:
        b.add(_obj("v1", "ConfigMap", _meta(c.name, "ConfigMap", "coredns", "kube-system",
                                            annotations={"objectset.rio.cattle.io/id": ""}),
                   data={"Corefile": corefile(topo, c),
                         "NodeHosts": "".join(f"{n.lan_ip} {n.name}\n" for n in c.nodes)}))
    labels = {"k8s-app": "kube-dns"}
    kubeadm = c.provider == "submariner"
    image = "registry.k8s.io/coredns/coredns:v1.11.1" if kubeadm else "rancher/mirrored-coredns-coredns:1.10.1"
    container = _container("coredns", image, ports=[{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                                    {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                                    {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}])
    container["args"] = ["-conf", "/etc/coredns/Corefile"]
    container["volumeMounts"] = [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}]
    items = [{"key": "Corefile", "path": "Corefile"}] + ([] if kubeadm else [{"key": "NodeHosts", "path": "NodeHosts"}])
    volumes = [{"name": "config-volume", "configMap": {"name": "coredns", "items": items}}]
    if not kubeadm:  # k3s: the optional coredns-custom, whose *.server keys the Corefile imports
        container["volumeMounts"].append({"name": "custom-config-volume", "mountPath": "/etc/coredns/custom", "readOnly": True})
        volumes.append({"name": "custom-config-volume", "configMap": {"name": "coredns-custom", "optional": True}})
    tpl = _pod_template(labels, [container], sa="coredns")
    tpl["spec"]["volumes"] = volumes
    tpl["spec"]["dnsPolicy"] = "Default"
    b.deployment("coredns", "kube-system", labels, tpl, [(c.gateway, c.coredns_pod_ip)],
                 deploy_labels={"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"})
    b.service("kube-dns", "kube-system", c.dns_ip,
              [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
               {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
              labels, {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
              [c.coredns_pod_ip])
    b.service("kubernetes", "default", c.kubernetes_ip,
              [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], None,
              {"component": "apiserver", "provider": "kubernetes"}, [c.gateway.lan_ip])


def kubeadm_config(c: Cluster) -> str:
    """The ClusterConfiguration of kubeadm-config (where the guide reads podSubnet and serviceSubnet)."""
    return (f"apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n  timeoutForControlPlane: 4m0s\n"
            f"apiVersion: kubeadm.k8s.io/v1beta3\ncertificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\n"
            f"controlPlaneEndpoint: {c.gateway.lan_ip}:6443\ncontrollerManager: {{}}\ndns: {{}}\netcd:\n  local:\n"
            f"    dataDir: /var/lib/etcd\nimageRepository: registry.k8s.io\nkind: ClusterConfiguration\n"
            f"kubernetesVersion: {KUBEADM_VERSION}\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: {c.pod_cidr}\n"
            f"  serviceSubnet: {c.service_cidr}\nscheduler: {{}}\n")


def kube_proxy_config(c: Cluster, mode: str = "iptables") -> str:
    """kube-proxy's config.conf as kubeadm writes it, in ``mode`` (the guide sets iptables)."""
    return (f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nbindAddress: 0.0.0.0\nbindAddressHardFail: false\n"
            f"clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\nclusterCIDR: {c.pod_cidr}\n"
            f"configSyncPeriod: 0s\nconntrack:\n  maxPerCore: null\niptables:\n  masqueradeAll: false\n"
            f"  minSyncPeriod: 0s\n  syncPeriod: 0s\nipvs:\n  scheduler: \"\"\n  strictARP: false\n  syncPeriod: 0s\n"
            f"kind: KubeProxyConfiguration\nmetricsBindAddress: \"\"\nmode: {mode}\nnodePortAddresses: null\n")


def _kubeadm(b: _Builder) -> None:
    """The kube-system of kubeadm: kubeadm-config, kube-proxy (ConfigMap in iptables mode, DaemonSet)."""
    c = b.c
    b.add(_obj("v1", "ConfigMap", _meta(c.name, "ConfigMap", "kubeadm-config", "kube-system"),
               data={"ClusterConfiguration": kubeadm_config(c)}))
    b.add(_obj("v1", "ConfigMap", _meta(c.name, "ConfigMap", "kube-proxy", "kube-system", labels={"app": "kube-proxy"}),
               data={"config.conf": kube_proxy_config(c),
                     "kubeconfig.conf": (f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: "
                                         f"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: "
                                         f"https://{c.gateway.lan_ip}:6443\n  name: default\n")}))
    labels = {"k8s-app": "kube-proxy"}
    kp = _container("kube-proxy", f"registry.k8s.io/kube-proxy:{KUBEADM_VERSION}",
                    command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                             "--hostname-override=$(NODE_NAME)"], privileged=True)
    kp["volumeMounts"] = [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}]
    tpl = _pod_template(labels, [kp], host_network=True, sa="kube-proxy")
    tpl["spec"]["volumes"] = [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}]
    b.daemonset("kube-proxy", "kube-system", labels, tpl, [(n, None) for n in c.nodes])


def ippool(name: str, cidr: str, *, disabled: bool = False, vxlan: str = "Always", ipip: str = "Never",
           api: str = "projectcalico.org/v3", cluster: str = "") -> dict:
    """A Calico IPPool: the cluster's VXLAN pod pool, or one of Submariner's disabled pools for a remote subnet."""
    spec: dict = {"blockSize": 26, "cidr": cidr, "ipipMode": ipip, "natOutgoing": not disabled, "nodeSelector": "all()",
                  "vxlanMode": "Never" if disabled else vxlan}
    if disabled:
        spec.update(disabled=True, disableBGPExport=True)
    else:
        spec["allowedUses"] = ["Workload", "Tunnel"]
    return _obj(api, "IPPool", _meta(cluster, f"IPPool-{api}", name), spec=spec)


def _calico(b: _Builder) -> None:
    """Calico in VXLAN mode, installed by the Tigera operator with its API server (the guide's prerequisites).

    IPPools exist twice, as Calico keeps them: ``projectcalico.org/v3`` (served by the Calico API
    server) and ``crd.projectcalico.org/v1`` (its storage): the default VXLAN pool of the cluster's
    pods, and the disabled pools Submariner's guide adds for the remote cluster's pod and service CIDRs.
    """
    c = b.c
    for ns in ("tigera-operator", "calico-system", "calico-apiserver"):
        b.add(_namespace(c.name, ns))
    for api in ("projectcalico.org/v3", "crd.projectcalico.org/v1"):
        b.add(ippool("default-ipv4-ippool", c.pod_cidr, api=api, cluster=c.name))
        for peer in b.topo.peers(c.name):
            b.add(ippool(f"svc{peer.name}", peer.service_cidr, disabled=True, api=api, cluster=c.name))
            b.add(ippool(f"pod{peer.name}", peer.pod_cidr, disabled=True, api=api, cluster=c.name))
    node_labels = {"k8s-app": "calico-node"}
    b.daemonset("calico-node", "calico-system", node_labels,
                _pod_template(node_labels, [_container("calico-node", f"docker.io/calico/node:{CALICO_VERSION}",
                                                       env=[{"name": "CALICO_NETWORKING_BACKEND", "value": "vxlan"},
                                                            {"name": "FELIX_VXLANVNI", "value": "4096"}],
                                                       privileged=True)],
                              host_network=True, sa="calico-node"),
                [(n, None) for n in c.nodes])
    api_labels = {"apiserver": "true", "k8s-app": "calico-apiserver"}
    b.deployment("calico-apiserver", "calico-apiserver", api_labels,
                 _pod_template(api_labels, [_container("calico-apiserver", f"docker.io/calico/apiserver:{CALICO_VERSION}")],
                               sa="calico-apiserver"),
                 [(c.gateway, _ip_in(c.gateway, 5))])
    op_labels = {"k8s-app": "tigera-operator", "name": "tigera-operator"}
    b.deployment("tigera-operator", "tigera-operator", op_labels,
                 _pod_template(op_labels, [_container("tigera-operator", "quay.io/tigera/operator:v1.32.7")], host_network=True,
                               sa="tigera-operator"),
                 [(c.gateway, None)])


def _nginx(b: _Builder) -> None:
    c = b.c
    labels = {"app": "nginx"}
    tpl = _pod_template(labels, [_container("nginx-unprivileged",
                                            "swr.cn-east-3.myhuaweicloud.com/lomtom-common/nginx-unprivileged:stable-alpine")])
    b.deployment("nginx", "nginx-test", labels, tpl, [(c.gateway, c.nginx_pod_ip)])
    b.service("nginx", "nginx-test", c.nginx_ip, [{"port": c.nginx_port, "protocol": "TCP", "targetPort": c.nginx_port}],
              labels, labels, [c.nginx_pod_ip])


def _crd_minimal(name: str, group: str, version: str, kind: str, plural: str, scope: str) -> dict:
    names = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "uid": _uid("crd", name), "creationTimestamp": CREATED, "generation": 1},
        "spec": {"group": group, "names": names, "scope": scope,
                 "versions": [{"name": version, "served": True, "storage": True, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}]},
        "status": {"acceptedNames": names, "storedVersions": [version],
                   "conditions": [_cond("NamesAccepted", reason="NoConflicts", message="no conflicts found"),
                                  _cond("Established", reason="InitialNamesAccepted",
                                        message="the initial names have been accepted")]},
    }


def default_crd_dir() -> Path | None:
    """Where the real CRDs are: ``$MCDIAG_CRDS_DIR``, else ``shared/crds`` beside or inside the repository."""
    cands = []
    if os.environ.get("MCDIAG_CRDS_DIR"):
        cands.append(Path(os.environ["MCDIAG_CRDS_DIR"]))
    repo = Path(__file__).resolve().parents[2]
    cands += [repo.parent / "shared" / "crds", repo / "shared" / "crds"]
    return next((p for p in cands if p.is_dir()), None)


def load_crds(crd_dir: Path | None) -> dict[str, dict]:
    """Real CRDs found in ``crd_dir`` (name -> object), marked Established as an API server would."""
    out: dict[str, dict] = {}
    if crd_dir is None or not Path(crd_dir).is_dir():
        return out
    import yaml

    for f in sorted(Path(crd_dir).glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(f.read_text()))
        except (OSError, yaml.YAMLError):
            continue
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
                d = copy.deepcopy(d)
                name = d["metadata"]["name"]
                d["metadata"].setdefault("uid", _uid("crd", name))
                d["metadata"].setdefault("creationTimestamp", CREATED)
                d.setdefault("status", {
                    "acceptedNames": d["spec"]["names"],
                    "storedVersions": [v["name"] for v in d["spec"]["versions"] if v.get("storage")],
                    "conditions": [_cond("NamesAccepted", reason="NoConflicts", message="no conflicts found"),
                                   _cond("Established", reason="InitialNamesAccepted",
                                         message="the initial names have been accepted")]})
                out[name] = d
    return out


def _crds(crd_dir: Path | None) -> list[dict]:
    real = load_crds(crd_dir)
    out = []
    for name, spec in _CRDS_REQUIRED.items():
        out.append(real.get(name) or _crd_minimal(name, spec[0], spec[1], spec[2], spec[3], spec[4]))
    out += [d for n, d in sorted(real.items()) if n not in _CRDS_REQUIRED]
    return out


def cable_name(c: Cluster) -> str:
    return f"submariner-cable-{c.name}-{c.gateway.lan_ip.replace('.', '-')}"


def endpoint_spec(c: Cluster, public_key: str | None = None) -> dict:
    """Submariner ``EndpointSpec`` (snake_case keys, as the CRD and the Go json tags spell them)."""
    gw = c.gateway
    cfg = {"natt-discovery-port": "4490", "preferred-server": "false", "udp-port": str(c.tunnel_port)}
    if public_key:
        cfg["publicKey"] = public_key
    return {"cluster_id": c.name, "cable_name": cable_name(c), "healthCheckIP": gw.pod_ip, "hostname": gw.name,
            "subnets": [c.service_cidr, c.pod_cidr], "private_ip": gw.lan_ip, "public_ip": gw.public_ip,
            "nat_enabled": True, "backend": "wireguard", "backend_config": cfg}


RTT = {"last": "1.068763ms", "min": "612.337µs", "average": "1.140862ms", "max": "3.202717ms", "stdDev": "402.615µs"}


def _gateway_status(topo: Topology, c: Cluster, keys: dict) -> dict:
    """The active Gateway's status: one ``connected`` connection per peer cluster (full mesh)."""
    return {
        "haStatus": "active", "version": f"v{SUBMARINER_VERSION}", "statusFailure": "",
        "localEndpoint": endpoint_spec(c, keys.get(c.name)),
        "connections": [{
            "status": "connected",
            "statusMessage": f"Connected to {peer.gateway.public_ip}:{peer.tunnel_port} - latest handshake recent",
            "endpoint": endpoint_spec(peer, keys.get(peer.name)),
            "usingIP": peer.gateway.public_ip, "usingNAT": True, "latencyRTT": dict(RTT),
        } for peer in topo.peers(c.name)],
    }


def _submariner(b: _Builder, keys: dict) -> None:
    c, topo = b.c, b.topo
    broker = topo.clusters[0]
    ns = OPERATOR_NS
    repo = SUBMARINER_REPO
    broker_api = f"{broker.gateway.lan_ip}:6443"
    b.add(_namespace(c.name, ns))
    if c.name == broker.name:
        b.add(_namespace(c.name, BROKER_NS))
    b.add(_obj("v1", "Secret", _meta(c.name, "Secret", "submariner-ipsec-psk", ns), type="Opaque",
               data={"psk": base64.b64encode(FAKE_PSK.encode()).decode()}))
    if c.name == broker.name:
        b.add(_obj("v1", "Secret", _meta(c.name, "Secret", "submariner-k8s-broker-client-token", BROKER_NS,
                                         annotations={"kubernetes.io/service-account.name": "submariner-k8s-broker-client"}),
                   type="kubernetes.io/service-account-token",
                   data={"ca.crt": base64.b64encode(FAKE_BROKER_CA.encode()).decode(),
                         "namespace": base64.b64encode(BROKER_NS.encode()).decode(),
                         "token": base64.b64encode(FAKE_BROKER_TOKEN.encode()).decode()}))
        b.add(_obj("submariner.io/v1alpha1", "Broker", _meta(c.name, "Broker", "submariner-broker", BROKER_NS),
                   spec={"components": ["service-discovery", "connectivity"], "globalnetEnabled": False,
                         "defaultGlobalnetClusterSize": 0}))
        for cl in topo.clusters:
            b.add(_obj("submariner.io/v1", "Cluster", _meta(c.name, "Cluster", cl.name, BROKER_NS,
                                                           labels={"submariner-io/clusterID": cl.name}),
                       spec={"cluster_id": cl.name, "color_codes": ["blue"], "service_cidr": [cl.service_cidr],
                             "cluster_cidr": [cl.pod_cidr], "global_cidr": []}))
            b.add(_obj("submariner.io/v1", "Endpoint",
                       _meta(c.name, "Endpoint", f"{cl.name}-{cable_name(cl)}", BROKER_NS,
                             labels={"submariner-io/clusterID": cl.name}),
                       spec=endpoint_spec(cl, keys.get(cl.name))))

    gw_labels = {"app": "submariner-gateway"}
    ra_labels = {"app": "submariner-routeagent"}
    mp_labels = {"app": "submariner-metrics-proxy"}
    gw_env = [{"name": "SUBMARINER_CLUSTERID", "value": c.name},
              {"name": "SUBMARINER_CABLEDRIVER", "value": "wireguard"},
              {"name": "SUBMARINER_NATENABLED", "value": "true"},
              {"name": "CE_IPSEC_NATTPORT", "value": str(c.tunnel_port)},
              {"name": "CE_IPSEC_PSK", "valueFrom": {"secretKeyRef": {"name": "submariner-ipsec-psk", "key": "psk"}}},
              {"name": "BROKER_K8S_APISERVER", "value": broker_api},
              {"name": "BROKER_K8S_REMOTENAMESPACE", "value": BROKER_NS}]
    sel = {"submariner.io/gateway": "true"}
    gw_status = b.daemonset("submariner-gateway", ns, gw_labels,
                            _pod_template(gw_labels, [_container("submariner-gateway",
                                                                 f"{repo}/submariner-gateway:{SUBMARINER_VERSION}",
                                                                 env=gw_env, privileged=True)],
                                          host_network=True, node_selector=sel, sa="submariner-gateway"),
                            [(c.gateway, None)])
    # the active gateway pod carries gateway.submariner.io/status=active
    for o in reversed(b.objs):
        if o["kind"] == "Pod" and o["metadata"]["labels"].get("app") == "submariner-gateway":
            o["metadata"]["labels"]["gateway.submariner.io/status"] = "active"
            break
    ra_status = b.daemonset("submariner-routeagent", ns, ra_labels,
                            _pod_template(ra_labels, [_container("submariner-routeagent",
                                                                 f"{repo}/submariner-route-agent:{SUBMARINER_VERSION}",
                                                                 env=[{"name": "SUBMARINER_CLUSTERID", "value": c.name}],
                                                                 privileged=True)],
                                          host_network=True, sa="submariner-routeagent"),
                            [(n, None) for n in c.nodes])
    b.daemonset("submariner-metrics-proxy", ns, mp_labels,
                _pod_template(mp_labels, [_container("gateway-metrics-proxy",
                                                     f"{repo}/nettest:{SUBMARINER_VERSION}",
                                                     ports=[{"containerPort": 32780, "protocol": "TCP"}])],
                              node_selector=sel),
                [(c.gateway, _ip_in(c.gateway, 4))])
    op_labels = {"name": "submariner-operator"}
    b.deployment("submariner-operator", ns, op_labels,
                 _pod_template(op_labels, [_container("submariner-operator",
                                                      f"{repo}/submariner-operator:{SUBMARINER_VERSION}")],
                               sa="submariner-operator"),
                 [(c.gateway, _ip_in(c.gateway, 2))])
    la_labels = {"app": "submariner-lighthouse-agent"}
    b.deployment("submariner-lighthouse-agent", ns, la_labels,
                 _pod_template(la_labels, [_container("submariner-lighthouse-agent",
                                                      f"{repo}/lighthouse-agent:{SUBMARINER_VERSION}",
                                                      env=[{"name": "SUBMARINER_CLUSTERID", "value": c.name}])],
                               sa="submariner-lighthouse-agent"),
                 [(c.gateway, _ip_in(c.gateway, 3))])
    lc_labels = {"app": "submariner-lighthouse-coredns"}
    b.deployment("submariner-lighthouse-coredns", ns, lc_labels,
                 _pod_template(lc_labels, [_container("submariner-lighthouse-coredns",
                                                      f"{repo}/lighthouse-coredns:{SUBMARINER_VERSION}",
                                                      ports=[{"containerPort": 53, "name": "udp", "protocol": "UDP"}])],
                               sa="submariner-lighthouse-coredns"),
                 [(c.gateway, c.lighthouse_pod_ip)])
    b.service("submariner-lighthouse-coredns", ns, c.lighthouse_ip,
              [{"name": "udp", "port": 53, "protocol": "UDP", "targetPort": 53}], lc_labels, lc_labels,
              [c.lighthouse_pod_ip])

    gwst = _gateway_status(topo, c, keys)
    sm_spec = {
        "broker": "k8s", "brokerK8sApiServer": broker_api, "brokerK8sApiServerToken": FAKE_BROKER_TOKEN,
        "brokerK8sCA": FAKE_BROKER_CA, "brokerK8sInsecure": True, "brokerK8sRemoteNamespace": BROKER_NS,
        "cableDriver": "wireguard", "ceIPSecDebug": False, "ceIPSecIKEPort": 500,
        "ceIPSecNATTPort": c.tunnel_port, "ceIPSecPSK": FAKE_PSK, "clusterCIDR": c.pod_cidr, "clusterID": c.name,
        "colorCodes": "blue", "debug": False, "namespace": ns, "natEnabled": True, "repository": repo,
        "serviceCIDR": c.service_cidr, "serviceDiscoveryEnabled": True, "version": SUBMARINER_VERSION,
        "connectionHealthCheck": {"enabled": True, "intervalSeconds": 1, "maxPacketLossCount": 5},
    }
    b.add(_obj("submariner.io/v1alpha1", "Submariner", _meta(c.name, "Submariner", "submariner", ns),
               spec=sm_spec,
               status={"clusterID": c.name, "clusterCIDR": c.pod_cidr, "serviceCIDR": c.service_cidr,
                       "natEnabled": True, "networkPlugin": "calico", "colorCodes": "blue",
                       "version": SUBMARINER_VERSION, "globalCIDR": "",
                       "deploymentInfo": {"kubernetesType": "kubeadm", "kubernetesVersion": KUBEADM_VERSION,
                                          "cloudProvider": ""},
                       "gatewayDaemonSetStatus": {"mismatchedContainerImages": False, "status": gw_status},
                       "routeAgentDaemonSetStatus": {"mismatchedContainerImages": False, "status": ra_status},
                       "gateways": [gwst]}))
    b.add(_obj("submariner.io/v1alpha1", "ServiceDiscovery", _meta(c.name, "ServiceDiscovery", "service-discovery", ns),
               spec={"brokerK8sApiServer": broker_api, "brokerK8sApiServerToken": FAKE_BROKER_TOKEN,
                     "brokerK8sCA": FAKE_BROKER_CA, "brokerK8sInsecure": True,
                     "brokerK8sRemoteNamespace": BROKER_NS, "clusterID": c.name, "debug": False,
                     "globalnetEnabled": False, "namespace": ns, "repository": repo,
                     "version": SUBMARINER_VERSION}))
    for cl in topo.clusters:
        b.add(_obj("submariner.io/v1", "Endpoint", _meta(c.name, "Endpoint", f"{cl.name}-{cable_name(cl)}", ns,
                                                         labels={"submariner-io/clusterID": cl.name}),
                   spec=endpoint_spec(cl, keys.get(cl.name))))
    b.add(_obj("submariner.io/v1", "Gateway", _meta(c.name, "Gateway", c.gateway.name, ns), status=gwst))
    for n in c.nodes:
        rems = []
        for peer in topo.peers(c.name):
            if n.is_gateway:
                rems.append({"status": "none", "statusMessage": "Connectivity is not performed on gateway nodes",
                             "spec": endpoint_spec(peer, keys.get(peer.name))})
            else:
                rems.append({"status": "connected", "statusMessage": "",
                             "spec": endpoint_spec(peer, keys.get(peer.name)), "latencyRTT": dict(RTT)})
        b.add(_obj("submariner.io/v1", "RouteAgent", _meta(c.name, "RouteAgent", n.name, ns),
                   status={"remoteEndpoints": rems}))
    b.add(_obj("multicluster.x-k8s.io/v1alpha1", "ServiceExport", _meta(c.name, "ServiceExport", "nginx", "nginx-test"),
               status={"conditions": [
                   _cond("Valid", reason="", message=""),
                   _cond("Ready", reason="", message="Service was successfully exported to the broker"),
                   _cond("Conflict", "False", reason="", message="")]}))
    b.add(_obj("multicluster.x-k8s.io/v1alpha1", "ServiceImport",
               _meta(c.name, "ServiceImport", "nginx", "nginx-test",
                     labels={"lighthouse.submariner.io/sourceName": "nginx",
                             "lighthouse.submariner.io/sourceNamespace": "nginx-test"}),
               spec={"type": "ClusterSetIP", "ports": [{"port": c.nginx_port, "protocol": "TCP"}]},
               status={"clusters": [{"cluster": cl.name} for cl in topo.clusters]}))


def _ip_in(n: Node, host: int) -> str:
    a, b_, c_, _ = n.pod_ip.split(".")
    return f"{a}.{b_}.{c_}.{host}"


def _netmaker(b: _Builder) -> None:
    c, topo = b.c, b.topo
    peers = topo.peers(c.name)
    nc_labels = {"app": "netclient"}
    # netmak8s's current netclient-daemonset.yaml (netclient v0.9.x): the network is inside the access token.
    b.daemonset("netclient", "default", nc_labels,
                _pod_template(nc_labels, [_container(
                    "netclient", "gravitl/netclient:v0.9.3",
                    env=[{"name": "NETCLIENT_ROAMING", "value": "no"},
                         {"name": "NETCLIENT_PORT", "value": str(c.tunnel_port)},
                         {"name": "NETCLIENT_IS_STATIC", "value": "yes"},
                         {"name": "NETCLIENT_ENDPOINT", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                         {"name": "TOKEN", "value": FAKE_NETMAKER_TOKENS[c.network]}],
                    privileged=True)], host_network=True),
                [(n, None) for n in c.nodes])
    gw_labels = {"app": "netclient-gateway"}
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "gateway", "operator": "In", "values": ["true"]}]}}]}}
    # One gateway Deployment per peer network (netmak8s's netclient-gateway, deployed once per network it joins).
    for peer in peers:
        _netclient_gateway(b, peer, "netclient-gateway" if len(peers) == 1 else f"netclient-gateway-{peer.network}",
                           gw_labels, affinity)
    sx_labels = {"app": "servicex"}
    b.deployment("servicex", "default", sx_labels,
                 _pod_template(sx_labels, [_container(
                     "servicex", "gravitl/servicex:latest",
                     command=["bash", "-c", "while true; do /app/app; sleep $SLEEP; done"],
                     env=[{"name": "SLEEP", "value": "60"}, {"name": "NETWORK", "value": c.network},
                          {"name": "SECRET", "value": FAKE_NETMAKER_MASTER_KEY},
                          {"name": "SERVER_API_URL", "value": "https://api.netmaker.example.com"}])],
                     sa="kubectl-sa"),
                 [(c.worker, _ip_in(c.worker, 90))])


def _netclient_gateway(b: _Builder, peer: Cluster, name: str, gw_labels: dict, affinity: dict) -> None:
    """netmak8s's ``netclient-gateway`` Deployment joined to ``peer``'s network (its token), on the gateway node."""
    c = b.c
    b.deployment(name, "default", gw_labels,
                 _pod_template(gw_labels, [_container(
                     "netclient", "gravitl/netclient:v0.9.3",
                     env=[{"name": "NETCLIENT_ROAMING", "value": "no"},
                          {"name": "NETCLIENT_PORT", "value": str(c.tunnel_port)},
                          {"name": "NETCLIENT_IS_STATIC", "value": "yes"},
                          {"name": "NETCLIENT_NAME", "value": "k8s-gw"},
                          {"name": "NETCLIENT_ENDPOINT", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                          {"name": "TOKEN", "value": FAKE_NETMAKER_TOKENS[peer.network]}],
                     privileged=True)], host_network=True, affinity=affinity),
                 [(c.gateway, None)])


def lab_objects(topology: Topology, cluster_name: str, crd_dir: Path | str | None = "auto",
                wg_public_keys: dict[str, str] | None = None) -> list[dict]:
    """Every Kubernetes object of lab cluster ``cluster_name``, as plain dicts.

    ``crd_dir``: where to read the real CRDs ("auto": :func:`default_crd_dir`;
    None: minimal CRDs only). ``wg_public_keys`` (cluster -> WireGuard public
    key) fills the Endpoints' ``publicKey`` when known.
    """
    c = topology.cluster(cluster_name)
    b = _Builder(topology, c)
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "nginx-test"):
        b.add(_namespace(c.name, ns))
    for n in c.nodes:
        b.add(_node(c, n))
    _kube_system(b)
    _nginx(b)
    if c.provider == "submariner":
        cd = default_crd_dir() if crd_dir == "auto" else (Path(crd_dir) if crd_dir else None)
        for crd in _crds(cd):
            b.add(crd)
        _calico(b)
        _submariner(b, wg_public_keys or {})
    else:
        _netmaker(b)
    return b.objs
