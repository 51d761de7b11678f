"""Rows of the ``Table`` form of a list: what ``kubectl get`` prints, a few hundred bytes per object.

kube-apiserver answers a list in the ``Table`` form (kind ``Table`` of ``meta.k8s.io/v1``)
when asked with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``: column
definitions, then one row of cells per object, paged by ``metadata.continue`` like any
list. With ``includeObject=None`` a row carries its cells only. mcdiag keeps each row as a
*row record*::

    {"apiVersion": "meta.k8s.io/v1", "kind": "TableRow",
     "metadata": {"name": "submariner-routeagent-x7k2q", "namespace": "submariner-operator"},
     "cells": {"Name": "...", "Ready": "1/1", "Status": "Running", "Restarts": "0", "Node": "node3", ...}}

A table query served from whole objects (a broader query the view already holds, an
in-memory store, a snapshot, a server that does not serve tables) prints the rows here,
following kubectl's printer (``printPod`` of ``pkg/printers/internalversion``): READY
ready/total containers, STATUS the reason kubectl shows (``CrashLoopBackOff``,
``Evicted``, ``Terminating``, ``Init:0/1``, ``Completed``...), RESTARTS with the time since
the last one (``6 (5m ago)``), and NODE.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

#: The ``Accept`` header of a table list, as kubectl sends it (v1, then v1beta1, then whole objects).
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                "application/json")
#: apiVersion and kind of a row record.
ROW_API_VERSION = "meta.k8s.io/v1"
ROW_KIND = "TableRow"

#: kubectl's pod columns, in its order.
POD_COLUMNS = ("Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates")
#: The columns of a kind without a printer (kube-apiserver's default table).
DEFAULT_COLUMNS = ("Name", "Created At")


def is_row(obj: Any) -> bool:
    """Whether ``obj`` is a row record (not a whole object)."""
    return isinstance(obj, dict) and obj.get("kind") == ROW_KIND and isinstance(obj.get("cells"), dict)


def row_record(name: str, namespace: str | None, cells: dict[str, Any]) -> dict[str, Any]:
    """A row record of an object called ``name`` in ``namespace``."""
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": ROW_API_VERSION, "kind": ROW_KIND, "metadata": meta, "cells": cells}


# ---------------------------------------------------------------------------------------------
# Printing rows from whole objects
# ---------------------------------------------------------------------------------------------
def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp of the API (``2025-05-15T08:10:02Z``), or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # nanoseconds: Python keeps microseconds
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """A duration as kubectl prints ages (apimachinery's ``HumanDuration``): ``45s``, ``5m10s``, ``3h``, ``4d2h``."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        return f"{minutes}m{secs % 60}s" if secs % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """How long ago ``value`` (a timestamp) was, as kubectl prints it; ``<unknown>`` without one."""
    stamp = parse_time(value)
    return "<unknown>" if stamp is None else human_duration((now - stamp).total_seconds())


def _restartable(container: dict[str, Any] | None) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _terminated_at(status: dict[str, Any]) -> datetime | None:
    return parse_time((((status.get("lastState") or {}).get("terminated")) or {}).get("finishedAt"))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def pod_cells(pod: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Kubectl's columns of a pod (:data:`POD_COLUMNS`), by name."""
    now = now or datetime.now(UTC)
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or [] if isinstance(c, dict)}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None

    initializing = False
    init_statuses = [c for c in status.get("initContainerStatuses") or [] if isinstance(c, dict)]
    for i, c in enumerate(init_statuses):
        count = int(c.get("restartCount") or 0)
        restarts += count
        last = _later(last, _terminated_at(c))
        sidecar = _restartable(init_specs.get(c.get("name")))
        if sidecar:
            sidecar_restarts += count
            sidecar_last = _later(sidecar_last, _terminated_at(c))
        state = c.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and c.get("started"):
            ready += 1 if c.get("ready") else 0
            continue
        if terminated:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode') or 0}"
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs) or len(init_statuses)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for c in reversed([c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]):
            restarts += int(c.get("restartCount") or 0)
            last = _later(last, _terminated_at(c))
            state = c.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated:
                reason = f"Signal:{terminated['signal']}" if terminated.get("signal") else f"ExitCode:{terminated.get('exitCode') or 0}"
            elif c.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else None) or "<none>"
    gates = "<none>"
    if spec.get("readinessGates"):
        by_type = {}
        for c in conditions:
            by_type.setdefault(c.get("type"), c)
        wanted = [g.get("conditionType") for g in spec["readinessGates"] if isinstance(g, dict)]
        true = sum(1 for t in wanted if (by_type.get(t) or {}).get("status") == "True")
        gates = f"{true}/{len(wanted)}"
    return {
        "Name": meta.get("name") or "",
        "Ready": f"{ready}/{total}",
        "Status": reason,
        "Restarts": restarts_text,
        "Age": since(meta.get("creationTimestamp"), now),
        "IP": ip,
        "Node": spec.get("nodeName") or "<none>",
        "Nominated Node": status.get("nominatedNodeName") or "<none>",
        "Readiness Gates": gates,
    }


def row_of(obj: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The row record of a whole object (a pod by kubectl's printer, any other kind by name and creation time)."""
    if is_row(obj):
        return obj
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Pod":
        cells = pod_cells(obj, now)
    else:
        cells = {"Name": meta.get("name") or "", "Created At": meta.get("creationTimestamp") or ""}
    return row_record(str(meta.get("name") or ""), meta.get("namespace"), cells)


# ---------------------------------------------------------------------------------------------
# Reading a Table answer
# ---------------------------------------------------------------------------------------------
class NotATable(ValueError):
    """A ``Table`` answer of the wrong shape (named: which field, what it is)."""


def table_rows(page: dict[str, Any], namespace: str | None) -> list[dict[str, Any]]:
    """The row records of one ``Table`` page (``namespace``: the query's, for rows without an object).

    The name comes from the column of format ``name`` (or the object's metadata when the
    server included it); raises :class:`NotATable` on a malformed answer.
    """
    columns = page.get("columnDefinitions")
    if not isinstance(columns, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns):
        raise NotATable("columnDefinitions is not a list of named columns")
    names = [c["name"] for c in columns]
    name_at = next((i for i, c in enumerate(columns) if c.get("format") == "name"), names.index("Name") if "Name" in names else None)
    rows = page.get("rows")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise NotATable("rows is not a list")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("cells"), list):
            raise NotATable(f"rows[{i}] has no list of cells")
        cells = dict(zip(names, row["cells"], strict=False))
        obj = row.get("object")
        meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else None
        if name is None and name_at is not None and name_at < len(row["cells"]):
            name = str(row["cells"][name_at])
        if not name:
            raise NotATable(f"rows[{i}] names no object (no name column, no object)")
        ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else namespace
        record = row_record(name, ns, cells)
        if meta.get("labels") and isinstance(meta["labels"], dict):
            record["metadata"]["labels"] = meta["labels"]
        out.append(record)
    return out
