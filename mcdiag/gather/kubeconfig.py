"""Kubeconfigs: which clusters were given, and how to reach each (a :class:`~mcdiag.gather.api.LiveSource`).

Everything here is about *reaching* clusters. What is read from them lives in
:mod:`mcdiag.gather.view`; what it means lives in :mod:`mcdiag.facts` and the checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mcdiag.errors import UsageError


@dataclass
class ClusterSpec:
    """One cluster as given on the command line: a kubeconfig and a context."""

    kubeconfig: str | None
    context: str | None = None
    #: The name given with ``--cluster NAME=...``; ``None`` until resolved otherwise.
    name: str | None = None
    explicit_name: bool = False
    #: Filled in once the kubeconfig has loaded.
    server: str = ""
    resolved_context: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How to name this cluster in an error before it has a name: `` (cluster east)`` or nothing."""
        return f" (cluster {self.name})" if self.name else ""


def parse_cluster_option(value: str) -> ClusterSpec:
    """Parse ``NAME=PATH[:CONTEXT]`` (the context may itself contain colons, as EKS ARNs do)."""
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise UsageError(f"--cluster expects NAME=PATH[:CONTEXT], got {value!r}")
    path, _, context = rest.partition(":")
    if not path:
        raise UsageError(f"--cluster {value!r}: the kubeconfig path is empty")
    return ClusterSpec(kubeconfig=path, context=context or None, name=name, explicit_name=True)


def kubeconfig_paths(path: str | None) -> list[Path]:
    """The files a kubeconfig argument means: the path, else ``$KUBECONFIG`` (a list), else ``~/.kube/config``."""
    if path:
        return [Path(os.path.expanduser(path))]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(os.path.expanduser(p)) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _read_kubeconfig(paths: list[Path], label: str) -> dict[str, Any]:
    """Read and merge kubeconfig files, first one wins per name (kubectl's rule). One-line errors."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {"clusters": set(), "contexts": set(), "users": set()}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"kubeconfig {path}{label}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"kubeconfig {path}{label}: cannot read it ({exc.__class__.__name__})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise UsageError(f"kubeconfig {path}{label}: not valid YAML{where}") from None
        if not isinstance(data, dict) or not isinstance(data.get("contexts") or [], list):
            raise UsageError(f"kubeconfig {path}{label}: not a kubeconfig (no contexts list)")
        for section in ("clusters", "contexts", "users"):
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or "name" not in entry:
                    raise UsageError(f"kubeconfig {path}{label}: malformed entry in {section}")
                if entry["name"] not in seen[section]:
                    seen[section].add(entry["name"])
                    merged[section].append(entry)
        if "current-context" not in merged and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        merged.setdefault("_base", str(path.parent))
    return merged


def load_cluster(spec: ClusterSpec, request_timeout: float) -> Any:
    """Load ``spec``'s kubeconfig and return a source for it. Raises :class:`UsageError` on bad input."""
    if spec.extra.get("in_cluster"):  # --in-cluster: the pod's service account, see mcdiag.gather.incluster
        from mcdiag.gather.incluster import load_in_cluster

        return load_in_cluster(spec, request_timeout)
    from kubernetes import client as kclient
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader

    paths = kubeconfig_paths(spec.kubeconfig)
    data = _read_kubeconfig(paths, spec.label)
    contexts = {c["name"]: c for c in data["contexts"]}
    context = spec.context or data.get("current-context")
    if not context:
        raise UsageError(f"kubeconfig {paths[0]} has no current-context; pass --context{spec.label}")
    if context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise UsageError(f"context {context!r} not found in kubeconfig {paths[0]} (contexts: {known})")
    cluster_ref = (contexts[context].get("context") or {}).get("cluster")
    clusters = {c["name"]: c for c in data["clusters"]}
    if cluster_ref not in clusters:
        raise UsageError(f"context {context!r} in {paths[0]} names cluster {cluster_ref!r}, which is not defined")
    server = ((clusters[cluster_ref].get("cluster") or {}).get("server")) or ""
    if not server:
        raise UsageError(f"cluster {cluster_ref!r} in {paths[0]} has no server URL")

    base = data.pop("_base", "")
    cfg = kclient.Configuration()
    try:
        KubeConfigLoader(config_dict=data, active_context=context, config_base_path=base).load_and_set(cfg)
    except ConfigException as exc:
        # The client's messages name fields, never secret values.
        raise UsageError(f"kubeconfig {paths[0]}, context {context!r}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # malformed certificate data and the like
        raise UsageError(
            f"kubeconfig {paths[0]}, context {context!r}: cannot load it ({exc.__class__.__name__})"
        ) from None
    cfg.retries = False  # one bounded attempt per request; the runner decides about retrying
    spec.server = server
    spec.resolved_context = context
    from mcdiag.gather.api import LiveSource

    return LiveSource(kclient.ApiClient(cfg), server, request_timeout)
