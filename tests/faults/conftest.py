"""Fixtures of the fault matrix: a healthy emulated pair, fault proxies, a fresh working directory per case."""

from __future__ import annotations

import pytest
import trustme

from mcdiag.lab.emulator import ApiEmulator
from tests.faults.proxy import FaultProxy
from tests.test_core import kubeadm_cluster


def namespaces(*names: str) -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]


def root_ca(namespace: str = "kube-system") -> dict:
    """The ``kube-root-ca.crt`` ConfigMap every namespace holds (since Kubernetes 1.20): kube-system lists two ConfigMaps."""
    pem = "-----BEGIN CERTIFICATE-----\nMIIBdjCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwprdWJlcm5ldGVz\n-----END CERTIFICATE-----\n"
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": namespace},
            "data": {"ca.crt": pem}}


#: A healthy pair: kubeadm clusters of three nodes with disjoint CIDRs, and the usual namespaces.
PAIR = {
    "east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16", nodes=3) + namespaces("default", "kube-system", "kube-public") + [root_ca()],
    "west": kubeadm_cluster("10.44.0.0/16", "10.45.0.0/16", nodes=3) + namespaces("default", "kube-system", "kube-public") + [root_ca()],
}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    """Two emulated kubeadm clusters (:data:`PAIR`), east and west, with kubeconfigs (shared by a module's cases: never changed)."""
    folder = tmp_path_factory.mktemp("kc")
    emus = {n: ApiEmulator(objects=o, name=n).start() for n, o in PAIR.items()}
    kcs = {n: e.kubeconfig(folder / f"{n}.kubeconfig", context=f"{n}-ctx") for n, e in emus.items()}
    yield emus, kcs
    for e in emus.values():
        e.stop()


@pytest.fixture(scope="module")
def proxy_ca():
    return trustme.CA()


@pytest.fixture
def proxied(healthy, proxy_ca, tmp_path):
    """A fault proxy in front of west; returns (proxy, kubeconfig of west through it)."""
    emus, _ = healthy
    proxy = FaultProxy(emus["west"], proxy_ca).start()
    kc = proxy.kubeconfig(tmp_path / "west-proxy.kubeconfig", "west")
    yield proxy, kc
    proxy.stop()


@pytest.fixture
def workdir(tmp_path):
    """Where a case's mcdiag runs (its reports and snapshots land here, and only here)."""
    d = tmp_path / "run"
    d.mkdir()
    return d
