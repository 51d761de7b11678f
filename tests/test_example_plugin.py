"""The example third-party check package (examples/mcdiag-example-check) installed into a fresh venv:
`mcdiag list` shows it, `mcdiag all` runs it, and the pytest plugin collects it under `-m`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_core import kubeadm_cluster

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mcdiag-example-check"


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv that sees this environment's packages (mcdiag included) plus the example, installed offline."""
    where = tmp_path_factory.mktemp("example-venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # This environment's site directories, in its own order (a venv's before the base's), so the test venv
    # sees mcdiag (also an editable install) and the build backend without downloading anything.
    parents = [p for p in dict.fromkeys(sys.path) if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    Path(purelib, "parent-env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    str(EXAMPLE)], check=True, timeout=300, capture_output=True)
    return python


def test_the_example_is_not_in_this_environment():
    from mcdiag.run.registry import resolve

    assert resolve().get("ready-nodes") is None  # only the test venv has it


def test_example_check_in_list_all_and_pytest(venv, emulate, tmp_path):
    listed = subprocess.run([str(venv), "-m", "mcdiag", "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    row = next(ln for ln in listed.stdout.splitlines() if ln.startswith("ready-nodes "))
    assert "Enough Ready nodes" in row and "preflight passive" in row
    clusters = emulate({"east": kubeadm_cluster("10.42.0.0/16", "10.43.0.0/16", nodes=2),
                        "west": kubeadm_cluster("10.44.0.0/16", "10.45.0.0/16", nodes=1)})
    run = subprocess.run([str(venv), "-m", "mcdiag", "all", "--passive", *clusters.args(), "-o", "json", "--no-report-files"],
                         capture_output=True, text=True, timeout=120)
    report = json.loads(run.stdout)
    got = {r["clusters"][0]: r["status"] for r in report["results"] if r["check"] == "ready-nodes"}
    assert got == {"east": "pass", "west": "warn"}, run.stderr
    args = [f"--mcdiag-cluster={n}={p}" for n, p in clusters.kubeconfigs.items()]
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    result = subprocess.run([str(venv), "-m", "pytest", *args, "-m", "preflight and passive", "-k", "ready-nodes", "-rA",
                             "-p", "no:randomly"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "PASSED mcdiag::ready-nodes[east]" in result.stdout, result.stdout[-3000:]
    assert "PASSED mcdiag::ready-nodes[west]" in result.stdout  # a warning passes (without --mcdiag-fail-on warn)
    assert "2 passed" in result.stdout and result.returncode == 0
