"""Everything a run is told, in one place: :class:`Options`, its validation, and the flag table.

Every front door (``mcdiag all/run``, ``mcdiag gather``, ``mcdiag cleanup``, the
pytest plugin) fills the same :class:`Options` from the same :data:`FLAGS`
table; each spells the flags its own way (``--request-timeout`` on the command
line, ``--mcdiag-request-timeout`` and the ini key ``mcdiag_request_timeout``
under pytest). Adding an option means a field here, a row in :data:`FLAGS`,
and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from mcdiag.errors import UsageError
from mcdiag.facts.objects import split_cidrs
from mcdiag.gather.kubeconfig import ClusterSpec, parse_cluster_option
from mcdiag.model import KNOWN_TAGS

DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_CHECK_TIMEOUT = 60.0
DEFAULT_PROBE_NAMESPACE = "mcdiag-probes"
DEFAULT_PROBE_START_TIMEOUT = 60.0
#: Seconds a probe waits for an answer across the clusters before it calls the path silent (``--answer-timeout``):
#: a TCP connect, a DNS reply, the first ICMP echo reply, a marked datagram. Two seconds cover a lost first packet
#: (TCP sends its SYN again after 1 s, the DNS probe its question after half the wait) on any terrestrial path.
DEFAULT_ANSWER_TIMEOUT = 2.0
#: Checks at once per cluster (``--jobs``): every active check of two clusters at once (14 with Submariner), so a
#: broken path costs one wait, not one wait per wave of checks.
DEFAULT_JOBS = 16
#: Seconds a whole run may take (``--timeout``): generous, a bound rather than a budget.
DEFAULT_RUN_TIMEOUT = 1800.0
PROVIDERS = ("submariner", "netmaker", "none")
FAIL_ON = ("fail", "warn")
#: Upper bounds of numeric options (a week of seconds; threads).
MAX_SECONDS = 7 * 86400.0
MAX_JOBS = 256
#: A path that has not answered in a minute is not slow.
MAX_ANSWER_TIMEOUT = 60.0


@dataclass
class Options:
    """What one run is told. Defaults are the product's defaults."""

    # clusters
    kubeconfig: str | None = None
    context: str | None = None
    remote_kubeconfig: str | None = None
    remote_context: str | None = None
    cluster: list[str] = field(default_factory=list)
    provider: str | None = None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: The local cluster is the one this pod runs in (service-account credentials).
    in_cluster: bool = False
    # selection and execution
    ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    passive: bool = False
    jobs: int = DEFAULT_JOBS
    check_timeout: float | None = None
    timeout: float = DEFAULT_RUN_TIMEOUT
    from_snapshot: str | None = None
    #: ``warn``: warnings fail the run too (exit code 1, a JUnit failure).
    fail_on: str = "fail"
    # network facts
    pod_cidr: list[str] = field(default_factory=list)
    service_cidr: list[str] = field(default_factory=list)
    netmaker_subnet: list[str] = field(default_factory=list)
    # active checks
    service: list[str] = field(default_factory=list)
    max_services: int = 5
    max_rtt: float = 100.0
    image: str | None = None
    image_repository: str | None = None
    probe_namespace: str = DEFAULT_PROBE_NAMESPACE
    probe_start_timeout: float = DEFAULT_PROBE_START_TIMEOUT
    answer_timeout: float = DEFAULT_ANSWER_TIMEOUT

    def specs(self) -> list[ClusterSpec]:
        """The clusters to diagnose, in order: ``--kubeconfig/--context``, ``--remote-*``, then ``--cluster``."""
        specs: list[ClusterSpec] = []
        if self.in_cluster:  # loaded by mcdiag.gather.incluster
            specs.append(ClusterSpec(None, None, extra={"in_cluster": True}))
        elif self.kubeconfig or self.context or not (self.cluster or self.remote_kubeconfig or self.remote_context):
            specs.append(ClusterSpec(self.kubeconfig, self.context))
        if self.remote_kubeconfig or self.remote_context:
            specs.append(ClusterSpec(self.remote_kubeconfig or self.kubeconfig, self.remote_context))
        specs.extend(parse_cluster_option(v) for v in self.cluster)
        names = [s.name for s in specs if s.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UsageError(f"--cluster names must be unique; {', '.join(dupes)} given more than once")
        return specs

    @property
    def gives_clusters(self) -> bool:
        """Whether any cluster option was given (``--from-snapshot`` replaces them)."""
        return bool(self.kubeconfig or self.context or self.remote_kubeconfig or self.remote_context or self.cluster
                    or self.in_cluster)

    def check_options(self, cluster_names: Sequence[str]) -> dict[str, Any]:
        """The options checks read through ``ctx.option``."""
        return {
            "pod_cidrs": _per_cluster(self.pod_cidr, "--pod-cidr", cluster_names),
            "service_cidrs": _per_cluster(self.service_cidr, "--service-cidr", cluster_names),
            "netmaker_subnets": [c for v in self.netmaker_subnet for c in split_cidrs(v)],
            "max_rtt": self.max_rtt,
            "answer_timeout": self.answer_timeout,
            "service": list(self.service),
            "max_services": self.max_services,
            "image": self.image,
            "image_repository": self.image_repository,
            "passive": self.passive,
        }

    def validate(self) -> None:
        """Reject option values that cannot work (exit 2, one line)."""
        from mcdiag.facts.networks import parse_networks

        if self.provider and self.provider not in PROVIDERS:
            raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        for name in ("request_timeout", "check_timeout", "probe_start_timeout", "max_rtt", "timeout", "answer_timeout"):
            _positive_finite(name, getattr(self, name))
        if self.answer_timeout > MAX_ANSWER_TIMEOUT:
            raise UsageError(f"--answer-timeout must be at most {MAX_ANSWER_TIMEOUT:g} seconds, not {self.answer_timeout:g}")
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {self.fail_on!r}")
        if not isinstance(self.jobs, int) or not 1 <= self.jobs <= MAX_JOBS:
            raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, not {self.jobs!r}")
        unknown = sorted(set(self.tags) - set(KNOWN_TAGS))
        if unknown:
            raise UsageError(f"unknown tag(s) {', '.join(unknown)} (tags: {', '.join(KNOWN_TAGS)})")
        for value in self.pod_cidr + self.service_cidr + self.netmaker_subnet:
            cidrs = split_cidrs(value.split("=", 1)[1] if "=" in value else value)
            _, bad = parse_networks(cidrs)
            if bad or not cidrs:
                raise UsageError(f"not a CIDR: {value!r} (expected [CLUSTER=]CIDR[,CIDR...])")
        if isinstance(self.service, str):  # one service given programmatically
            self.service = [self.service]
        for svc in self.service:
            if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?", svc):
                raise UsageError(f"--service expects NAMESPACE/NAME, got {svc!r}")
        if self.max_services < 0:
            raise UsageError("--max-services must be 0 or more")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", self.probe_namespace or "") or len(self.probe_namespace) > 63:
            raise UsageError(f"--probe-namespace {self.probe_namespace!r} is not a valid namespace name")
        if self.in_cluster and (self.kubeconfig or self.context):
            raise UsageError("--in-cluster replaces --kubeconfig/--context for the local cluster; give one or the other")
        if self.from_snapshot and self.gives_clusters:
            raise UsageError("--from-snapshot replaces the cluster options; give one or the other")

    @classmethod
    def from_values(cls, values: Any, **overrides: Any) -> Options:
        """An :class:`Options` from any object with attributes named like its fields (argparse's namespace)."""
        out = cls()
        for f in fields(cls):
            if hasattr(values, f.name) and getattr(values, f.name) is not None:
                setattr(out, f.name, getattr(values, f.name))
        for key, value in overrides.items():
            setattr(out, key, value)
        return out


def _positive_finite(name: str, value: float | None) -> None:
    if value is None:
        return
    flag = "--" + name.replace("_", "-")
    if not isinstance(value, int | float) or math.isnan(value) or math.isinf(value) or value <= 0:
        raise UsageError(f"{flag} must be a positive number of seconds, not {value!r}" if "timeout" in name
                         else f"{flag} must be a positive number, not {value!r}")
    if value > MAX_SECONDS:
        raise UsageError(f"{flag} must be at most {MAX_SECONDS:g}, not {value!r}")


def _per_cluster(values: list[str], flag: str, names: Sequence[str]) -> dict[str, list[str]]:
    """``[CLUSTER=]CIDR[,CIDR]`` values -> {cluster: [cidrs]}; without CLUSTER the first cluster is meant."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, cidrs = value.partition("=")
        if not sep:
            name, cidrs = (names[0] if names else ""), value
        if names and name not in names:
            raise UsageError(f"{flag} {value!r}: no cluster called {name!r} (clusters: {', '.join(names)})")
        out.setdefault(name, []).extend(split_cidrs(cidrs))
    return out


# ---------------------------------------------------------------------------------------------
# The flag table: one row per option, spelled by each front door
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    """One option as the front doors offer it. ``dest`` is the :class:`Options` field."""

    dest: str
    help: str
    group: str
    #: ``str``, ``float``, ``int``, ``bool`` (a switch) or ``list`` (repeatable).
    kind: type = str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    #: The command-line spellings (first is the name), e.g. ``("--jobs", "-j")``.
    cli: tuple[str, ...] = ()
    #: Extra pytest spellings besides ``--mcdiag-DEST`` (aliases users already type).
    pytest_aliases: tuple[str, ...] = ()
    #: Offered by the pytest plugin (``mcdiag_DEST`` ini key too).
    in_pytest: bool = True

    @property
    def default(self) -> Any:
        """The :class:`Options` default."""
        f = next(f for f in fields(Options) if f.name == self.dest)
        return f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]

    @property
    def flag(self) -> str:
        """The long command-line spelling."""
        return self.cli[0] if self.cli else "--" + self.dest.replace("_", "-")

    @property
    def pytest_flag(self) -> str:
        """The pytest spelling: ``--mcdiag-`` plus the command-line name."""
        return "--mcdiag-" + self.flag.removeprefix("--")


CLUSTERS = "clusters"
SELECTION = "selection and execution"
NETWORK = "network facts"
ACTIVE = "active checks"

FLAGS: tuple[Flag, ...] = (
    Flag("kubeconfig", "kubeconfig of the local cluster (default: $KUBECONFIG or ~/.kube/config)", CLUSTERS,
         metavar="PATH", pytest_aliases=("--kubeconfig",)),
    Flag("context", "context in --kubeconfig (default: its current-context)", CLUSTERS, metavar="NAME"),
    Flag("remote_kubeconfig", "kubeconfig of the remote cluster (default: --kubeconfig)", CLUSTERS,
         metavar="PATH", pytest_aliases=("--remote-kubeconfig",)),
    Flag("remote_context", "context in --remote-kubeconfig", CLUSTERS, metavar="NAME"),
    Flag("cluster", "a named cluster; repeat for N clusters (names must be unique)", CLUSTERS, list,
         metavar="NAME=PATH[:CONTEXT]"),
    Flag("in_cluster", "the local cluster is the one mcdiag runs in (its pod's service account)", CLUSTERS, bool),
    Flag("provider", "what joins the clusters (default: detected per cluster)", CLUSTERS, choices=PROVIDERS),
    Flag("request_timeout", f"seconds one API request may take (default {DEFAULT_REQUEST_TIMEOUT:g})", CLUSTERS,
         float, metavar="S"),
    Flag("passive", "only checks that read the API: no pod, no packet, no write request", SELECTION, bool),
    Flag("tags", "only checks with this tag (repeatable)", SELECTION, list, choices=KNOWN_TAGS, cli=("--tag",),
         in_pytest=False),
    Flag("jobs", f"checks at once per cluster, a check of two clusters counting on both (default {DEFAULT_JOBS}); with N "
         "clusters at most N/2 times as many in all", SELECTION, int, metavar="N", cli=("--jobs", "-j")),
    Flag("check_timeout", f"seconds each check may take (default {DEFAULT_CHECK_TIMEOUT:g}, or the check's own)",
         SELECTION, float, metavar="S"),
    Flag("timeout", f"seconds the whole run may take; then unfinished checks are errors (default {DEFAULT_RUN_TIMEOUT:g})",
         SELECTION, float, metavar="S"),
    Flag("from_snapshot", "run the passive checks on a snapshot written by `mcdiag gather`", SELECTION,
         metavar="DIR", in_pytest=False),
    Flag("fail_on", "lowest status that fails the run: fail (default; error too) or warn", SELECTION,
         choices=FAIL_ON, metavar="STATUS"),
    Flag("pod_cidr", "pod CIDR(s), overriding discovery", NETWORK, list, metavar="[CLUSTER=]CIDR"),
    Flag("service_cidr", "service CIDR(s), overriding discovery", NETWORK, list, metavar="[CLUSTER=]CIDR"),
    Flag("netmaker_subnet", "Netmaker network subnet(s)", NETWORK, list, metavar="CIDR"),
    Flag("service", "a service of the peer to probe by DNS and HTTP, instead of its exported ones (repeatable)", ACTIVE,
         list, metavar="NS/NAME"),
    Flag("max_services", "at most this many of the peer's exported services are probed, besides mcdiag's echo "
         "service (default 5)", ACTIVE, int, metavar="N"),
    Flag("max_rtt", "latency warns above this RTT (default 100)", ACTIVE, float, metavar="MS"),
    Flag("image", "probe pod image (default: mcdiag's probe image)", ACTIVE),
    Flag("image_repository", "registry mirror for the probe image", ACTIVE, metavar="REPO"),
    Flag("probe_namespace", f"namespace for probe pods (default {DEFAULT_PROBE_NAMESPACE})", ACTIVE, metavar="NS"),
    Flag("probe_start_timeout", f"seconds a probe pod may take to start (default {DEFAULT_PROBE_START_TIMEOUT:g})",
         ACTIVE, float, metavar="S"),
    Flag("answer_timeout", "seconds a probe waits for an answer across the clusters before it calls the path silent: "
         "a TCP connect, a DNS reply, the first ICMP echo reply, a marked datagram (default "
         f"{DEFAULT_ANSWER_TIMEOUT:g}; raise it on slow or lossy WAN links)", ACTIVE, float, metavar="S"),
)


def flags(*groups: str) -> list[Flag]:
    """The flags of the given groups (all without arguments), in table order."""
    return [f for f in FLAGS if not groups or f.group in groups]
