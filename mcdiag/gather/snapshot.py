"""Offline snapshots: ``mcdiag gather`` saves what the passive checks read; ``--from-snapshot`` replays it.

A snapshot directory holds ``manifest.json`` (cluster names, contexts, servers,
mcdiag version, time) and one directory per cluster::

    DIR/manifest.json
    DIR/<cluster>/cluster.json            # /version, API discovery, index of the lists
    DIR/<cluster>/lists/<key>.json        # one list (items, or the error it gave)

Exactly what the view read is saved (``ClusterView.recorded()``): objects are
already redacted by the view, the kubeconfig is never saved, and every file is
scrubbed of and then checked for the credentials the kubeconfig carried. A
:class:`SnapshotSource` serves the saved data through the interface of
:class:`~mcdiag.gather.api.LiveSource`; a list that is not in the snapshot is an
error ("not in the snapshot"), never an empty list, so a check cannot pass on
data it never saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcdiag import __version__
from mcdiag.errors import ResourceUnavailable, UsageError
from mcdiag.gather.kubeconfig import ClusterSpec
from mcdiag.gather.redact import REDACTED, known_secrets, scrub
from mcdiag.gather.resources import Resource, from_key
from mcdiag.gather.view import ClusterView

#: Version of the directory layout; a reader refuses newer ones.
FORMAT = 1
MANIFEST = "manifest.json"
CLUSTER_FILE = "cluster.json"
LISTS_DIR = "lists"


# ---------------------------------------------------------------------------------------------
# Reading a snapshot
# ---------------------------------------------------------------------------------------------
def _unavailable(recorded: dict[str, Any], what: str) -> ResourceUnavailable:
    err = recorded.get("error") or {}
    return ResourceUnavailable(
        str(err.get("kind") or "error"),
        str(err.get("message") or f"{what}: recorded as failed"),
        status=err.get("status"),
        hint=err.get("hint"),
    )


class SnapshotSource:
    """Serves one cluster of a snapshot with :class:`~mcdiag.gather.api.LiveSource`'s interface."""

    live = False

    def __init__(self, directory: Path, name: str):
        self.directory = directory
        self.name = name
        self.server = ""
        data = _read_json(directory / CLUSTER_FILE, f"snapshot of cluster {name}")
        if not isinstance(data, dict) or not isinstance(data.get("lists", {}), dict):
            raise UsageError(f"snapshot of cluster {name}: {directory / CLUSTER_FILE} is not an mcdiag cluster file")
        self._data = data
        self._lists: dict[str, str] = data.get("lists") or {}

    def _missing(self, what: str) -> ResourceUnavailable:
        return ResourceUnavailable(
            "error",
            f"not in the snapshot: {what} (it was not read when the snapshot of {self.name} was gathered; "
            "gather again with this mcdiag version)",
        )

    def version(self) -> dict[str, Any]:
        """Return the recorded ``/version``."""
        value = self._data.get("version")
        if value is None:
            raise self._missing("/version")
        if isinstance(value, dict) and set(value) == {"error"}:
            raise _unavailable(value, "GET /version")
        return value

    def served_group_versions(self) -> set[str]:
        """Return the recorded API discovery."""
        value = self._data.get("discovery")
        if value is None:
            raise self._missing("API discovery")
        if isinstance(value, dict):
            raise _unavailable(value, "API discovery")
        return set(value)

    def list(self, res: Resource) -> list[dict[str, Any]]:
        """Return the recorded list of ``res``, or its share of a recorded query that covers it (the narrowest)."""
        if res.key in self._lists:
            recorded = self._load(res.key)
            if "items" not in recorded:
                raise _unavailable(recorded, f"list {res.display}")
            return recorded["items"]
        for wide in self._covering(res):
            recorded = self._load(wide.key)
            if "items" in recorded:
                return res.cut(recorded["items"])
        raise self._missing(f"list {res.display}")

    def _covering(self, res: Resource) -> list[Resource]:
        """Recorded queries that cover ``res``, the most selective first."""
        found = []
        for key in self._lists:
            try:
                query = from_key(key)
            except ValueError:
                continue
            if query.covers(res):
                found.append(query)
        return sorted(found, key=lambda q: (q.namespace is None, -len(q.labels) - len(q.fields), q.metadata_only, q.key))

    def _load(self, key: str) -> dict[str, Any]:
        path = (self.directory / self._lists[key]).resolve()
        if not path.is_relative_to(self.directory.resolve()):
            raise ResourceUnavailable("error", f"snapshot of {self.name}: list file for {key} lies outside the snapshot")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResourceUnavailable("error", f"snapshot of {self.name}: cannot read {path.name} ({exc.__class__.__name__})") from None
        if not isinstance(data, dict) or not ("items" in data or "error" in data):
            raise ResourceUnavailable("error", f"snapshot of {self.name}: {path.name} is not an mcdiag list file")
        return data


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what}: {path} not found (is it a directory written by `mcdiag gather`?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what}: cannot read {path} ({exc.__class__.__name__})") from None
    except ValueError:
        raise UsageError(f"{what}: {path} is not valid JSON") from None


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read the manifest of a snapshot directory (UsageError when it is not one)."""
    if not directory.is_dir():
        raise UsageError(f"--from-snapshot {directory}: not a directory")
    manifest = _read_json(directory / MANIFEST, "snapshot")
    if not isinstance(manifest, dict) or manifest.get("tool") != "mcdiag" or not isinstance(manifest.get("clusters"), list):
        raise UsageError(f"snapshot: {directory / MANIFEST} is not an mcdiag snapshot manifest")
    if int(manifest.get("format") or 0) > FORMAT:
        raise UsageError(
            f"snapshot {directory} has format {manifest.get('format')}, newer than this mcdiag ({__version__}) reads; upgrade mcdiag"
        )
    if not manifest["clusters"]:
        raise UsageError(f"snapshot {directory} holds no cluster")
    return manifest


def load_snapshot_views(directory: Path, options: Any) -> list[ClusterView]:
    """Make views of every cluster in the snapshot at ``directory``, named as the manifest says (explicit names).

    ``options.provider`` (``--provider``) overrides detection as in a live run; without it,
    an override given to ``mcdiag gather`` is kept.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    views = []
    for entry in manifest["clusters"]:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("dir"):
            raise UsageError(f"snapshot: {directory / MANIFEST} has a malformed cluster entry")
        cdir = (directory / str(entry["dir"])).resolve()
        if not cdir.is_relative_to(directory.resolve()) or not cdir.is_dir():
            raise UsageError(f"snapshot: cluster directory {entry['dir']!r} of {entry['name']} is missing")
        source = SnapshotSource(cdir, str(entry["name"]))
        source.server = str(entry.get("server") or "")
        context = entry.get("context") or ""
        spec = ClusterSpec(
            kubeconfig=None, context=context or None, name=str(entry["name"]), explicit_name=True,
            server=source.server, resolved_context=context,
        )
        spec.extra["snapshot"] = str(cdir)
        provider = getattr(options, "provider", None) or entry.get("provider_override")
        views.append(ClusterView(spec, source, provider_override=provider))
    return views


# ---------------------------------------------------------------------------------------------
# Writing a snapshot
# ---------------------------------------------------------------------------------------------
def credentials_of(source: Any) -> list[str]:
    """Secrets a live source's kubeconfig carried: bearer token, password, client key (PEM body lines).

    Everything :func:`~mcdiag.gather.redact.remember` was told while loading kubeconfigs, plus what
    the source's Configuration holds.
    """
    found: list[str] = list(known_secrets())
    cfg = getattr(source, "configuration", None)
    if cfg is not None:
        for value in (getattr(cfg, "api_key", None) or {}).values():
            value = str(value or "")
            found.append(value.split(" ", 1)[1] if value.lower().startswith(("bearer ", "basic ")) else value)
        found.append(str(getattr(cfg, "password", "") or ""))
        key_file = getattr(cfg, "key_file", None)
        if key_file:
            try:
                text = Path(key_file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            found.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----"))
    for value in (getattr(source, "headers", None) or {}).values():
        found.append(str(value).split(" ", 1)[-1])
    return sorted({s for s in found if len(s) >= 8}, key=len, reverse=True)


def _safe_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "cluster"
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    taken.add(out)
    return out


def _list_file(key: str) -> str:
    """The file of one query: its key made safe for a file name, plus a short hash of the key itself.

    Selector characters (``=``, ``,``, spaces, ``!``) all become ``_``, so two queries could
    otherwise share a name (``l=a=b`` and ``l=a!=b``); the hash keeps them apart.
    """
    digest = hashlib.blake2b(key.encode(), digest_size=4).hexdigest()
    return f"{LISTS_DIR}/{re.sub(r'[^A-Za-z0-9.@-]', '_', key)[:150]}-{digest}.json"


class _Writer:
    """Writes JSON files under the snapshot directory, scrubbing credentials; remembers every file."""

    def __init__(self, root: Path, secrets: Iterable[str]):
        self.root = root
        self.secrets = list(secrets)
        self.written: list[Path] = []
        self.scrubbed = 0

    def write(self, relative: str, data: Any, *, objects: bool = False) -> None:
        """Write ``data`` as JSON. Everything but objects (already redacted by the view) is scrubbed first.

        ASCII JSON: a lone surrogate in an object stays an escape, never an unwritable file.
        """
        if not objects:
            data = scrub(data)
        text = json.dumps(data, indent=1, sort_keys=False, ensure_ascii=True, default=str)
        for secret in self.secrets:
            if secret in text:
                self.scrubbed += text.count(secret)
                text = text.replace(secret, REDACTED)
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(text + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        self.written.append(path)

    def leaks(self) -> list[Path]:
        """Files that still hold a credential (must be none)."""
        bad = []
        for path in self.written:
            text = path.read_text(encoding="utf-8")
            text += json.dumps(json.loads(text), ensure_ascii=False)  # secrets that ASCII escapes would hide
            if any(s in text for s in self.secrets):
                bad.append(path)
        return bad


def save_snapshot(
    directory: Path,
    views: Sequence[ClusterView],
    *,
    checks: Sequence[str] = (),
    notes: Sequence[str] = (),
    extra_secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Write every view's recorded reads under ``directory``; return the manifest.

    Raises ``RuntimeError`` (after removing what it wrote) if a credential survived the scrubbing.
    """
    secrets = set(extra_secrets)
    for view in views:
        secrets.update(credentials_of(view.source))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    writer = _Writer(directory, sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True))
    taken: set[str] = {MANIFEST}
    entries = []
    for view in views:
        rec = view.recorded()
        folder = _safe_name(view.name, taken)
        index: dict[str, str] = {}
        for key, recorded in rec["lists"].items():
            index[key] = _list_file(key)
            if "error" in recorded:
                writer.write(f"{folder}/{index[key]}", {"key": key, **recorded})
            else:
                writer.write(f"{folder}/{index[key]}", {"key": key, **recorded}, objects=True)
        cluster_doc: dict[str, Any] = {"name": view.name, "lists": index}
        for part in ("version", "discovery"):
            if part in rec:
                cluster_doc[part] = rec[part]
        writer.write(f"{folder}/{CLUSTER_FILE}", cluster_doc)
        entries.append(
            {
                "name": view.name,
                "dir": folder,
                "context": view.spec.resolved_context or view.spec.context,
                "server": view.spec.server,
                "provider_override": view.provider_override,
                "unreachable": view.unreachable,
                "lists": len(index),
                "objects": sum(len(r.get("items") or []) for r in rec["lists"].values()),
            }
        )
    manifest = {
        "tool": "mcdiag",
        "format": FORMAT,
        "version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "clusters": entries,
        "checks": list(checks),
        "notes": list(notes),
    }
    writer.write(MANIFEST, manifest)
    leaked = writer.leaks()
    if leaked:
        for path in writer.written:
            path.unlink(missing_ok=True)
        raise RuntimeError(f"a credential survived scrubbing in {', '.join(p.name for p in leaked)}; snapshot removed")
    manifest["_scrubbed"] = writer.scrubbed
    return manifest
