"""The HTML report: matrix of everything between clusters, cause first, filter; and a real browser renders it.

The browser test renders a run with pass, warn, fail, skip and error (the blocked tunnel, canned probes)
in headless Chromium (Debian's ``chromium``, installed by scripts/install-deps.sh), saves a screenshot
under reports/, and reads the page back through Chromium's DOM dump.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mcdiag.reports.html import render_html, row_id, write_html
from tests.reports.scenario import blocked_tunnel_report

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--hide-scrollbars"]


class _Page(HTMLParser):
    """Ids, links, cells and texts of a page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.cells, self.scripts_src, self.remote = set(), [], [], [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
        if tag == "td" and "data-worst" in a:
            self.cells.append((a["data-from"], a["data-to"], a["data-worst"]))
        for key in ("src", "href"):
            if tag in ("script", "link", "img", "iframe") and a.get(key):
                self.remote.append(a[key])

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_html_matrix_cause_first_and_self_contained():
    report = blocked_tunnel_report()
    html = render_html(report)
    page = _parse(html)
    assert not page.remote  # nothing fetched: one self-contained file
    assert all(link in page.ids for link in page.links), set(page.links) - page.ids  # every link lands on a row
    cells = {(a, b): w for a, b, w in page.cells}
    assert cells[("east", "west")] == "fail" and cells[("west", "east")] == "fail"  # gateway connection "connecting"
    assert cells[("east", "east")] == "fail"
    matrix = html[html.index('id="matrix"'):html.index("</table>", html.index('id="matrix"'))]
    for check in ("tunnel-firewall", "pod-connectivity", "cidr-overlap", "gateway-connections", "latency"):
        assert f'href="#{row_id(next(r for r in report.results if r.check == check))}"' in matrix or check in matrix
    assert "(connecting)" in matrix and "RTT 160.5 ms" in matrix and "path MTU 1380" in matrix
    text = " ".join(page.text)
    assert "Clusters east <-> west" in text and "cluster<" not in text and "From east to west" in text
    attention = html[html.index('id="attention"'):html.index('id="matrix"')]
    assert attention.index("tunnel-firewall[east-&gt;west]") < attention.index("pod-connectivity[east-&gt;west]")
    assert "likely cause" in attention and "6 dependent failures" in attention
    assert 'href="https://submariner.io/operations/troubleshooting/"' in attention  # docs links in Needs attention
    assert "mcdiag 0.1.0" in text or re.search(r"mcdiag \d+\.\d+", text)
    assert 'id="filter"' in html and "addEventListener" in html
    assert "0.00s" not in html and "&lt;1 ms" in html


def test_passive_run_still_has_the_matrix(emulate, mcdiag):
    from tests.test_core import OVERLAP

    run = mcdiag("all", "--passive", *emulate(OVERLAP).args())
    html = (run.report_dir / "mcdiag.html").read_text()
    page = _parse(html)
    cells = {(a, b): w for a, b, w in page.cells}
    assert cells[("east", "west")] == "fail" == cells[("west", "east")]  # cidr-overlap, a pair check
    assert "cidr-overlap" in html[html.index('id="matrix"'):]
    assert "passive (API reads only" in html


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    return found


def test_report_in_a_real_browser(tmp_path):
    chromium = _chromium()
    report = blocked_tunnel_report()
    assert all(report.summary[s] > 0 for s in ("pass", "warn", "fail", "skip", "error"))
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    page_path = out / "browser-test.html"
    write_html(report, page_path)
    shot = out / "browser-test.png"
    shot.unlink(missing_ok=True)
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    url = page_path.resolve().as_uri()
    snap = subprocess.run([*base, "--window-size=1300,1900", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=120)
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _parse(dom.stdout)
    text = " ".join(" ".join(page.text).split())
    for status, n in report.summary.items():
        assert f"{n} {status}" in text, status  # the summary counts, as the browser has them
    failed = {r.check for r in report.results if r.status.value in ("fail", "error")}
    assert failed and all(check in text for check in failed)
    cells = {(a, b) for a, b, _ in page.cells}
    assert cells == {(a, b) for a in ("east", "west") for b in ("east", "west")}
    assert "likely cause" in text and "tunnel-firewall[east->west]" in text
