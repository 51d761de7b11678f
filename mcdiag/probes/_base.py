"""Shared helpers for probes: the result shape and argument validation."""

from __future__ import annotations

import ipaddress
import time
from typing import Any


class ProbeUsageError(ValueError):
    """A probe was called with unusable arguments (not a network failure)."""


def new_result(probe: str, **fields: Any) -> dict[str, Any]:
    """Return a result dict with the mandatory keys first."""
    res: dict[str, Any] = {"probe": probe, "ok": False, "reason": ""}
    res.update(fields)
    return res


def finish(res: dict[str, Any], started: float, ok: bool, reason: str = "") -> dict[str, Any]:
    """Set ok/reason/duration_s on a result and return it."""
    res["ok"] = bool(ok)
    res["reason"] = reason
    res["duration_s"] = round(time.monotonic() - started, 4)
    return res


def check_timeout(timeout: Any, name: str = "timeout") -> float:
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise ProbeUsageError(f"{name} must be a number of seconds, got {timeout!r}") from None
    if not value > 0 or value > 3600:
        raise ProbeUsageError(f"{name} must be > 0 and <= 3600 seconds, got {timeout!r}")
    return value


def check_port(port: Any, name: str = "port") -> int:
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise ProbeUsageError(f"{name} must be an integer 1-65535, got {port!r}") from None
    if isinstance(port, float) and port != value:
        raise ProbeUsageError(f"{name} must be an integer 1-65535, got {port!r}")
    if not 1 <= value <= 65535:
        raise ProbeUsageError(f"{name} must be an integer 1-65535, got {port!r}")
    return value


def check_count(count: Any, name: str = "count", maximum: int = 10000) -> int:
    try:
        value = int(count)
    except (TypeError, ValueError):
        raise ProbeUsageError(f"{name} must be a positive integer, got {count!r}") from None
    if not 1 <= value <= maximum:
        raise ProbeUsageError(f"{name} must be between 1 and {maximum}, got {count!r}")
    return value


def check_ip(ip: Any, name: str = "ip") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    try:
        return ipaddress.ip_address(str(ip).strip("[]"))
    except ValueError:
        raise ProbeUsageError(f"{name} must be an IPv4 or IPv6 address, got {ip!r}") from None


def check_marker(marker: Any) -> bytes:
    if not isinstance(marker, str | bytes) or not marker:
        raise ProbeUsageError("marker must be a non-empty string")
    data = marker.encode() if isinstance(marker, str) else bytes(marker)
    if len(data) > 200:
        raise ProbeUsageError("marker must be at most 200 bytes")
    return data


def errno_reason(exc: BaseException) -> str:
    """Return a short human text for an OSError (or any exception)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
