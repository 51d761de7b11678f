"""Learning the CLI and machine output: list, explain, completion, did you mean, -V, -o json, --in-cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mcdiag import __version__
from tests.test_core import OVERLAP


def test_version_names_the_probe_image(mcdiag, capsys):
    for flag in ("-V", "--version"):
        with pytest.raises(SystemExit) as exc:
            mcdiag(flag)
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.strip() == f"mcdiag {__version__} (probe image ghcr.io/mcdiag/mcdiag-probe:{__version__})"


def test_list_has_a_header_titles_and_filters(mcdiag):
    run = mcdiag("list")
    lines = run.out.splitlines()
    assert lines[0].split() == ["ID", "SCOPE", "TAGS", "TITLE"]
    row = next(ln for ln in lines if ln.startswith("cidr-overlap "))
    assert "pair" in row and "CIDR overlap" in row
    netmaker = mcdiag("list", "--provider", "netmaker").out
    assert "netclient-deployment" in netmaker and "submariner-deployment" not in netmaker and "cidr-overlap" in netmaker
    active = mcdiag("list", "--tag", "active").out
    assert "tunnel-firewall" in active and "cidr-overlap " not in active and "of" in active.splitlines()[-1]
    listed = json.loads(mcdiag("list", "--json").out)
    pod = next(c for c in listed if c["id"] == "pod-connectivity")
    assert "tunnel-firewall" in pod["depends"]


def test_explain_says_what_it_reads_when_it_fails_and_how_to_fix(mcdiag):
    run = mcdiag("explain", "gateway-connections")
    assert run.code == 0
    text = run.out
    for fragment in ("gateway-connections: ", "Reads:", "gateways.submariner.io", "Depends on:", "tunnel-firewall",
                     "How to fix:", "Docs:", "https://", "fail", "Explains:", "pod-connectivity"):
        assert fragment in text, fragment


def test_did_you_mean(mcdiag, capsys):
    run = mcdiag("explain", "gateway-conections")
    assert run.code == 2 and "did you mean gateway-connections?" in run.err and len(run.err.strip().splitlines()) == 1
    run = mcdiag("run", "cidr-overlpa", "--cluster", "a=/nonexistent")
    assert run.code == 2 and "did you mean cidr-overlap?" in run.err
    with pytest.raises(SystemExit) as exc:
        mcdiag("al")
    assert exc.value.code == 2 and "did you mean all?" in capsys.readouterr().err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(mcdiag, shell, tmp_path):
    run = mcdiag("completion", shell)
    assert run.code == 0
    script = run.out
    for word in ("explain", "completion", "--kubeconfig", "--fail-on", "pod-connectivity"):
        assert word.lstrip("-") in script, word
    path = tmp_path / f"mcdiag.{shell}"
    path.write_text(script)
    binary = shutil.which(shell)
    if shell == "bash":
        assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
        # Completing `mcdiag explain pod-c` offers the check id.
        probe = (f"source {path}; COMP_WORDS=(mcdiag explain pod-c); COMP_CWORD=2; COMP_LINE='mcdiag explain pod-c'; "
                 "COMP_POINT=${#COMP_LINE}; _shtab_mcdiag; echo \"${COMPREPLY[@]}\"")
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
        assert "pod-connectivity" in out.stdout, out.stderr
    elif binary:
        assert subprocess.run([binary, "-n", str(path)], capture_output=True).returncode == 0


def test_json_to_stdout_everything_else_to_stderr(emulate, tmp_path):
    clusters = emulate(OVERLAP)
    for flags in (["-o", "json"], ["--json", "-"]):
        cmd = [sys.executable, "-m", "mcdiag", "all", "--passive", *clusters.args(), *flags, "--report-dir", str(tmp_path / "r")]
        pipe = f"{subprocess.list2cmdline(cmd)} | {sys.executable} -c 'import json,sys; d = json.load(sys.stdin); print(d[\"summary\"][\"fail\"])'"
        done = subprocess.run(["bash", "-o", "pipefail", "-c", pipe], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1  # mcdiag's exit code through the pipe: a check failed
        assert done.stdout.strip() == "1", done.stderr
        assert "FAILED:" in done.stderr and "cidr-overlap" in done.stderr  # the text report went to stderr
        assert not (tmp_path / "-").exists()
    raw = subprocess.run([sys.executable, "-m", "mcdiag", "all", "--passive", *clusters.args(), "-o", "json", "-q",
                          "--no-report-files"], capture_output=True, text=True, timeout=120)
    report = json.loads(raw.stdout)
    assert report["tool"] == "mcdiag" and {"cause", "status"} <= set(report["results"][0])


def test_in_cluster_uses_the_service_account(emulate, mcdiag, tmp_path, monkeypatch):
    clusters = emulate(OVERLAP)
    east = clusters["east"]
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(east.token)
    (sa / "ca.crt").write_bytes(east.certificate_authority_pem)
    host, port = east.url.removeprefix("https://").rsplit(":", 1)
    monkeypatch.setenv("MCDIAG_SERVICE_ACCOUNT_DIR", str(sa))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    run = mcdiag("all", "--passive", "--in-cluster", "--remote-kubeconfig", str(clusters.kubeconfigs["west"]))
    assert run.code == 1, run.err
    names = [c["name"] for c in run.json["clusters"]]
    assert names == ["in-cluster", "west-ctx"] and run.json["clusters"][0]["server"] == east.url
    assert run.status("api-access", "in-cluster") == "pass" and run.status("cidr-overlap", "in-cluster<->west-ctx") == "fail"
    assert east.token not in run.out + run.err + json.dumps(run.json)
    # Every request east got was authenticated with the service account's token (none answered 401).
    assert east.requests and all(r.status != 401 and r.user for r in east.requests)
    # Outside a pod it is a usage error with one line.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    run = mcdiag("all", "--in-cluster", "--remote-kubeconfig", str(clusters.kubeconfigs["west"]))
    assert run.code == 2 and "--in-cluster" in run.err and len(run.err.strip().splitlines()) == 1
    run = mcdiag("all", "--in-cluster", "--kubeconfig", str(clusters.kubeconfigs["west"]))
    assert run.code == 2 and "give one or the other" in run.err
