"""The check model: statuses, scopes, results and the :class:`Check` base class.

A check is a small class with class-level metadata (``id``, ``title``, ``scope``,
``tags``, ``hint``, ``docs``, ``reads``) and a ``run`` method that evaluates an
in-memory view of one cluster (or a pair of clusters) and returns an
:class:`Outcome`. It never talks to a cluster itself, never prints and never
raises to the runner on purpose: the runner turns anything it raises into an
``error`` result with the reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mcdiag.gather.resources import Resource
    from mcdiag.gather.view import ClusterView


class Status(enum.StrEnum):
    """A result's verdict. The values are public interface (JSON, JUnit)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def is_problem(self) -> bool:
        """True for the statuses that make ``mcdiag`` exit 1."""
        return self in (Status.FAIL, Status.ERROR)

    @property
    def symbol(self) -> str:
        """The terminal's mark for this status (colour-blind safe: each status has its own)."""
        return _SYMBOLS[self]


_SYMBOLS = {Status.PASS: "✓", Status.WARN: "⚠", Status.FAIL: "✗", Status.ERROR: "✗", Status.SKIP: "–"}


class Scope(enum.StrEnum):
    """What one result of a check is about."""

    CLUSTER = "cluster"
    PAIR = "pair"
    ORDERED_PAIR = "ordered-pair"


#: Tags that are also pytest markers. Order is the order ``mcdiag list`` shows.
KNOWN_TAGS = (
    "preflight",
    "intra-cluster",
    "inter-cluster",
    "passive",
    "active",
    "submariner",
    "netmaker",
)


def target_label(clusters: tuple[str, ...], scope: Scope) -> str:
    """Name a target the way reports and test ids do: ``east``, ``east->west``, ``east<->west``."""
    if scope is Scope.CLUSTER:
        return clusters[0]
    if scope is Scope.ORDERED_PAIR:
        return "->".join(clusters)
    return "<->".join(clusters)


@dataclass(frozen=True)
class Outcome:
    """What a check's ``run`` returns: a verdict with its words, before the runner stamps it."""

    status: Status
    message: str
    hint: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    #: The docs link for this outcome when it is not the check's ``docs`` (see :attr:`Check.provider_docs`).
    docs: str | None = None


@dataclass(frozen=True)
class Result:
    """One verdict of one check about one target (a cluster, or a pair of clusters)."""

    check: str
    title: str
    scope: Scope
    clusters: tuple[str, ...]
    status: Status
    message: str
    hint: str | None = None
    docs: str | None = None
    tags: tuple[str, ...] = ()
    duration_s: float = 0.0
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: The label (``CHECK-ID[target]``) of the result this one most likely follows from (see mcdiag.run.causes).
    cause: str | None = None

    @property
    def target(self) -> str:
        """``east``, ``east->west`` or ``east<->west``."""
        return target_label(self.clusters, self.scope)

    @property
    def test_name(self) -> str:
        """The JUnit / pytest name: ``CHECK-ID[target]``."""
        return f"{self.check}[{self.target}]"

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON report writes it (see CHECKS.md)."""
        return {
            "check": self.check,
            "title": self.title,
            "scope": self.scope.value,
            "clusters": list(self.clusters),
            "status": self.status.value,
            "message": self.message,
            "hint": self.hint,
            "docs": self.docs,
            "tags": list(self.tags),
            "duration_s": round(self.duration_s, 4),
            "details": _plain(self.details),
            "cause": self.cause,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """The inverse of :meth:`to_dict` (a result that travelled as JSON, e.g. from a pytest-xdist worker)."""
        return cls(
            check=d["check"],
            title=d.get("title") or d["check"],
            scope=Scope(d.get("scope", "cluster")),
            clusters=tuple(d["clusters"]),
            status=Status(d["status"]),
            message=d.get("message", ""),
            hint=d.get("hint"),
            docs=d.get("docs"),
            tags=tuple(d.get("tags") or ()),
            duration_s=float(d.get("duration_s") or 0.0),
            details=d.get("details") or {},
            cause=d.get("cause"),
        )


def _plain(value: Any) -> Any:
    """Turn mappings/tuples/sets into JSON-able builtins (deterministic order for sets)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass
class RunReport:
    """Everything a report writer needs: cluster facts, results, the summary and the run's notes."""

    started: datetime
    duration_s: float
    clusters: list[dict[str, Any]]
    results: list[Result]
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    #: ``--fail-on warn``: warnings count as failures (exit code, JUnit).
    fail_on_warn: bool = False
    #: The options of the run as reports show them (passive or not, selection, overrides).
    options: dict[str, Any] = field(default_factory=dict)

    def fails(self, result: Result) -> bool:
        """Whether ``result`` makes the run fail (fail, error, and warn with ``--fail-on warn``)."""
        return result.status.is_problem or (self.fail_on_warn and result.status is Status.WARN)

    @property
    def summary(self) -> dict[str, int]:
        """Count of results per status (every status present, zero or not)."""
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 with no fail and no error (and no warn with ``--fail-on warn``), else 1."""
        return 1 if any(self.fails(r) for r in self.results) else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (CHECKS.md)."""
        from mcdiag import __version__

        return {
            "tool": "mcdiag",
            "version": __version__,
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 3),
            "interrupted": self.interrupted,
            "clusters": self.clusters,
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary,
            "notes": self.notes,
            "options": _plain(self.options),
        }


class CheckContext:
    """What a check sees: the view(s) of its target, every view, and the run options.

    ``cluster`` is the view of a cluster-scope target; ``a`` and ``b`` are the
    views of a pair (in direction order for ordered pairs). ``clusters`` holds
    every cluster of the run, for checks such as ``gateway-connections`` that
    must know which peers to expect.
    """

    def __init__(
        self,
        views: tuple[ClusterView, ...],
        all_views: tuple[ClusterView, ...],
        options: Mapping[str, Any],
        probes: Any = None,
    ) -> None:
        self.views = views
        self.clusters = all_views
        self.options = options
        self.probes = probes

    @property
    def cluster(self) -> ClusterView:
        """The view of a cluster-scope target."""
        return self.views[0]

    @property
    def a(self) -> ClusterView:
        """First cluster of a pair (the source for ordered pairs)."""
        return self.views[0]

    @property
    def b(self) -> ClusterView:
        """Second cluster of a pair (the destination for ordered pairs)."""
        return self.views[1]

    def peers(self, view: ClusterView) -> tuple[ClusterView, ...]:
        """Every other cluster of the run."""
        return tuple(v for v in self.clusters if v is not view)

    def option(self, name: str, default: Any = None) -> Any:
        """A run option (``--max-rtt`` is ``max_rtt``), or ``default``."""
        value = self.options.get(name)
        return default if value is None else value


class Check:
    """Base class of every check. Subclasses set the metadata and implement :meth:`run`.

    The class docstring is the check's one-line description (``mcdiag list``).
    """

    #: Short kebab-case noun, public and never reused (``cidr-overlap``).
    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    scope: ClassVar[Scope] = Scope.CLUSTER
    tags: ClassVar[frozenset[str]] = frozenset()
    #: The default remediation sentence for a fail/warn; an outcome may give its own.
    hint: ClassVar[str] = ""
    docs: ClassVar[str | None] = None
    #: Docs links per provider (``{"netmaker": URL}``), used instead of ``docs`` for results about such clusters.
    provider_docs: ClassVar[Mapping[str, str]] = MappingProxyType({})
    #: The queries this check reads (its facts' included), as narrow as it can judge with; the run
    #: sends them before the checks start, once per cluster where the check applies.
    reads: ClassVar[tuple[Resource, ...]] = ()
    #: Queries read only when the run finds it needs them (a last resort, a second step, a name known
    #: at run time): never sent ahead, but declared, so ``mcdiag rbac`` grants them. A query the check
    #: asks at run time may be narrower than the one declared here (one namespace or one name of it).
    reads_if_needed: ClassVar[tuple[Resource, ...]] = ()
    #: When set, the check applies only to clusters whose provider is in it.
    providers: ClassVar[frozenset[str] | None] = None
    #: A fatal check gates its cluster: on ``error``/``fail`` every other check there is skipped.
    fatal: ClassVar[bool] = False
    #: Seconds this check may take, unless ``--check-timeout`` says otherwise.
    timeout: ClassVar[float | None] = None
    #: Ids of the checks whose failure would explain this one's (every check also depends on ``api-access``).
    depends: ClassVar[tuple[str, ...]] = ()

    def run(self, ctx: CheckContext) -> Outcome:  # pragma: no cover - abstract
        """Evaluate the target and return an outcome."""
        raise NotImplementedError

    # Helpers so checks read naturally: ``return self.fail("...", hint=...)``.
    def passed(self, message: str, **details: Any) -> Outcome:
        """A pass, with details for the reports."""
        return Outcome(Status.PASS, message, None, details)

    def warn(self, message: str, hint: str | None = None, **details: Any) -> Outcome:
        """A warning: passes the run, but says what to look at."""
        return Outcome(Status.WARN, message, hint or self.hint, details)

    def fail(self, message: str, hint: str | None = None, **details: Any) -> Outcome:
        """A failure with the hint that says what to change."""
        return Outcome(Status.FAIL, message, hint or self.hint, details)

    def skip(self, reason: str, **details: Any) -> Outcome:
        """Not applicable here, with the reason."""
        return Outcome(Status.SKIP, reason, None, details)

    def error(self, reason: str, hint: str | None = None, **details: Any) -> Outcome:
        """The check could not decide."""
        return Outcome(Status.ERROR, reason, hint, details)

    def before_install(self, outcome: Outcome, provider: str) -> Outcome:
        """A failed prerequisite is a warning while the provider is not installed yet (``none``): fix it first."""
        if outcome.status is Status.FAIL and provider == "none":
            return self.warn(outcome.message + " (Submariner is not installed yet)", hint=outcome.hint, **dict(outcome.details))
        return outcome

    @classmethod
    def docs_for(cls, *providers: str | None) -> str | None:
        """The docs link for results about clusters of these providers (the first with its own link wins)."""
        for provider in providers:
            if provider and provider in cls.provider_docs:
                return cls.provider_docs[provider]
        return cls.docs

    @classmethod
    def description(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or cls.title).strip().splitlines()[0]

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """Id, scope, tags, title and description as plain data."""
        return {
            "id": cls.id,
            "title": cls.title,
            "scope": cls.scope.value,
            "tags": sorted(cls.tags, key=_tag_order),
            "description": cls.description(),
            "docs": cls.docs,
            "depends": list(cls.depends),
        }


def _tag_order(tag: str) -> tuple[int, str]:
    return (KNOWN_TAGS.index(tag) if tag in KNOWN_TAGS else len(KNOWN_TAGS), tag)


def sorted_tags(tags: frozenset[str] | set[str]) -> tuple[str, ...]:
    """Tags in their canonical order."""
    return tuple(sorted(tags, key=_tag_order))


def reads(*groups: Iterable[Resource]) -> tuple[Resource, ...]:
    """Concatenate the ``reads`` of facts and checks, each resource once, first occurrence order."""
    out: list[Resource] = []
    for group in groups:
        for res in group:
            if res not in out:
                out.append(res)
    return tuple(out)


class Findings:
    """Problems (fail) and warnings (warn) met by a check, each with its hint; turned into one outcome."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def fail(self, message: str, hint: str) -> None:
        """Record a failure."""
        self.problems.append((message, hint))

    def warn(self, message: str, hint: str) -> None:
        """Record a warning."""
        self.warnings.append((message, hint))

    def outcome(self, check: Check, ok: str, **details: Any) -> Outcome:
        """Fail with every problem, else warn with every warning, else pass with ``ok``."""
        for items, make in ((self.problems, check.fail), (self.warnings, check.warn)):
            if items:
                hints = list(dict.fromkeys(h for _, h in items if h))
                return make("; ".join(m for m, _ in items), hint=" ".join(hints) or None, **details)
        return check.passed(ok, **details)
