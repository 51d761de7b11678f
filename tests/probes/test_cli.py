"""CLI: python -m mcdiag.probes exit codes 0/1/2, one JSON object, register() in a parent parser."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mcdiag.probes import PROBES, ProbeUsageError
from mcdiag.probes.cli import main, register


def probe_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_registry_names():
    assert set(PROBES) == {"udp-listen", "udp-send", "dns", "http", "tcp", "ping", "latency", "mtu", "wg"}
    assert issubclass(ProbeUsageError, ValueError)


def test_exit_0_on_pass(run_probe):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        rc, res, err = run_probe("tcp", f"127.0.0.1:{srv.getsockname()[1]}", "--timeout", "1")
    assert rc == 0 and res["ok"] is True and res["probe"] == "tcp"
    assert err == ""


def test_exit_1_on_broken_path(run_probe):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, res, _ = run_probe("tcp", f"127.0.0.1:{port}", "--timeout", "1")
    assert rc == 1 and res["ok"] is False and res["reason"]


def test_exit_1_dns_timeout(run_probe):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        rc, res, _ = run_probe("dns", "x.test", "--server", "127.0.0.1", "--port",
                               str(silent.getsockname()[1]), "--timeout", "0.3")
    assert rc == 1 and res["rcode_class"] == "timeout"


@pytest.mark.parametrize("args", [
    ["tcp", "127.0.0.1"],                     # ProbeUsageError: no port
    ["ping", "not-an-ip"],                    # ProbeUsageError: not an IP
    ["dns", "x.test", "--server", "127.0.0.1", "--type", "NOPE"],
    ["udp-send", "--to", "127.0.0.1:9"],      # argparse: --marker missing
    ["tcp", "127.0.0.1:80", "--timeout", "-1"],  # rejected before any packet (no traffic)
    ["no-such-probe"],
    [],
])
def test_exit_2_on_bad_arguments(run_probe, args):
    rc, res, err = run_probe(*args)
    assert rc == 2 and res is None
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], err


@pytest.mark.parametrize("args", [["--help"], ["udp-listen", "--help"], ["mtu", "--help"]])
def test_help(args):
    proc = subprocess.run([sys.executable, "-m", "mcdiag.probes", *args], capture_output=True, text=True,
                          timeout=30, env=probe_env())
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_udp_listen_emits_listening_event(run_probe):
    # socket method on loopback: no datagram arrives, but the listening event is written first.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, res, err = run_probe("udp-listen", "--port", str(port), "--marker", "m", "--method", "socket",
                             "--bind", "127.0.0.1", "--timeout", "0.3")
    assert rc == 1 and res["matches"] == 0
    event = json.loads(err.splitlines()[0])
    assert event["event"] == "listening" and event["port"] == port


def test_main_in_process_returns_codes():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["ping", "nope"]) == 2
        assert main(["bogus"]) == 2
    assert out.getvalue() == ""


def test_register_in_parent_parser():
    parser = argparse.ArgumentParser(prog="mcdiag")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        args = parser.parse_args(["probe", "tcp", f"127.0.0.1:{srv.getsockname()[1]}", "--timeout", "1"])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = args.func(args)
    assert rc == 0
    assert json.loads(out.getvalue())["outcome"] == "connected"
    err = io.StringIO()
    args = parser.parse_args(["probe", "ping", "not-an-ip"])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert args.func(args) == 2
    assert err.getvalue().startswith("mcdiag probe ping: error:")
