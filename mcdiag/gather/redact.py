"""Redaction: one layer every output passes through, so no secret leaves mcdiag.

Two entry points, one rule set:

- :func:`redact_in_place` (and :func:`redact`, its copying form) cleans an API
  object as it arrives in a view: Secret ``data``, fields whose *key* names a
  secret (``brokerK8sApiServerToken``, ``ceIPSecPSK``, an annotation ending in
  ``privkey``), env entries whose *name* does (``BROKER_PASS``), the values of
  ``--token``/``-t``/``--password`` style arguments, and every string that holds
  a secret by its *shape*: URL user-info, ``Bearer``/``Basic`` credentials,
  ``KEY=VALUE`` or ``key: value`` lines with secret-like keys, PEM private keys
  (also base64-encoded), JWTs and base64 JSON tokens (Netmaker access tokens).
  It works in place on objects we parsed (one copy of each object) and looks at
  the strings that can hold secrets only, so it costs less than parsing them.
- :func:`redact_text` applies the shape rules (and the credentials this run
  knows, :func:`remember`) to free text, and :func:`scrub` to any tree of plain
  data or dataclasses: what reports, snapshots, progress lines and log records
  are made of. It also replaces lone surrogates, so no output can fail to encode.

:func:`capture_library_logging` routes the client libraries' own logging through
the same rules (never printed raw).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import enum
import functools
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

REDACTED = "<redacted>"

#: Key (or env/flag) names that say their value is a secret.
_SECRET_KEY = re.compile(
    r"(token|psk|passw(or)?d|passphrase|secret|private.?key|priv.?key|access.?key|master.?key|api.?key"
    r"|auth.?key|credential|client.?key|(^|[^a-z0-9])pass($|[^a-z0-9])|(^|[^a-z0-9])pwd($|[^a-z0-9]))",
    re.IGNORECASE,
)
#: Names that match the pattern above but only name or describe a secret.
_SAFE_KEY = re.compile(
    r"(secretname|secretref|secretkeyref|secretnamespace|tokenexpiration|publickey|public_key|public-key"
    r"|tokenreviews?|secretsstoreclass|automountserviceaccounttoken)$",
    re.IGNORECASE,
)
#: Command-line flags whose value is a secret (``-t TOKEN``, ``--psk=...``).
_FLAG_NAMES = (
    r"-t|-k|--?(?:token|auth-?token|bearer-?token|access-?key|access-?token|api-?key|key|psk|password|passwd|pass"
    r"|secret|client-?secret|private-?key|credentials?|master-?key)"
)
_SECRET_FLAG = re.compile(_FLAG_NAMES, re.IGNORECASE)
#: Annotations that copy a whole object (with its secrets) into a string.
_DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

# -- shapes -----------------------------------------------------------------------------------
#: ``scheme://user:password@host`` (any scheme) and ``http(s)://anything@host``.
_USERINFO = re.compile(
    r"(?i)\b((?:https?|wss?)://)([^/?#\s@\"'<>]+)@|\b([a-z][a-z0-9+.-]*://)([^/?#\s:@\"'<>]+):([^/?#\s@\"'<>]+)@"
)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/-]{8,}=*)")
_BASIC = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/]{8,}={0,2})")
_FLAG_VALUE = re.compile(
    r"((?:^|(?<=[\s\"'\[,(]))(?:" + _FLAG_NAMES + r")(?:[ \t]+|=|[\"']\s*,\s*[\"']))(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',\]);]+)",
    re.IGNORECASE,
)
_KEY_SEP = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?P<q>[\"']?)(?P<sep>[ \t]*[=:][ \t]*)")
_VALUE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;&}\]]+")
#: camelCase names ending in Key (storageAccountKey, sharedKey): a key's value, not a key's name.
_CAMEL_KEY = re.compile(r"[a-z0-9](Key|KEY)$")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|$)")
_PEM_B64 = re.compile(r"LS0tLS1CRUdJT[A-Za-z0-9+/]{8,}={0,2}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_B64_JSON = re.compile(r"\beyJ[A-Za-z0-9+/_-]{12,}={0,2}(?![A-Za-z0-9.])")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Keys whose string values are structural (names, times, ids, IPs, images) and never hold a secret.
_NO_SCAN = frozenset(
    """uid resourceVersion creationTimestamp deletionTimestamp name namespace generateName kind apiVersion
    image imageID containerID podIP hostIP ip phase type status reason lastTransitionTime lastProbeTime
    startedAt finishedAt lastHeartbeatTime lastUpdateTime time manager operation fieldsType mountPath
    protocol podCIDR nodeName serviceAccountName serviceAccount restartPolicy dnsPolicy schedulerName
    terminationMessagePath terminationMessagePolicy imagePullPolicy qosClass priorityClassName hostname
    subdomain clusterIP sessionAffinity externalTrafficPolicy internalTrafficPolicy ipFamilyPolicy fieldPath
    operator effect apiGroup resource topologyKey storage cpu memory ephemeral-storage pods containerPort
    hostPort targetPort port nodePort appProtocol portName readOnly subPath medium claimName fsType
    architecture bootID containerRuntimeVersion kernelVersion kubeProxyVersion kubeletVersion machineID
    operatingSystem osImage systemUUID address startTime conditionType""".split()
)

# Key classes (memoised per key name).
_PLAIN, _SECRET, _SKIP = 0, 1, 2


@functools.lru_cache(maxsize=65536)
def _key_class(key: str) -> int:
    if key in _NO_SCAN:
        return _SKIP
    if key.strip().lower() in ("pass", "pwd", "pass_", "_pass"):  # a count of passes, the working directory
        return _PLAIN
    if _CAMEL_KEY.search(key) and not _SAFE_KEY.search(key):
        return _SECRET
    if _SECRET_KEY.search(key) and not _SAFE_KEY.search(key):
        return _SECRET
    return _PLAIN


def secret_name(name: str) -> bool:
    """Whether a key, env variable or flag name says its value is a secret (``BROKER_PASS``, ``privkey``)."""
    return isinstance(name, str) and _key_class(name) == _SECRET


# -- the credentials of this run ----------------------------------------------------------------
_known: set[str] = set()
_known_re: re.Pattern[str] | None = None
_known_lock = threading.Lock()


def remember(*secrets: str | None) -> None:
    """Remember credentials this run holds (kubeconfig tokens, passwords, keys): never printed, anywhere."""
    global _known_re
    new = {s for s in secrets if isinstance(s, str) and len(s.strip()) >= 6 and s != REDACTED}
    with _known_lock:
        if new - _known:
            _known.update(new)
            ordered = sorted(_known, key=len, reverse=True)
            _known_re = re.compile("|".join(re.escape(s) for s in ordered))


def known_secrets() -> list[str]:
    """The credentials :func:`remember` was told, longest first."""
    with _known_lock:
        return sorted(_known, key=len, reverse=True)


# -- text ---------------------------------------------------------------------------------------
def _b64_json(text: str) -> dict | None:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None)
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def netmaker_token_fields(value: str) -> dict[str, Any] | None:
    """The non-secret fields of a Netmaker access token (base64 JSON), e.g. ``{"network": "dc1"}``; else None.

    Call it on a raw value *before* redaction (redaction replaces the token); the
    key and any other secret field are left out.
    """
    data = _b64_json(value.strip()) if isinstance(value, str) and value.strip().startswith("eyJ") else None
    if data is None:
        return None
    return {k: v for k, v in data.items() if isinstance(v, str | int | bool) and not secret_name(k) and k not in ("key", "value")}


def _pem(match: re.Match[str]) -> str:
    label = match.group(1)
    if "PRIVATE" not in label and ("CERTIFICATE" in label or "PUBLIC KEY" in label):
        return match.group(0)
    return REDACTED


def _pem_b64(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        head = base64.b64decode(text[:64] + "=" * (-len(text[:64]) % 4)).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return text
    if "PRIVATE" in head or ("CERTIFICATE" not in head and "PUBLIC KEY" not in head):
        return REDACTED
    return text


def _b64_token(match: re.Match[str]) -> str:
    return REDACTED if _b64_json(match.group(0)) is not None else match.group(0)


def _userinfo(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)}{REDACTED}@"
    return f"{match.group(3)}{match.group(4)}:{REDACTED}@"


#: Values that are never a secret (``--use-service-account-credentials=true``).
_PLAIN_VALUES = frozenset({"true", "false", "yes", "no", "null", "none", "nil", "''", '""', "[]", "{}", "|", ">",
                           REDACTED, f'"{REDACTED}"'})


def _plain_value(value: str) -> bool:
    return value.strip("\"'").lower() in _PLAIN_VALUES or value.isdigit()


def _key_values(text: str) -> str:
    """``KEY=VALUE`` and ``key: value`` with a secret-like key: the value redacted (a key that is not secret-like
    does not swallow its value, so ``evicted: password=X`` still finds ``password``).
    """
    out: list[str] = []
    pos = 0
    for m in _KEY_SEP.finditer(text):
        if m.start() < pos or not secret_name(m.group("key")):
            continue
        value = _VALUE.match(text, m.end())
        if value is None or _plain_value(value.group(0)) or value.group(0).startswith("//"):  # //: a URL's scheme
            continue
        out += [text[pos:m.end()], REDACTED]
        pos = value.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _flag_value(match: re.Match[str]) -> str:
    flag = match.group(1).strip(" \t=\"',")
    if len(flag) == 2 and len(match.group(2).strip("\"'")) < 8:  # iptables -t nat, curl -k: not a credential
        return match.group(0)
    return _flag_value_always(match)


def _flag_value_always(match: re.Match[str]) -> str:
    if _plain_value(match.group(2)) and not match.group(1).strip().startswith("-t"):
        return match.group(0)
    return match.group(1) + REDACTED


def redact_text(text: str, command: bool = False) -> str:
    """``text`` with every secret-shaped part and every remembered credential replaced by ``<redacted>``.

    ``command``: the text is a command line (an item of ``command``/``args``), where
    ``-t X`` and ``-k X`` always carry a credential (``netclient join -t TOKEN``).
    """
    if not isinstance(text, str) or not text:
        return text
    if _known_re is not None:
        text = _known_re.sub(REDACTED, text)
    if "-----BEGIN" in text:
        text = _PEM.sub(_pem, text)
    if "LS0tLS1CRUdJT" in text:
        text = _PEM_B64.sub(_pem_b64, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
        text = _B64_JSON.sub(_b64_token, text)
    if "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "-" in text:
        text = _FLAG_VALUE.sub(_flag_value_always if command else _flag_value, text)
    low = text.lower()
    if "bearer" in low:
        text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    if "basic" in low:
        text = _BASIC.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    if "=" in text or ":" in text:
        text = _key_values(text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _suspicious(text: str) -> bool:
    """A cheap guess whether ``text`` may hold a secret by its shape (then :func:`redact_text` decides)."""
    return len(text) >= 6 and (
        "@" in text or "eyJ" in text or "-----BEGIN" in text or "LS0tLS1" in text or "=" in text
        or " " in text or ":" in text or "\n" in text
    ) or (_known_re is not None and _known_re.search(text) is not None)


# -- objects ------------------------------------------------------------------------------------
def redact(obj: Any) -> Any:
    """Return a redacted copy of ``obj`` (the original is not modified). See :func:`redact_in_place`."""
    return redact_in_place(copy.deepcopy(obj))


def redact_in_place(obj: Any) -> Any:
    """Redact an API object (or list of them) we own, in place; returns it.

    Covers Secret ``data``/``stringData``, fields and annotations whose key names a
    secret, env entries whose name does, secret flag values in commands and args,
    ConfigMap lines, last-applied-configuration copies, and secret-shaped values anywhere.
    """
    if isinstance(obj, dict):
        kind = obj.get("kind")
        if kind == "Secret":
            for key in ("data", "stringData"):
                if key in obj:
                    obj[key] = {k: REDACTED for k in (obj[key] or {})} if isinstance(obj[key], dict) else REDACTED
        elif kind == "Pod" and _pod_shaped(obj):
            _redact_pod(obj)  # the biggest lists: only the fields of a pod that can hold a secret
            return obj
        elif kind == "ConfigMap" and isinstance(obj.get("data"), dict):
            data = obj["data"]
            for key, value in data.items():
                if isinstance(value, str):
                    data[key] = REDACTED if secret_name(key) else redact_text(value)
        _walk_dict(obj)
    elif isinstance(obj, list):
        _walk_list(obj)
    return obj


#: Subtrees that name, count and select but never hold a value that could be a secret: not walked.
_SKIP_TREES = frozenset(
    """managedFields ownerReferences podIPs hostIPs volumeMounts resources tolerations nodeSelector affinity
    topologySpreadConstraints readinessGates finalizers matchLabels matchExpressions fieldsV1 allocatedResources
    capacity allocatable images volumesInUse volumesAttached daemonEndpoints nodeInfo ports""".split()
)
# What to do with a key's value, memoised per key name (the same few hundred names recur in every object).
_A_PLAIN, _A_SECRET, _A_NOSCAN, _A_SKIP, _A_ANNOTATIONS, _A_LABELS = range(6)
_ACTIONS: dict[str, int] = {}


def _action(key: Any) -> int:
    if not isinstance(key, str):
        return _A_PLAIN
    if key in _SKIP_TREES:
        action = _A_SKIP
    elif key == "annotations":
        action = _A_ANNOTATIONS
    elif key == "labels":
        action = _A_LABELS
    else:
        action = {_PLAIN: _A_PLAIN, _SECRET: _A_SECRET, _SKIP: _A_NOSCAN}[_key_class(key)]
    _ACTIONS[key] = action
    return action


def _walk_dict(d: dict) -> None:
    if "value" in d and type(d["value"]) is str and type(d.get("name")) is str:  # env {name: X, value: ...}
        if secret_name(d["name"]):
            d["value"] = REDACTED
        elif _suspicious(d["value"]):
            d["value"] = redact_text(d["value"])
    actions = _ACTIONS
    for key, item in d.items():
        action = actions.get(key)
        if action is None:
            action = _action(key)
        if action == _A_SKIP:
            continue
        t = type(item)
        if t is str:
            if action == _A_SECRET:
                d[key] = REDACTED
            elif action == _A_PLAIN and _suspicious(item):
                d[key] = redact_text(item)
        elif t is dict:
            if not item:
                continue
            if action == _A_ANNOTATIONS:
                _annotations(item)
            elif action == _A_LABELS:
                for name, value in item.items():  # label values cannot hold a shape; a secret-named label can
                    if type(value) is str and secret_name(name):
                        item[name] = REDACTED
            else:
                _walk_dict(item)
        elif t is list:
            if not item:
                continue
            if action == _A_SECRET:
                d[key] = [REDACTED if type(v) is str else v for v in item]
            _walk_list(d[key])


#: A container's fields that can hold a secret (the rest name images, ports, mounts and resources).
_CONTAINER_FIELDS = ("env", "args", "command", "lifecycle", "workingDir")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
#: Volume sources with free-form values (the others name Secrets, paths and servers).
_VOLUME_FREE_FORM = ("flexVolume", "csi")
_STATE_MESSAGES = ("waiting", "running", "terminated")


def _walk_field(parent: dict, field: str) -> None:
    """Redact ``parent[field]`` as a field of that name (its key decides, as anywhere)."""
    holder = {field: parent[field]}
    _walk_dict(holder)
    parent[field] = holder[field]


def _pod_shaped(obj: dict) -> bool:
    return all(type(obj.get(k, {})) is dict for k in ("metadata", "spec", "status"))


def _redact_pod(pod: dict) -> None:
    """A pod: annotations, secret-named labels, containers' env/args/command/probes/lifecycle, volumes, and the
    status messages (conditions, container states). Everything else in a pod names, counts or places.
    """
    meta = pod.get("metadata") or {}
    if type(meta.get("annotations")) is dict:
        _annotations(meta["annotations"])
    labels = meta.get("labels")
    if type(labels) is dict:
        for name, value in labels.items():
            if type(value) is str and secret_name(name):
                labels[name] = REDACTED
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or ():
            if type(container) is not dict:
                continue
            for field in _CONTAINER_FIELDS:
                if container.get(field):
                    _walk_field(container, field)
            for field in _PROBES:  # an exec command, or an Authorization header
                probe = container.get(field)
                if type(probe) is dict and (probe.get("exec") or (probe.get("httpGet") or {}).get("httpHeaders")):
                    _walk_field(container, field)
    for volume in spec.get("volumes") or ():
        if type(volume) is dict:
            for source in _VOLUME_FREE_FORM:
                if volume.get(source):
                    _walk_field(volume, source)
    status = pod.get("status") or {}
    for key in ("message", "reason", "nominatedNodeName"):
        if type(status.get(key)) is str and _suspicious(status[key]):
            status[key] = redact_text(status[key])
    for condition in status.get("conditions") or ():
        if type(condition) is dict and type(condition.get("message")) is str and _suspicious(condition["message"]):
            condition["message"] = redact_text(condition["message"])
    for group in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(group) or ():
            if type(cs) is not dict:
                continue
            for which in ("state", "lastState"):
                state = cs.get(which)
                if type(state) is not dict:
                    continue
                for phase in _STATE_MESSAGES:
                    detail = state.get(phase)
                    if type(detail) is dict and type(detail.get("message")) is str and _suspicious(detail["message"]):
                        detail["message"] = redact_text(detail["message"])


def _annotations(annotations: dict) -> None:
    for key, value in annotations.items():
        if not isinstance(value, str):
            continue
        if key in _DROP_ANNOTATIONS or secret_name(key):
            annotations[key] = REDACTED
        elif _suspicious(value):
            annotations[key] = redact_text(value)


def _walk_list(items: list) -> None:
    previous: Any = None
    for i, item in enumerate(items):
        t = type(item)
        if t is str:
            if type(previous) is str and _SECRET_FLAG.fullmatch(previous):
                items[i] = REDACTED  # netclient join -t TOKEN, --psk VALUE
            elif "=" in item and item.startswith("-") and _SECRET_FLAG.fullmatch(item.split("=", 1)[0]):
                items[i] = item.split("=", 1)[0] + "=" + REDACTED
            elif _suspicious(item):
                items[i] = redact_text(item, command=True)  # sh -c "netclient join -t X", --broker-url=https://u:p@h
        elif t is dict:
            _walk_dict(item)
        elif t is list:
            _walk_list(item)
        previous = item


# -- any output ----------------------------------------------------------------------------------
def scrub(value: Any) -> Any:
    """A copy of ``value`` (plain data, mappings, dataclasses) with :func:`redact_text` applied to every string."""
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, MappingProxyType):
        return MappingProxyType({k: scrub(v) for k, v in value.items()})
    if isinstance(value, Mapping):
        return {(redact_text(k) if isinstance(k, str) else k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    if isinstance(value, set | frozenset):
        return type(value)(scrub(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: scrub(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


# -- the libraries' logging ------------------------------------------------------------------------
class RedactingHandler(logging.Handler):
    """Writes library log records to a stream, redacted, one line each, each distinct line once."""

    def __init__(self, stream: Any = None, level: int = logging.WARNING):
        super().__init__(level)
        self.stream = stream
        self.records: list[str] = []
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record must not raise
            text = str(record.msg)
        line = " ".join(redact_text(text).split())[:500]
        if line in self._seen:
            return
        self._seen.add(line)
        self.records.append(line)
        stream = self.stream or sys.stderr
        try:
            print(f"mcdiag: {record.name}: {line}", file=stream)
        except Exception:
            pass


_handler: RedactingHandler | None = None


def capture_library_logging(stream: Any = None) -> RedactingHandler:
    """Route every logger (and ``warnings``) through one :class:`RedactingHandler` on the root logger.

    The root logger then has a handler, so ``logging.error()`` in a library
    never falls back to printing the raw message. Idempotent.
    """
    global _handler
    root = logging.getLogger()
    if _handler is None:
        _handler = RedactingHandler(stream)
    elif stream is not None:
        _handler.stream = stream
    if _handler not in root.handlers:
        root.addHandler(_handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return _handler


def secrets_in(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Which of ``secrets`` appear in any of ``texts`` (a test and safety-net helper)."""
    texts = list(texts)
    return [s for s in secrets if s and any(s in t for t in texts)]
