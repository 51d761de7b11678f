"""wg_status: dump parsing (no root) and two namespaces joined by wireguard-go."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from mcdiag.probes import ProbeUsageError, parse_wg_dump, wg_status

NOW = 1_700_000_000
PRIV = "cHJpdmF0ZS1rZXktbXVzdC1uZXZlci1sZWFrLTAwMDA="
PSK = "cHJlc2hhcmVkLWtleS1tdXN0LW5ldmVyLWxlYWstMDA="

ALL_DUMP = (
    f"wg0\t{PRIV}\tPUBwg0=\t51820\toff\n"
    f"wg0\tPEER1=\t{PSK}\t192.0.2.1:51820\t10.0.0.2/32,10.42.0.0/16\t{NOW - 30}\t1000\t2000\t25\n"
    f"wg0\tPEER2=\t(none)\t(none)\t10.0.0.3/32\t0\t0\t0\toff\n"
    f"nm-x\t{PRIV}\tPUBnm=\t51821\t0xca6c\n"
    f"nm-x\tPEER3=\t(none)\t198.51.100.7:51821\t(none)\t{NOW - 500}\t5\t6\toff\n"
)


def test_parse_all_dump():
    ifaces = parse_wg_dump(ALL_DUMP, None, NOW)
    assert [i["name"] for i in ifaces] == ["wg0", "nm-x"]
    assert ifaces[0]["listen_port"] == 51820 and ifaces[1]["fwmark"] == "0xca6c"
    p1, p2 = ifaces[0]["peers"]
    assert p1["endpoint"] == "192.0.2.1:51820" and p1["allowed_ips"] == ["10.0.0.2/32", "10.42.0.0/16"]
    assert p1["age_s"] == 30 and p1["rx_bytes"] == 1000 and p1["tx_bytes"] == 2000
    assert p1["preshared_key"] is True and p1["persistent_keepalive"] == 25
    assert p2["latest_handshake"] is None and p2["age_s"] is None and p2["endpoint"] is None


def test_status_flags_stale_and_never_and_hides_secrets():
    res = wg_status(now=NOW, dump_text=ALL_DUMP)
    assert not res["ok"]
    assert res["stale_peers"] == ["PEER2=", "PEER3="]
    assert "2 of 3 peer(s)" in res["reason"]
    text = repr(res)
    assert PRIV not in text and PSK not in text


def test_status_ok_with_fresh_peers_and_single_iface_dump():
    dump = f"{PRIV}\tPUB=\t51820\toff\nPEER1=\t(none)\t10.1.1.1:51820\t10.0.0.2/32\t{NOW - 5}\t1\t2\toff\n"
    res = wg_status("wg0", now=NOW, dump_text=dump)
    assert res["ok"] and res["peers"][0]["interface"] == "wg0" and res["peers"][0]["fresh"]
    res = wg_status("wg0", now=NOW + 200, dump_text=dump)
    assert not res["ok"]
    res = wg_status("wg0", now=NOW + 200, dump_text=dump, max_age=300)
    assert res["ok"]


def test_status_no_interface_or_no_peer():
    assert "no WireGuard interface" in wg_status(dump_text="", now=NOW)["reason"]
    res = wg_status(dump_text=f"wg0\t{PRIV}\tPUB=\t1\toff\n", now=NOW)
    assert not res["ok"] and "no peers" in res["reason"]


def test_missing_wg_binary():
    res = wg_status(wg_bin="/nonexistent/wg")
    assert not res["ok"] and "wireguard-tools" in res["reason"]


def test_usage():
    with pytest.raises(ProbeUsageError):
        wg_status("x" * 20)
    with pytest.raises(ProbeUsageError):
        wg_status(max_age=0)


# --------------------------------------------------------------------------- wireguard-go

needs_wg = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(b) for b in ("ip", "wg", "wireguard-go")),
    reason="needs root, iproute2, wireguard-tools and wireguard-go")


def genkey():
    priv = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv, capture_output=True, text=True,
                         check=True).stdout.strip()
    return priv, pub


def wait_for_link(ns, ifname, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ns.run("ip", "link", "show", ifname, check=False).returncode == 0 and \
                os.path.exists(f"/var/run/wireguard/{ifname}.sock"):
            return
        time.sleep(0.05)
    raise AssertionError(f"wireguard-go did not create {ifname} in {ns.name}")


@needs_wg
@pytest.mark.root
def test_wireguard_go_pair(lab, tmp_path):
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "10.250.3.1/30", b, "10.250.3.2/30")
    # wireguard-go's UAPI sockets live in /var/run/wireguard, shared by all
    # namespaces: interface names must be unique host-wide.
    names = {a: f"mwg{lab.tag}a", b: f"mwg{lab.tag}b"}
    keys = {a: genkey(), b: genkey()}
    tun_ip = {a: "10.251.0.1", b: "10.251.0.2"}
    under_ip = {a: "10.250.3.1", b: "10.250.3.2"}
    for ns in (a, b):
        ns.spawn("wireguard-go", "-f", names[ns])
    for ns, peer in ((a, b), (b, a)):
        wait_for_link(ns, names[ns])
        keyfile = tmp_path / f"{names[ns]}.key"
        keyfile.write_text(keys[ns][0] + "\n")
        keyfile.chmod(0o600)
        ns.run("wg", "set", names[ns], "listen-port", "51820", "private-key", str(keyfile),
               "peer", keys[peer][1], "allowed-ips", f"{tun_ip[peer]}/32",
               "endpoint", f"{under_ip[peer]}:51820")
        ns.run("ip", "addr", "add", f"{tun_ip[ns]}/24", "dev", names[ns])
        ns.run("ip", "link", "set", names[ns], "up")

    rc, res, _ = a.probe("wg", "--iface", names[a])
    assert rc == 1 and res["peers"][0]["latest_handshake"] is None
    assert "never" in res["reason"]

    rc, res, _ = a.probe("ping", tun_ip[b], "--count", "3", "--interval", "0.1", "--timeout", "5")
    assert rc == 0, res

    rc, res, err = a.probe("wg", "--iface", names[a])
    assert rc == 0, (res, err)
    peer = res["peers"][0]
    assert peer["public_key"] == keys[b][1]
    assert peer["endpoint"] == f"{under_ip[b]}:51820"
    assert peer["allowed_ips"] == [f"{tun_ip[b]}/32"]
    assert peer["age_s"] is not None and peer["age_s"] < 60
    assert peer["rx_bytes"] > 0 and peer["tx_bytes"] > 0
    assert res["interfaces"][0]["public_key"] == keys[a][1]
    assert keys[a][0] not in repr(res)  # the private key never leaves wg
