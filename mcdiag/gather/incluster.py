"""``--in-cluster``: the local cluster is the one mcdiag runs in, reached with its pod's service account.

Inside a pod (the Job and CronJob in ``deploy/``), Kubernetes mounts a token and the cluster CA at
``/var/run/secrets/kubernetes.io/serviceaccount`` and sets ``KUBERNETES_SERVICE_HOST``/``_PORT``.
The official client's in-cluster loader reads them (and re-reads the token as it rotates); the
remote clusters still come from kubeconfigs, typically mounted from a Secret.
``MCDIAG_SERVICE_ACCOUNT_DIR`` points elsewhere (a projected token at another path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcdiag.errors import UsageError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: The context name an in-cluster spec reports (and the cluster's name when nothing better is found).
IN_CLUSTER_CONTEXT = "in-cluster"


def service_account_dir() -> Path:
    """Where the token and CA are: ``$MCDIAG_SERVICE_ACCOUNT_DIR`` or the standard mount."""
    return Path(os.environ.get("MCDIAG_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT_DIR)


def load_in_cluster(spec: Any, request_timeout: float) -> Any:
    """A live source for the cluster this pod runs in; a one-line :class:`UsageError` outside a pod."""
    from kubernetes import client as kclient
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    from mcdiag.gather.api import LiveSource

    folder = service_account_dir()
    cfg = kclient.Configuration()
    loader = InClusterConfigLoader(token_filename=str(folder / "token"), cert_filename=str(folder / "ca.crt"))
    try:
        loader.load_and_set(cfg)
    except ConfigException as exc:
        raise UsageError(f"--in-cluster: not running in a pod with a service account ({exc}); "
                         f"give --kubeconfig instead") from None
    spec.server = cfg.host
    spec.resolved_context = IN_CLUSTER_CONTEXT
    return LiveSource.from_configuration(cfg, request_timeout)
