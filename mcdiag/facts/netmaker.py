"""Netmaker: the network a cluster's nodes join, and the networks its gateways join (the peers').

These are the only source of Netmaker network names for every check and probe.
A netclient workload's network is its ``NETWORK`` env, else its ``-n NET``
argument, else the ``network`` field of its access token.

The access token (netclient v0.9.x manifests carry only ``TOKEN``) is base64
JSON: ``{"apiconnstring": ..., "network": ..., "key": ..., "localrange": ...}``.
It is a secret, and the view redacts it as it arrives; so its network is
decoded at read time, from the raw object, by :func:`keep_token_network` (one of
:data:`READ_FACTS`, which the view applies before redaction): only the network
name is kept, in the annotation :data:`TOKEN_NETWORK_ANNOTATION`. Neither the
token nor its key reach a check, a report or a snapshot.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from mcdiag.facts.objects import annotations, container_args, env_value, flag_value, pod_spec, qualname
from mcdiag.gather import resources as R
from mcdiag.gather.view import ClusterView

NETCLIENT = "netclient"
NETCLIENT_GATEWAY = "netclient-gateway"
#: The netclient DaemonSets (every node joins the cluster's network through one) and the
#: netclient-gateway Deployments (the gateway joins the peers' networks), by their ``app`` label,
#: in any namespace: netmak8s applies them to ``default``, users elsewhere.
NETCLIENT_DAEMONSETS = R.DAEMONSETS.where(labels=f"app={NETCLIENT}")
NETCLIENT_GATEWAY_DEPLOYMENTS = R.DEPLOYMENTS.where(labels=f"app={NETCLIENT_GATEWAY}")
NETMAKER_READS = (NETCLIENT_DAEMONSETS, NETCLIENT_GATEWAY_DEPLOYMENTS)
#: The nodes labelled ``gateway=true`` (netclient-gateway is pinned to one), whole: a few.
GATEWAY_NODES = R.NODES.where(labels="gateway=true")
#: The pods of netmak8s's workloads, by their ``app`` labels: one netclient pod per node, the gateway, servicex.
NETMAKER_PODS = R.PODS.where(labels=f"app in ({NETCLIENT},{NETCLIENT_GATEWAY},servicex)")
NETCLIENT_GATEWAY_PODS = R.PODS.where(labels=f"app={NETCLIENT_GATEWAY}")
#: servicex (Netmaker's service discovery), by its label and by its name (any namespace).
SERVICEX_DEPLOYMENTS = (R.DEPLOYMENTS.where(labels="app=servicex"), R.DEPLOYMENTS.named("servicex"))


def servicex_deployments(view: ClusterView) -> list[dict[str, Any]]:
    """The servicex Deployments (labelled ``app=servicex`` or named ``servicex``), each once."""
    found: dict[str, dict[str, Any]] = {}
    for query in SERVICEX_DEPLOYMENTS:
        for dep in view.list(query):
            found.setdefault(qualname(dep), dep)
    return [found[k] for k in sorted(found)]

#: Netmaker's documentation, and the Kubernetes manifests (netmak8s) and their docs.
NETMAKER_DOCS = "https://docs.netmaker.io/"
NETMAK8S_DOCS = "https://github.com/gravitl/netmak8s"
NETMAKER_K8S_DOCS = "https://nm-k8s.readthedocs.io/"

#: Where the network decoded from a workload's access token is kept (set at read time; never the token).
TOKEN_NETWORK_ANNOTATION = "mcdiag.io/netclient-network"
#: Env vars that hold a netclient access token (v0.9.x manifests: ``TOKEN``; older: ``ACCESS_TOKEN``).
TOKEN_ENV = ("TOKEN", "ACCESS_TOKEN", "NETCLIENT_ACCESSTOKEN", "NETMAKER_TOKEN")
#: What a Netmaker network name may look like (anything else decoded from a token is not kept).
_NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def token_network(token: Any) -> str | None:
    """The ``network`` field of a netclient access token (base64 JSON, padded or not, standard or URL-safe)."""
    if not isinstance(token, str) or len(token) < 8 or len(token) > 8192:
        return None
    text = token.strip()
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(padded.encode("ascii"))
            data = json.loads(raw)
        except (ValueError, binascii.Error, UnicodeError):
            continue
        network = data.get("network") if isinstance(data, dict) else None
        if isinstance(network, str) and _NETWORK_NAME.fullmatch(network):
            return network
    return None


def _raw_tokens(obj: dict[str, Any]) -> list[str]:
    """Literal access tokens of a workload or pod: its token env values and ``-t TOKEN`` arguments."""
    found = []
    spec = pod_spec(obj)
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in container.get("env") or []:
            if env.get("name") in TOKEN_ENV and isinstance(env.get("value"), str):
                found.append(env["value"])
    words = container_args(obj)
    for flag in ("-t", "--token"):
        value = flag_value(words, flag)
        if value and "$" not in value:
            found.append(value)
    return found


def keep_token_network(obj: dict[str, Any]) -> dict[str, str]:
    """A read-time fact: the annotation to add to a raw netclient workload, naming its token's network (or nothing).

    Applied to every raw object before redaction; only netclient workloads (``app`` label
    ``netclient``/``netclient-gateway``, or a container running a netclient image) are decoded.
    """
    if obj.get("kind") not in ("DaemonSet", "Deployment", "StatefulSet", "Pod"):
        return {}
    app = ((obj.get("metadata") or {}).get("labels") or {}).get("app")
    images = [str(c.get("image") or "") for c in pod_spec(obj).get("containers") or []]
    if app not in (NETCLIENT, NETCLIENT_GATEWAY) and not any("netclient" in i for i in images):
        return {}
    networks = []
    for token in _raw_tokens(obj):
        network = token_network(token)
        if network and network not in networks:
            networks.append(network)
    return {TOKEN_NETWORK_ANNOTATION: ",".join(networks)} if networks else {}


#: Facts the view computes from raw objects before redaction hides what they come from.
READ_FACTS = (keep_token_network,)


def workload_network(workload: dict[str, Any]) -> str | None:
    """The Netmaker network a netclient DaemonSet or Deployment joins, or ``None`` when it does not say.

    ``NETWORK`` env, else ``-n NET`` in its command, else its access token's ``network``.
    """
    network = env_value(workload, "NETWORK")
    if network:
        return network
    words = container_args(workload)
    for flag in ("-n", "--network", "--net"):
        value = flag_value(words, flag)
        if value and "$" not in value and not value.startswith("-"):
            return value.rstrip(";")
    from_token = annotations(workload).get(TOKEN_NETWORK_ANNOTATION)
    if from_token:
        return from_token.split(",")[0]
    return None


def network_source(workload: dict[str, Any]) -> str | None:
    """Where :func:`workload_network` found the network (``NETWORK env``, ``-n argument``, ``access token``)."""
    if env_value(workload, "NETWORK"):
        return "NETWORK env"
    words = container_args(workload)
    for flag in ("-n", "--network", "--net"):
        value = flag_value(words, flag)
        if value and "$" not in value and not value.startswith("-"):
            return f"{flag} argument"
    if annotations(workload).get(TOKEN_NETWORK_ANNOTATION):
        return "access token"
    return None


def _networks(workloads: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for workload in sorted(workloads, key=qualname):
        network = workload_network(workload)
        if network and network not in found:
            found.append(network)
    return found


def cluster_networks(view: ClusterView) -> list[str]:
    """The networks this cluster's nodes join: those of its DaemonSets ``app=netclient`` (first is the main one)."""
    return _networks(view.list(NETCLIENT_DAEMONSETS))


def gateway_networks(view: ClusterView) -> list[str]:
    """The networks this cluster's gateways join (Deployments ``app=netclient-gateway``): the OTHER clusters' networks."""
    return _networks(view.list(NETCLIENT_GATEWAY_DEPLOYMENTS))
