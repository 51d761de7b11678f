"""Redaction: secrets never leave the view.

Every object read from a cluster passes through :func:`redact` before a check,
a report or a snapshot sees it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

REDACTED = "<redacted>"

_SECRET_KEY = re.compile(
    r"(token|psk|passw(or)?d|secret|private.?key|access.?key|master.?key|credential|client.?key)",
    re.IGNORECASE,
)
_SAFE_KEY = re.compile(r"(secretname|secretref|secretkeyref|tokenexpiration|publickey|public_key)$", re.IGNORECASE)
#: Command-line flags whose value is a secret (``-t TOKEN``, ``--psk=...``).
_SECRET_FLAG = re.compile(r"-t|-k|--?(token|access-?key|key|psk|password|secret|private-?key)", re.IGNORECASE)
_SECRET_IN_SHELL = re.compile(
    r"((?:^|\s)(?:-t|-k|--?(?:token|access-?key|key|psk|password|secret|private-?key))(?:\s+|=))(\S+)", re.IGNORECASE
)
#: Annotations that copy a whole object (with its secrets) into a string.
_DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def redact(obj: Any) -> Any:
    """Return a copy of ``obj`` with every secret value replaced by ``<redacted>``.

    Covers Secret ``data``/``stringData``, keys that name tokens, PSKs, passwords
    and private keys (the Submariner CR's ``brokerK8sApiServerToken`` and
    ``ceIPSecPSK``, Netmaker keys), container ``env`` entries whose *name* says
    secret (``TOKEN``, ``ACCESS_KEY``), and last-applied-configuration copies.
    """
    obj = copy.deepcopy(obj)
    if isinstance(obj, dict) and obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in obj:
                obj[key] = {k: REDACTED for k in (obj[key] or {})}
    _redact_in_place(obj)
    return obj


def _redact_in_place(value: Any) -> None:
    if isinstance(value, dict):
        annotations = (value.get("metadata") or {}).get("annotations") if isinstance(value.get("metadata"), dict) else None
        if isinstance(annotations, dict):
            for name in _DROP_ANNOTATIONS:
                if name in annotations:
                    annotations[name] = REDACTED
        if isinstance(value.get("name"), str) and "value" in value and _SECRET_KEY.search(value["name"]):
            value["value"] = REDACTED  # env var {name: NETMAKER_TOKEN, value: ...}
        for key, item in value.items():
            if isinstance(item, str) and _SECRET_KEY.search(key) and not _SAFE_KEY.search(key):
                value[key] = REDACTED
            else:
                _redact_in_place(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str) and i > 0 and isinstance(value[i - 1], str) and _SECRET_FLAG.fullmatch(value[i - 1]):
                value[i] = REDACTED  # netclient join -t TOKEN, --psk VALUE
            elif isinstance(item, str) and "=" in item and _SECRET_FLAG.fullmatch(item.split("=", 1)[0]):
                value[i] = item.split("=", 1)[0] + "=" + REDACTED
            elif isinstance(item, str) and " " in item:
                value[i] = _SECRET_IN_SHELL.sub(lambda m: m.group(1) + REDACTED, item)  # sh -c "netclient join -t X"
            else:
                _redact_in_place(item)
