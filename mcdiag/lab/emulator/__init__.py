"""An emulated Kubernetes API server over real HTTPS, for tests and the network lab.

:class:`ApiEmulator` serves Kubernetes objects held in memory to the official
``kubernetes`` Python client (or kubectl) through a generated kubeconfig: TLS
with its own CA (made with ``trustme``; no insecure-skip-tls-verify), bearer
token authentication, discovery (``/api``, ``/apis``, APIResourceLists),
``/version``, health endpoints, list/get with label and field selectors and
``limit``/``continue`` paging (each page served from a sorted index per kind, in time
proportional to the page; ``remainingItemCount`` when no selector is used), metadata-only
lists and gets (``Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1``
answers a ``PartialObjectMetadataList``; an ``Accept`` it cannot serve is 406),
create/replace/patch/delete, and kube-shaped
``Status`` errors (401, 403 via :meth:`ApiEmulator.forbid`, 404, 409, 500 via
:meth:`ApiEmulator.fail`).  Custom resources are served only once their
CustomResourceDefinition is loaded, as on a real cluster.  ``emu.hang = True``
makes it read requests and never answer (client read timeouts);
:func:`refused_url` gives an endpoint that refuses connections.

Big clusters (5,000 nodes, 150,000 pods of real shape and size) are generated in seconds by
:mod:`.generate` and stored without copies (:meth:`ApiEmulator.add_generated`, or
``--generate-pods`` of the standalone process); ``--request-log`` (or
:meth:`ApiEmulator.on_request`) logs every request with its response size.

Several emulators can run in one process (each on its own port, with its own
CA), in a background thread; ``python -m mcdiag.lab.emulator`` runs one as a
standalone process.

Why not kmock?  We looked at kmock (0.8): it is built on aiohttp, has no label
or field selectors, no ``limit``/``continue`` pagination and serves plain HTTP
only, while mcdiag must be exercised against paged, selector-filtered lists
over verified TLS exactly as against kube-apiserver.  So this emulator is our
own, on the standard library's ``http.server`` and ``ssl``.

Example::

    from mcdiag.lab.emulator import ApiEmulator, load_objects
    import kubernetes

    with ApiEmulator(objects=load_objects("fixtures/east"), name="east") as emu:
        emu.kubeconfig("east.kubeconfig")
        api = kubernetes.config.new_client_from_config(config_file="east.kubeconfig")
        pods = kubernetes.client.CoreV1Api(api).list_pod_for_all_namespaces(label_selector="app=x")
"""

from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .server import ApiEmulator, RequestRecord, refused_url
from .store import ApiError, ResourceType, load_objects

__all__ = [
    "ApiEmulator",
    "ApiError",
    "RequestRecord",
    "ResourceType",
    "SelectorError",
    "load_objects",
    "parse_field_selector",
    "parse_label_selector",
    "refused_url",
]
