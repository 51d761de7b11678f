"""mcdiag's test bed: a network lab of N clusters in Linux network namespaces, and the Kubernetes API emulator.

``Lab(dir, provider, clusters=N).up()`` (N clusters, 2 by default, each peered with every other) builds the namespaces described in
:mod:`mcdiag.lab.topology` (no route leaves them: no veth to the root namespace,
no default route), starts wireguard-go, dnsmasq and an HTTP server on the
gateways, and one lab API server per cluster on 127.0.0.1
(:mod:`mcdiag.lab.apiserver`: the API emulator serving the objects of
:mod:`mcdiag.lab.objects`, plus a kubelet, so probe pods created through the
API really run in the lab, see :mod:`mcdiag.lab.pods`). Everything created is
recorded in ``DIR/state.json`` (pods in ``DIR/pods/``) *before* it is created,
so ``down()`` cleans up after a crash or a SIGKILL in the middle of ``up()``.
Faults (:mod:`mcdiag.lab.faults`) are recorded there too and healed by
``heal()``.

Python API::

    lab = Lab("reports/lab", "submariner")
    lab.up()
    lab.exec("cluster-w1", ["python3", "-m", "mcdiag.probes", "ping", lab.pod_ip("cluster1")])
    lab.break_("block-vxlan", cluster="cluster")
    lab.status()["faults"]
    lab.heal()
    lab.kubeconfig("cluster")      # DIR/cluster.kubeconfig
    lab.down()

The lab is mcdiag's test bed, not its product: the API emulator
(:mod:`mcdiag.lab.emulator`), the kubelet and controllers that run lab pods
(:mod:`~mcdiag.lab.kubelet`, :mod:`~mcdiag.lab.controllers`), the CRD copies
(:mod:`~mcdiag.lab.crds`) and the fixture clusters (``fixtures/``) live here;
only ``mcdiag lab`` and the tests import them. Their extra dependencies come
with ``pip install 'mcdiag[lab]'``.
"""

from __future__ import annotations

from typing import Any

_LAZY = ("Lab", "LabError", "FAULTS", "PROVIDERS", "MAX_CLUSTERS", "build_topology")
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from mcdiag.lab import network

        return getattr(network, name)
    raise AttributeError(name)
