"""Big clusters for the emulator, built in seconds: nodes, namespaces, Deployments, ReplicaSets, pods.

The objects have the shape and size of what a real cluster serves (``kubectl get
-o json`` of k8s 1.29: managed fields of several managers, status conditions,
several containers with probes and resources, a projected service account
volume, container statuses, node images), so a benchmark pays for realistic
bytes. Pods of one ReplicaSet share their nested parts (container specs, managed
fields, conditions), and only what differs per pod (name, node, IPs) is theirs,
so 150,000 pods fit in a few hundred MB of the emulator's memory; store them with
:meth:`~mcdiag.lab.emulator.ApiEmulator.add_generated` (no copies).

    from mcdiag.lab.emulator import ApiEmulator
    from mcdiag.lab.emulator.generate import generate_cluster

    emu = ApiEmulator(name="east")
    emu.add_generated(generate_cluster(nodes=5000, pods=150000, name="east"))

Besides the application pods, every node runs one ``kube-proxy`` pod of a
``kube-proxy`` DaemonSet in ``kube-system``, as on kubeadm clusters; those count
in ``pods``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
from collections.abc import Iterator
from typing import Any

CREATED = "2024-05-02T09:14:07Z"
STARTED = "2024-05-02T09:14:11Z"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_ARCHES = ("amd64",)
_KUBELET = "v1.29.3"

# Node images as a kubelet reports them (the node objects of real clusters are mostly this list).
_NODE_IMAGES = [
    (["registry.k8s.io/kube-proxy@sha256:" + "3" * 64, "registry.k8s.io/kube-proxy:v1.29.3"], 28_592_312),
    (["docker.io/calico/node@sha256:" + "4" * 64, "docker.io/calico/node:v3.27.2"], 116_894_021),
    (["docker.io/calico/cni@sha256:" + "5" * 64, "docker.io/calico/cni:v3.27.2"], 94_306_741),
    (["quay.io/submariner/submariner-route-agent@sha256:" + "6" * 64, "quay.io/submariner/submariner-route-agent:0.17.1"], 52_110_445),
    (["registry.k8s.io/pause@sha256:" + "7" * 64, "registry.k8s.io/pause:3.9"], 321_520),
    (["docker.io/library/nginx@sha256:" + "8" * 64, "docker.io/library/nginx:1.25.4"], 70_544_635),
    (["docker.io/envoyproxy/envoy@sha256:" + "9" * 64, "docker.io/envoyproxy/envoy:v1.29.2"], 63_012_778),
    (["quay.io/prometheus/node-exporter@sha256:" + "a" * 64, "quay.io/prometheus/node-exporter:v1.7.0"], 11_250_106),
]


def _token(seed: str, n: int) -> str:
    digest = hashlib.blake2b(seed.encode(), digest_size=16).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def _uid(seed: str) -> str:
    h = hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@functools.cache
def _fields_v1_pod_spec(containers: tuple[str, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {},
        "f:securityContext": {}, "f:terminationGracePeriodSeconds": {},
    }
    for i, c in enumerate(containers):
        fields: dict[str, Any] = {
            ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
            "f:resources": {".": {}, "f:limits": {".": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
            "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {},
        }
        if i == 0:
            fields.update({
                "f:env": {'k:{"name":"POD_NAME"}': {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:fieldRef": {}}}},
                "f:livenessProbe": {".": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}}},
                "f:ports": {'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
            })
        spec[f'k:{{"name":"{c}"}}'] = fields
    return spec


def _pod_managed_fields(owner_uid: str, containers: tuple[str, ...]) -> list[dict[str, Any]]:
    spec = _fields_v1_pod_spec(containers)
    return [
        {
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": CREATED,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                               "f:ownerReferences": {".": {}, f'k:{{"uid":"{owner_uid}"}}': {}}},
                "f:spec": {"f:containers": {k: v for k, v in spec.items() if k.startswith("k:")},
                           **{k: v for k, v in spec.items() if not k.startswith("k:")}},
            },
        },
        _KUBELET_POD_FIELDS,
    ]


_KUBELET_POD_FIELDS = {
            "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": STARTED, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {
                "f:conditions": {f'k:{{"type":"{t}"}}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}
                                 for t in ("ContainersReady", "Initialized", "PodReadyToStartContainers", "Ready")},
                "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {},
                "f:podIPs": {".": {}, 'k:{"ip":"10.0.0.1"}': {".": {}, "f:ip": {}}}, "f:startTime": {},
            }},
            "subresource": "status",
}


def _container(name: str, image: str, main: bool = True) -> dict[str, Any]:
    """A container spec: the main one with ports, env and a probe; a sidecar with less."""
    out: dict[str, Any] = {"name": name, "image": image}
    if main:
        out["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        out["env"] = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]
    out["resources"] = {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    out["volumeMounts"] = [{"name": "kube-api-access", "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    if main:
        out["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1,
                                "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    out.update(terminationMessagePath="/dev/termination-log", terminationMessagePolicy="File", imagePullPolicy="IfNotPresent")
    return out


def _status_of(container: str, image: str, seed: str) -> dict[str, Any]:
    return {
        "name": container, "state": {"running": {"startedAt": STARTED}}, "lastState": {}, "ready": True,
        "restartCount": 0, "image": image, "imageID": image.split(":")[0] + "@sha256:" + hashlib.sha256(image.encode()).hexdigest(),
        "containerID": "containerd://" + hashlib.sha256(seed.encode()).hexdigest(), "started": True,
    }


_CONDITIONS = [
    {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": STARTED}
    for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
]
_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def _api_volume() -> dict[str, Any]:
    return {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


class _Template:
    """What the pods of one ReplicaSet (or DaemonSet) share."""

    def __init__(self, namespace: str, app: str, owner_kind: str, owner: str, owner_uid: str, containers: list[tuple[str, str]],
                 hash_: str | None):
        self.namespace = namespace
        self.labels = {"app": app, **({"pod-template-hash": hash_} if hash_ else {"controller-revision-hash": "6f9d5c8b7", "pod-template-generation": "1"})}
        self.owner_refs = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner, "uid": owner_uid, "controller": True,
                            "blockOwnerDeletion": True}]
        names = tuple(c for c, _ in containers)
        self.managed = _pod_managed_fields(owner_uid, names)
        self.spec = {
            "volumes": [_api_volume()],
            "containers": [_container(c, img, i == 0) for i, (c, img) in enumerate(containers)],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "securityContext": {},
            "schedulerName": "default-scheduler", "tolerations": _TOLERATIONS, "priority": 0,
            "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
        }
        self.container_statuses = [_status_of(c, img, f"{namespace}/{owner}/{c}") for c, img in containers]
        self.generate_name = f"{owner}-"

    def pod(self, name: str, node: str, node_ip: str, pod_ip: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name, "generateName": self.generate_name, "namespace": self.namespace, "creationTimestamp": CREATED,
                "labels": self.labels, "ownerReferences": self.owner_refs, "managedFields": self.managed,
            },
            "spec": {**self.spec, "nodeName": node},
            "status": {
                "phase": "Running", "conditions": _CONDITIONS, "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
                "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": STARTED,
                "containerStatuses": self.container_statuses, "qosClass": "Burstable",
            },
        }


def _node(i: int, name: str, ip: str, cidr: str) -> dict[str, Any]:
    capacity = {"cpu": "16", "ephemeral-storage": "203056560Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "memory": "65855032Ki", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "creationTimestamp": CREATED,
            "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m6i.4xlarge",
                       "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": f"eu-west-1{'abc'[i % 3]}"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                            "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock"},
            "managedFields": [
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": CREATED, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}},
                                             "f:labels": {".": {}, "f:beta.kubernetes.io/arch": {}, "f:beta.kubernetes.io/os": {},
                                                          "f:kubernetes.io/arch": {}, "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": CREATED, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {"f:node.alpha.kubernetes.io/ttl": {}}},
                              "f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, f'v:"{cidr}"': {}}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": STARTED, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:status": {"f:allocatable": {}, "f:capacity": {}, "f:conditions": {}, "f:daemonEndpoints": {},
                                           "f:images": {}, "f:nodeInfo": {}}}, "subresource": "status"},
            ],
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"aws:///eu-west-1a/i-0{_token(name, 16)}"},
        "status": {
            "capacity": capacity,
            "allocatable": {**capacity, "cpu": "15800m", "memory": "64729912Ki"},
            "conditions": [
                {"type": t, "status": s, "lastHeartbeatTime": STARTED, "lastTransitionTime": CREATED, "reason": r, "message": m}
                for t, s, r, m in (
                    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
                )
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": _token(name + "m", 16), "systemUUID": _uid(name), "bootID": _uid(name + "b"),
                         "kernelVersion": "6.1.0-18-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "containerRuntimeVersion": "containerd://1.7.13", "kubeletVersion": _KUBELET,
                         "kubeProxyVersion": _KUBELET, "operatingSystem": "linux", "architecture": "amd64"},
            "images": [{"names": names, "sizeBytes": size} for names, size in _NODE_IMAGES],
        },
    }


def generate_cluster(
    nodes: int,
    pods: int,
    *,
    name: str = "cluster",
    pod_cidr: str = "10.128.0.0/12",
    node_cidr: str = "172.20.0.0/16",
    pods_per_deployment: int = 10,
    deployments_per_namespace: int = 100,
    containers: int = 2,
    agents: tuple[tuple[str, str, str], ...] = (),
) -> Iterator[dict[str, Any]]:
    """Yield ``nodes`` nodes and ``pods`` pods (one kube-proxy pod per node among them), with their owners.

    Node ``i`` is ``{name}-node-{i:05d}`` with a pod CIDR cut out of ``pod_cidr`` and an
    address out of ``node_cidr``; the application pods belong to Deployments of
    ``pods_per_deployment`` replicas (one ReplicaSet each) in namespaces of
    ``deployments_per_namespace`` Deployments, spread round-robin over the nodes.
    Deterministic: the same arguments give the same objects.

    ``agents`` (``(namespace, daemonset, image)``) adds, beyond ``pods``, one pod per node of
    each such DaemonSet (a CNI or Submariner route agent), owned by a DaemonSet of that name
    that the caller provides (a fixture's): what makes a namespace's pod list grow with the nodes.
    """
    nodes = max(1, nodes) if pods else max(0, nodes)
    per_node = math.ceil(max(pods, 1) / max(nodes, 1)) + 2
    net = ipaddress.ip_network(pod_cidr)
    prefix = max(net.prefixlen, 32 - math.ceil(math.log2(per_node + 2)))
    blocks = net.subnets(new_prefix=prefix)
    hosts = ipaddress.ip_network(node_cidr).hosts()
    node_names, node_ips, node_blocks = [], [], []
    for i in range(nodes):
        block = next(blocks)
        node_name, ip = f"{name}-node-{i:05d}", str(next(hosts))
        node_names.append(node_name)
        node_ips.append(ip)
        node_blocks.append(int(block.network_address))
        yield _node(i, node_name, ip, str(block))
    used = [1] * nodes  # next host offset in each node's block
    taken: set[tuple[str, str]] = set()

    def unique(namespace: str, base: str, seed: str) -> str:
        n = 0
        while True:
            candidate = f"{base}{_token(f'{seed}/{n}', 5)}"
            if (namespace, candidate) not in taken:
                taken.add((namespace, candidate))
                return candidate
            n += 1

    def place(k: int) -> tuple[str, str, str]:
        n = k % nodes
        used[n] += 1
        ip = node_blocks[n] + used[n]
        return node_names[n], node_ips[n], f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"

    proxies = min(nodes, pods)
    if proxies:
        ds_uid = _uid(f"{name}/ds/kube-proxy")
        yield {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "uid": ds_uid, "creationTimestamp": CREATED,
                         "labels": {"k8s-app": "kube-proxy"}, "generation": 1},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                     "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                  "spec": {"containers": [_container("kube-proxy", "registry.k8s.io/kube-proxy:v1.29.3")],
                                           "hostNetwork": True}}},
            "status": {"currentNumberScheduled": proxies, "desiredNumberScheduled": proxies, "numberAvailable": proxies,
                       "numberMisscheduled": 0, "numberReady": proxies, "observedGeneration": 1, "updatedNumberScheduled": proxies},
        }
        tpl = _Template("kube-system", "kube-proxy", "DaemonSet", "kube-proxy", ds_uid,
                        [("kube-proxy", "registry.k8s.io/kube-proxy:v1.29.3")], None)
        tpl.labels = {"k8s-app": "kube-proxy", "controller-revision-hash": "6f9d5c8b7", "pod-template-generation": "1"}
        for i in range(proxies):
            yield tpl.pod(unique("kube-system", "kube-proxy-", f"{name}/kp/{i}"), node_names[i], node_ips[i], node_ips[i])
    for namespace, daemonset, image in agents:
        agent_uid = _uid(f"{name}/ds/{namespace}/{daemonset}")
        tpl = _Template(namespace, daemonset, "DaemonSet", daemonset, agent_uid, [(daemonset.rsplit("-", 1)[-1], image)], None)
        for i in range(nodes):
            yield tpl.pod(unique(namespace, f"{daemonset}-", f"{name}/{daemonset}/{i}"), node_names[i], node_ips[i], node_ips[i])
    apps = pods - proxies
    images = ["docker.io/library/nginx:1.25.4", "docker.io/envoyproxy/envoy:v1.29.2", "quay.io/prometheus/node-exporter:v1.7.0"]
    made, d = 0, 0
    namespaces_made: set[str] = set()
    while made < apps:
        ns = f"team-{d // deployments_per_namespace:03d}"
        if ns not in namespaces_made:
            namespaces_made.add(ns)
            yield {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "creationTimestamp": CREATED, "labels": {"kubernetes.io/metadata.name": ns}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        app = f"svc-{d:05d}"
        replicas = min(pods_per_deployment, apps - made)
        dep_uid, rs_uid = _uid(f"{name}/{ns}/deploy/{app}"), _uid(f"{name}/{ns}/rs/{app}")
        hash_ = _token(f"{name}/{app}/hash", 9)
        ctrs = [("app" if c == 0 else f"sidecar-{c}", images[c % len(images)]) for c in range(containers)]
        labels = {"app": app}
        template_spec = {"containers": [_container(c, img, i == 0) for i, (c, img) in enumerate(ctrs)]}
        yield {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns, "uid": dep_uid, "creationTimestamp": CREATED, "labels": labels, "generation": 1,
                         "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": labels}, "spec": template_spec}},
            "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas,
                       "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": STARTED, "lastTransitionTime": STARTED,
                                       "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}]},
        }
        yield {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{app}-{hash_}", "namespace": ns, "uid": rs_uid, "creationTimestamp": CREATED,
                         "labels": {**labels, "pod-template-hash": hash_}, "generation": 1,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": dep_uid,
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {**labels, "pod-template-hash": hash_}},
                     "template": {"metadata": {"labels": {**labels, "pod-template-hash": hash_}}, "spec": template_spec}},
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                       "observedGeneration": 1},
        }
        tpl = _Template(ns, app, "ReplicaSet", f"{app}-{hash_}", rs_uid, ctrs, hash_)
        for r in range(replicas):
            node, node_ip, pod_ip = place(made)
            yield tpl.pod(unique(ns, f"{app}-{hash_}-", f"{name}/{app}/{r}"), node, node_ip, pod_ip)
            made += 1
        d += 1
