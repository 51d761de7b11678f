"""The layout: no import cycle, the product never imports its test bed, and the wheel installs clean."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    """``mcdiag.gather.view`` for mcdiag/gather/view.py; ``mcdiag.checks.dns`` for checks/dns.py."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "checks":
        parts = ["mcdiag", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _product_files() -> list[Path]:
    return sorted(p for p in (*ROOT.joinpath("mcdiag").rglob("*.py"), *ROOT.joinpath("checks").rglob("*.py")))


def _imports(path: Path, name: str) -> set[str]:
    """Every mcdiag module ``path`` imports (also inside functions; not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("mcdiag")}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in _product_files()}
    graph = {}
    for name, path in files.items():
        # A module's own packages are not dependencies: Python has imported them before it.
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = {m for m in _imports(path, name) if m in files and m != name and m not in own}
    return graph


def test_no_import_cycle():
    graph = _graph()
    # Importing a package runs its __init__: a module importing a package's submodule also depends on the package.
    for name in list(graph):
        for deps in [graph[name]]:
            for dep in list(deps):
                pkg = dep.rpartition(".")[0]
                if pkg in graph and pkg != name and not name.startswith(pkg + "."):
                    deps.add(pkg)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_product_never_imports_the_lab():
    graph = _graph()
    offenders = {
        name: sorted(d for d in deps if d.startswith("mcdiag.lab"))
        for name, deps in graph.items()
        if not name.startswith("mcdiag.lab") and any(d.startswith("mcdiag.lab") for d in deps)
    }
    # The CLI names `mcdiag lab` as a lazily dispatched command: a string, not an import.
    assert offenders == {}


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    present = {_module_name(p) for p in _product_files() if p.name == "__init__.py"}
    assert listed == present
    assert config["package-dir"] == {"mcdiag.checks": "checks"}


def test_a_run_imports_neither_lab_nor_probes(emulate, tmp_path):
    """``mcdiag all`` against real kubeconfigs loads nothing of the test bed, nor scapy (the probes)."""
    from tests.test_core import DISJOINT

    clusters = emulate(DISJOINT)
    code = (
        "import json, sys\n"
        "from mcdiag.cli import main\n"
        f"rc = main(['all', *{clusters.args()!r}, '--report-dir', {str(tmp_path / 'r')!r}, '-q'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('mcdiag.lab', 'trustme', 'scapy', 'mcdiag.probes')))\n"
        "print(json.dumps({'rc': rc, 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], result
    assert (tmp_path / "r" / "mcdiag.json").exists()


def test_wheel_installs_without_the_lab_extra(tmp_path):
    """A wheel built from the repository installs into a fresh venv: `mcdiag list` works, no trustme, no `checks`."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheels)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("mcdiag-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, timeout=600)
    listed = subprocess.run([str(env_dir / "bin" / "mcdiag"), "list"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert listed.returncode == 0 and "cidr-overlap" in listed.stdout, listed.stderr
    probe = "import importlib.util as u; print(u.find_spec('checks'), u.find_spec('trustme'), u.find_spec('mcdiag.checks') is not None)"
    found = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path).stdout.split()
    assert found == ["None", "None", "True"]
    lab = subprocess.run([str(env_dir / "bin" / "mcdiag"), "lab", "up"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert lab.returncode == 2 and "mcdiag[lab]" in lab.stderr
