r"""Label and field selectors, parsed and matched the way kube-apiserver does.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: comma-joined
requirements, each one of ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)``, ``key notin (a)``, ``key`` (exists), ``!key`` (does not
exist), ``key>1`` / ``key<1`` (integer comparison).  Keys and values are
validated like the real server, so a malformed selector is rejected.

Field selectors follow ``k8s.io/apimachinery/pkg/fields``: comma-joined
``path=value``, ``path==value`` or ``path!=value`` terms, where ``\\``, ``\\,``
and ``\\=`` escape characters in values.  Unlike the real server (which only
accepts a few fields per resource) any dotted path into the object is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "SelectorError",
    "field_value",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A label or field selector could not be parsed."""


_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _validate_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key:
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.match(prefix):
            raise SelectorError(f"invalid label key {key!r}: prefix part must be a DNS-1123 subdomain")
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f"invalid label key {key!r}: name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (at most 63 characters)"
        )


def _validate_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise SelectorError(
            f"invalid label value {value!r}: a valid label must be an empty string or consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(at most 63 characters)"
        )


# ---------------------------------------------------------------------------
# Label selectors

_SPECIAL = set("!=(),<>")


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Split a label selector into (kind, text) tokens; kind is 'id', 'op' or 'kw'."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),":
            tokens.append(("op", c))
            i += 1
        elif c == "!":
            if text.startswith("!=", i):
                tokens.append(("op", "!="))
                i += 2
            else:
                tokens.append(("op", "!"))
                i += 1
        elif c == "=":
            if text.startswith("==", i):
                tokens.append(("op", "=="))
                i += 2
            else:
                tokens.append(("op", "="))
                i += 1
        elif c in "<>":
            tokens.append(("op", c))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            tokens.append(("kw", word) if word in ("in", "notin") else ("id", word))
            i = j
    return tokens


@dataclass(frozen=True)
class Requirement:
    """One requirement of a label selector."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label map satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key)
        op = self.operator
        if op == "exists":
            return present
        if op == "!":
            return not present
        if op in ("=", "in"):
            return present and value in self.values
        if op in ("!=", "notin"):
            return not present or value not in self.values
        if op in ("gt", "lt"):
            if not present:
                return False
            try:
                have = int(str(value))
            except ValueError:
                return False
            want = int(self.values[0])
            return have > want if op == "gt" else have < want
        raise AssertionError(op)  # pragma: no cover

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return "!" + self.key
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether a label map (``metadata.labels``) satisfies every requirement."""
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        """Whether an object's ``metadata.labels`` satisfy the selector."""
        return self.matches((obj.get("metadata") or {}).get("labels") or {})

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a label selector string; raises :class:`SelectorError` when malformed."""
    if text is None or not text.strip():
        return LabelSelector()
    tokens = _tokenize(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str] | None:
        nonlocal pos
        tok = peek()
        pos += 1
        return tok

    def fail(msg: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {msg} (in selector {text!r})")

    requirements: list[Requirement] = []
    while True:
        tok = take()
        negated = False
        if tok == ("op", "!"):
            negated = True
            tok = take()
        if tok is None or tok[0] != "id":
            raise fail(f"found {tok[1] if tok else 'end of string'!r}, expected: identifier")
        key = tok[1]
        _validate_key(key)
        nxt = peek()
        if negated:
            if nxt is not None and nxt != ("op", ","):
                raise fail(f"found {nxt[1]!r}, expected: ',' or end of string after '!{key}'")
            requirements.append(Requirement(key, "!"))
        elif nxt is None or nxt == ("op", ","):
            requirements.append(Requirement(key, "exists"))
        elif nxt[0] == "kw":
            take()
            op = nxt[1]
            if take() != ("op", "("):
                raise fail(f"expected '(' after {op!r}")
            values: list[str] = []
            expect_value = True
            while True:
                t = take()
                if t is None:
                    raise fail("found end of string, expected: ')'")
                if t == ("op", ")"):
                    if expect_value and values:
                        values.append("")
                    break
                if t == ("op", ","):
                    if expect_value:
                        values.append("")
                    expect_value = True
                    continue
                if t[0] not in ("id", "kw") or not expect_value:
                    raise fail(f"found {t[1]!r}, expected: ',' or ')'")
                values.append(t[1])
                expect_value = False
            for v in values:
                _validate_value(v)
            if not values:
                raise fail(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
            requirements.append(Requirement(key, op, tuple(values)))
        elif nxt[0] == "op" and nxt[1] in ("=", "==", "!=", "<", ">"):
            take()
            sym = nxt[1]
            t = peek()
            if t is None or t == ("op", ","):
                value = ""
            elif t[0] in ("id", "kw"):
                take()
                value = t[1]
            else:
                raise fail(f"found {t[1]!r}, expected: identifier")
            if sym in ("<", ">"):
                if not re.fullmatch(r"-?\d+", value):
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer (got {value!r})")
                requirements.append(Requirement(key, "gt" if sym == ">" else "lt", (value,)))
            else:
                _validate_value(value)
                requirements.append(Requirement(key, "!=" if sym == "!=" else "=", (value,)))
        else:
            raise fail(f"found {nxt[1]!r}, expected: in, notin, =, ==, !=, gt, lt")
        tok = take()
        if tok is None:
            break
        if tok != ("op", ","):
            raise fail(f"found {tok[1]!r}, expected: ','")
    return LabelSelector(tuple(requirements))


# ---------------------------------------------------------------------------
# Field selectors


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """Value of a dotted path in an object as the string a field selector compares with."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, (str, int, float)):
        return str(cur)
    return ""


@dataclass(frozen=True)
class FieldTerm:
    """One ``path=value`` or ``path!=value`` term of a field selector."""

    path: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's value at ``path`` satisfies the term."""
        have = field_value(obj, self.path)
        return have == self.value if self.operator == "=" else have != self.value


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector; the empty selector matches everything."""

    terms: tuple[FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object satisfies every term."""
        return all(t.matches(obj) for t in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector value {value!r}: invalid escape sequence")
            out.append(value[i + 1])
            i += 2
            continue
        if c in ",=":
            raise SelectorError(f"invalid field selector value {value!r}: unescaped {c!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse a field selector string; raises :class:`SelectorError` when malformed."""
    if text is None or not text.strip():
        return FieldSelector()
    terms: list[FieldTerm] = []
    for raw in _split_unescaped(text, ","):
        found = None
        for i in range(len(raw)):
            for op in ("!=", "==", "="):
                if raw.startswith(op, i):
                    found = (i, op)
                    break
            if found:
                break
        if not found:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{raw}'")
        i, op = found
        path = raw[:i].strip()
        if not path:
            raise SelectorError(f"invalid selector: '{text}'; field label is empty in '{raw}'")
        terms.append(FieldTerm(path, "!=" if op == "!=" else "=", _unescape(raw[i + len(op) :])))
    return FieldSelector(tuple(terms))
