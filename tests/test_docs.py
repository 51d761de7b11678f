"""The documentation kept in the repository matches the code."""

from __future__ import annotations

from pathlib import Path

from mcdiag.reports.catalogue import render_markdown
from mcdiag.run.registry import resolve

ROOT = Path(__file__).resolve().parents[1]


def test_checks_catalogue_is_current():
    """docs/checks.md is what `mcdiag list --format markdown` prints for the built-in checks."""
    expected = render_markdown(resolve(include_plugins=False).checks)
    current = (ROOT / "docs" / "checks.md").read_text()
    assert current == expected, "docs/checks.md is stale: run `mcdiag list --format markdown > docs/checks.md`"


def test_every_check_is_documented_with_a_hint_and_docs():
    for check in resolve(include_plugins=False).checks:
        assert check.__doc__ and check.title, check.id
        assert check.docs, check.id


def test_readme_links_the_catalogue_and_contributing():
    readme = (ROOT / "README.md").read_text()
    assert "docs/checks.md" in readme and "CONTRIBUTING.md" in readme
    assert (ROOT / "CONTRIBUTING.md").is_file()
