"""Packaging: every imported third-party module is declared (dependencies or the extra that uses it), package
data patterns match files, the project has URLs, and the version shows the probe image it uses.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(paths) -> set[str]:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("mcdiag", "checks", "_pytest")} | (
        {"pytest"} if "_pytest" in found else set())


def test_every_imported_module_is_declared():
    project = PYPROJECT["project"]
    declared = {"": {_name(r) for r in project["dependencies"]}}
    extras = project["optional-dependencies"]
    for extra, reqs in extras.items():
        declared[extra] = {_name(r) for r in reqs}
    dists = {m: {d.lower().replace("_", "-") for d in ds} for m, ds in packages_distributions().items()}
    lab = sorted((ROOT / "mcdiag" / "lab").rglob("*.py"))
    product = [p for p in sorted((ROOT / "mcdiag").rglob("*.py")) + sorted((ROOT / "checks").rglob("*.py")) if p not in lab]
    plugin = ROOT / "mcdiag" / "pytest_plugin.py"
    for module in sorted(_imports([p for p in product if p != plugin])):
        assert dists.get(module, set()) & declared[""], f"{module} is imported by the product but not a dependency"
    for module in sorted(_imports([plugin]) - _imports([p for p in product if p != plugin])):
        assert dists.get(module, set()) & declared["pytest"], f"{module} (pytest plugin) not in the pytest extra"
    for module in sorted(_imports(lab) - _imports(product)):
        assert dists.get(module, set()) & (declared[""] | declared["lab"]), f"{module} (lab) not in the lab extra"


def test_package_data_matches_files_and_urls_are_there():
    data = PYPROJECT["tool"]["setuptools"].get("package-data", {})
    dirs = {"mcdiag.checks": ROOT / "checks"}
    for package, patterns in data.items():
        base = dirs.get(package, ROOT / Path(*package.split(".")))
        for pattern in patterns:
            assert list(base.glob(pattern)), f"package data {package}: {pattern} matches nothing"
    urls = PYPROJECT["project"]["urls"]
    assert {"Homepage", "Repository", "Documentation", "Issues"} <= set(urls)
