"""One resolver for built-in checks (:mod:`mcdiag.checks`) and third-party ones.

Third-party packages register check classes (or modules holding them) under the
``mcdiag.checks`` entry-point group. Listing and running use this one function,
so what ``mcdiag list`` shows is exactly what ``mcdiag all`` runs. A plugin that
fails to import is reported and left out; a built-in wins an id clash.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType

from mcdiag.model import KNOWN_TAGS, Check

ENTRY_POINT_GROUP = "mcdiag.checks"
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass
class Registry:
    """The resolved checks, in a deterministic order, plus the plugin problems met on the way."""

    checks: list[type[Check]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ids(self) -> list[str]:
        """Every check id."""
        return [c.id for c in self.checks]

    def get(self, check_id: str) -> type[Check] | None:
        """The check with ``check_id``."""
        for check in self.checks:
            if check.id == check_id:
                return check
        return None


def _classes_in(module: ModuleType) -> list[type[Check]]:
    found = []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Check) and obj is not Check and obj.__module__ == module.__name__ and obj.id:
            found.append(obj)
    return sorted(found, key=lambda c: c.id)


def _validate(check: type[Check]) -> str | None:
    if not _ID.match(check.id):
        return f"check {check.__module__}.{check.__name__}: id {check.id!r} is not kebab-case"
    unknown = set(check.tags) - set(KNOWN_TAGS)
    if unknown:
        return f"check {check.id}: unknown tags {sorted(unknown)}"
    return None


def builtin_modules() -> list[ModuleType]:
    """Import every module of :mod:`mcdiag.checks` (sorted, so collection is deterministic)."""
    from mcdiag import checks

    modules = []
    for info in sorted(pkgutil.iter_modules(checks.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modules.append(importlib.import_module(f"mcdiag.checks.{info.name}"))
    return modules


def resolve(include_plugins: bool = True) -> Registry:
    """Built-in checks first (catalogue order), then entry-point checks; problems are collected, not raised."""
    reg = Registry()
    seen: dict[str, str] = {}

    def add(check: type[Check], origin: str) -> None:
        problem = _validate(check)
        if problem:
            reg.problems.append(problem)
            return
        if check.id in seen:
            reg.problems.append(f"check id {check.id!r} from {origin} clashes with {seen[check.id]}; ignored")
            return
        seen[check.id] = origin
        reg.checks.append(check)

    builtins: list[type[Check]] = []
    for module in builtin_modules():
        builtins.extend(_classes_in(module))
    for check in sorted(builtins, key=catalogue_order):
        add(check, "built-in")

    if include_plugins:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            origin = f"plugin {ep.name} ({ep.value})"
            try:
                target = ep.load()
            except Exception as exc:  # a broken plugin is reported, never fatal
                reg.problems.append(f"{origin} failed to load: {exc.__class__.__name__}: {exc}")
                continue
            if inspect.ismodule(target):
                classes = _classes_in(target)
            elif inspect.isclass(target) and issubclass(target, Check):
                classes = [target]
            else:
                reg.problems.append(f"{origin} is neither a Check subclass nor a module of them")
                continue
            for check in classes:
                add(check, origin)
    return reg


#: The order of a run's stages: the gate, then what is safe before installing, then the rest.
_STAGES = ("fatal", "preflight", "passive", "active")
_SCOPES = ("cluster", "pair", "ordered-pair")


def catalogue_order(check: type[Check]) -> tuple[int, int, str, int]:
    """Where a check stands in the catalogue, from its own metadata.

    Stage first (the gate, preflight, other passive checks, active checks), then scope
    (cluster, pair, ordered pair), then its family (module) and its place in it.
    """
    if check.fatal:
        stage = 0
    else:
        stage = next((i for i, tag in enumerate(_STAGES) if tag in check.tags), len(_STAGES))
    return (stage, _SCOPES.index(check.scope.value), check.__module__, _line_of(check))


def _line_of(check: type[Check]) -> int:
    """The line a check class is defined at, or near enough to order it in its module.

    The first line of its own methods orders classes as their own lines do, without
    parsing the module's source (``inspect.getsourcelines`` costs a compile per module).
    """
    lines = [f.__code__.co_firstlineno for f in vars(check).values() if inspect.isfunction(f)]
    if lines:
        return min(lines)
    try:
        return inspect.getsourcelines(check)[1]
    except (OSError, TypeError):
        return 0
