"""WireGuard status probe: parses ``wg show <iface|all> dump`` (wireguard-tools).

Private and preshared keys are never copied into the result.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from ._base import ProbeUsageError, check_timeout, finish, new_result

DEFAULT_MAX_AGE = 180.0  # WireGuard re-handshakes every 2 min while traffic flows


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def parse_wg_dump(text: str, iface: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """Parse ``wg show IFACE dump`` (``iface`` given) or ``wg show all dump`` output.

    Returns interfaces, each with its peers. With ``all`` every line starts
    with the interface name; interface lines then have 5 fields and peer lines
    9, otherwise 4 and 8.
    """
    now = time.time() if now is None else now
    interfaces: dict[str, dict[str, Any]] = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if iface is not None:
            fields = [iface, *fields]
        name = fields[0]
        if len(fields) == 5:
            interfaces[name] = {
                "name": name,
                "public_key": None if fields[2] == "(none)" else fields[2],
                "listen_port": _int(fields[3]),
                "fwmark": None if fields[4] == "off" else fields[4],
                "peers": [],
            }
        elif len(fields) == 9:
            entry = interfaces.setdefault(name, {"name": name, "public_key": None, "listen_port": None,
                                                 "fwmark": None, "peers": []})
            handshake = _int(fields[5]) or 0
            keepalive = fields[8]
            entry["peers"].append({
                "interface": name,
                "public_key": fields[1],
                "preshared_key": fields[2] not in ("(none)", ""),
                "endpoint": None if fields[3] == "(none)" else fields[3],
                "allowed_ips": [] if fields[4] in ("(none)", "") else fields[4].split(","),
                "latest_handshake": handshake or None,
                "age_s": round(max(0.0, now - handshake), 1) if handshake else None,
                "rx_bytes": _int(fields[6]),
                "tx_bytes": _int(fields[7]),
                "persistent_keepalive": None if keepalive in ("off", "0") else _int(keepalive),
            })
        else:
            raise ValueError(f"unexpected wg dump line with {len(fields)} fields")
    return list(interfaces.values())


def _local_links() -> set[str] | None:
    """Interface names in this network namespace (``None`` when they cannot be read)."""
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return None


def wg_status(iface: str | None = None, now: float | None = None, max_age: float = DEFAULT_MAX_AGE,
              timeout: float = 5.0, dump_text: str | None = None, wg_bin: str = "wg") -> dict[str, Any]:
    """Report WireGuard interfaces and peers; ok when every peer handshook less than ``max_age`` s ago.

    Fields: interfaces (name, public_key, listen_port, fwmark, peers), peers
    (flat list: interface, public_key, endpoint, allowed_ips,
    latest_handshake epoch, age_s, rx_bytes, tx_bytes, persistent_keepalive,
    preshared_key bool, fresh bool), stale_peers (public keys). ``now``
    overrides the clock, ``dump_text`` parses given output instead of running
    ``wg``. Fails when there is no interface or no peer.
    """
    timeout = check_timeout(timeout)
    try:
        max_age = float(max_age)
    except (TypeError, ValueError):
        raise ProbeUsageError(f"max_age must be a number of seconds, got {max_age!r}") from None
    if max_age <= 0:
        raise ProbeUsageError("max_age must be > 0")
    if iface is not None and (not iface or "/" in iface or len(iface) > 15 or iface.strip() != iface):
        raise ProbeUsageError(f"bad interface name {iface!r}")
    started = time.monotonic()
    now = time.time() if now is None else float(now)
    res = new_result("wg", iface=iface, max_age=max_age, interfaces=[], peers=[], stale_peers=[])
    dump_text_given = dump_text
    if dump_text is None:
        cmd = [wg_bin, "show", iface or "all", "dump"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            return finish(res, started, False, f"{wg_bin} not found: install wireguard-tools")
        except subprocess.TimeoutExpired:
            return finish(res, started, False, f"'{' '.join(cmd)}' did not finish within {timeout}s")
        except OSError as exc:
            return finish(res, started, False, f"cannot run {wg_bin}: {exc}")
        if proc.returncode != 0:
            msg = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            return finish(res, started, False, f"'{' '.join(cmd)}' failed: {msg}")
        dump_text = proc.stdout
    try:
        interfaces = parse_wg_dump(dump_text, iface, now)
    except ValueError as exc:
        return finish(res, started, False, f"cannot parse wg dump output: {exc}")
    if dump_text_given is None and iface is None:
        # wireguard-go's control sockets live in /var/run/wireguard for the whole host: keep the
        # interfaces that exist in this network namespace, so one node does not report another's.
        local = _local_links()
        if local is not None:
            res["other_namespaces"] = sorted(i["name"] for i in interfaces if i["name"] not in local)
            interfaces = [i for i in interfaces if i["name"] in local]
    res["interfaces"] = interfaces
    peers = [p for i in interfaces for p in i["peers"]]
    for p in peers:
        p["fresh"] = p["age_s"] is not None and p["age_s"] < max_age
    res["peers"] = peers
    res["stale_peers"] = [p["public_key"] for p in peers if not p["fresh"]]
    if not interfaces:
        return finish(res, started, False, "no WireGuard interface found")
    if not peers:
        names = ", ".join(i["name"] for i in interfaces)
        return finish(res, started, False, f"WireGuard interface {names} has no peers")
    if res["stale_peers"]:
        never = [p for p in peers if p["latest_handshake"] is None]
        first = next(p for p in peers if not p["fresh"])
        what = ("never completed a handshake" if first["latest_handshake"] is None
                else f"last handshook {first['age_s']:.0f}s ago")
        return finish(res, started, False,
                      f"{len(res['stale_peers'])} of {len(peers)} peer(s) without a handshake in the last "
                      f"{max_age:.0f}s ({len(never)} never); e.g. {first['interface']} peer "
                      f"{first['public_key'][:10]}... (endpoint {first['endpoint']}) {what}")
    return finish(res, started, True, "")
