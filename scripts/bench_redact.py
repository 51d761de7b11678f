#!/usr/bin/env python3
"""Benchmark: redaction against JSON parsing, on a large pod list of realistic pods (figures only).

    python scripts/bench_redact.py [--pods 10000] [--runs 3]

Each pod carries what real ones do (managed fields, env, args, probes, projected
token volume, statuses). Prints the best of ``--runs`` for: parsing the list,
redacting it in place (what a view does with objects it parsed), and the old way
(a deep copy of each object, then redaction).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcdiag.gather.redact import redact, redact_in_place  # noqa: E402


def pod(i: int) -> dict:
    ip = f"10.42.{i % 250}.{i % 200}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"web-{i:05d}-7d9f8b6c5d-x2x7q", "generateName": "web-7d9f8b6c5d-", "namespace": f"ns-{i % 50}",
            "uid": "3f1c2a9e-8b1d-4c6e-9f7a-0c2d4e6f8a1b", "resourceVersion": str(100000 + i),
            "creationTimestamp": "2024-03-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5d", "app.kubernetes.io/name": "web"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-03-01T09:59:00Z", "prometheus.io/scrape": "true",
                            "cni.projectcalico.org/podIP": f"{ip}/32"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5d", "uid": "a-b",
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                               "time": "2024-03-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                                   "f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}}},
                                   "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:env": {".": {}},
                                                                                  "f:image": {}, "f:name": {}}}}}}],
        },
        "spec": {
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
                "defaultMode": 420}}],
            "containers": [{
                "name": "web", "image": "registry.example.com/shop/web:1.4.2",
                "args": ["--port=8080", "--log-level=info", "--upstream=http://api.shop.svc:8080"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_HOST", "value": "db.shop.svc"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10},
                "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
            "nodeName": f"node-{i % 100}", "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": "2024-03-01T10:00:05Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.0.5", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": "2024-03-01T10:00:00Z",
            "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "2024-03-01T10:00:04Z"}},
                                   "ready": True, "restartCount": 0, "image": "registry.example.com/shop/web:1.4.2",
                                   "imageID": "registry.example.com/shop/web@sha256:0123456789abcdef",
                                   "containerID": "containerd://0123456789abcdef", "started": True}],
            "qosClass": "Burstable",
        },
    }


def best(fn, runs: int) -> float:
    """The best of ``runs`` timings with the garbage collector off (its pauses land on whichever step allocates)."""
    times = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod(i) for i in range(args.pods)]})
    parsed = [json.loads(body)["items"] for _ in range(2 * args.runs)]
    parse = best(lambda: json.loads(body), args.runs)
    fresh = iter(parsed)
    in_place = best(lambda: [redact_in_place(item) for item in next(fresh)], args.runs)
    copied = best(lambda: [redact(item) for item in next(fresh)], args.runs)
    deep = best(lambda: copy.deepcopy(parsed[0]), 1)
    print(f"{args.pods} pods, {len(body) / 1e6:.1f} MB of JSON (best of {args.runs}, garbage collector off):")
    print(f"  json.loads                 {parse:7.3f}s")
    print(f"  redact in place (views)    {in_place:7.3f}s  ({in_place / parse:.0%} of parsing)")
    print(f"  deep copy, then redact     {copied:7.3f}s  ({copied / parse:.0%} of parsing; the copy alone {deep:.3f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
