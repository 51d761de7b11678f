"""Facts: what many checks need, derived once per cluster by named functions.

Each function takes a :class:`~mcdiag.gather.view.ClusterView` and returns plain
data; call it through ``view.fact(fn)`` so it is computed once per run. Each
module's ``*_READS`` names what its facts read, so the view can fetch it first.

- :mod:`~mcdiag.facts.objects`: Kubernetes object helpers (metadata, env, nodes, workloads and their pods);
- :mod:`~mcdiag.facts.cluster`: the provider and the Kubernetes version;
- :mod:`~mcdiag.facts.networks`: pod and service CIDRs, the CNI, kube-proxy;
- :mod:`~mcdiag.facts.dns`: Corefiles and the DNS services;
- :mod:`~mcdiag.facts.submariner`: the Submariner CR, cluster id, gateways, Endpoints;
- :mod:`~mcdiag.facts.netmaker`: Netmaker networks.
"""
