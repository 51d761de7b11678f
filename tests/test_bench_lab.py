"""benchmarks/lab.py's Markdown: the lab section is written in its own place and kept by the passive benchmarks."""

from __future__ import annotations

from benchmarks import lab


def _run(wall: float, failed=()) -> dict:
    return {"wall": wall, "mcdiag_cpu": 1.0, "exit": 1 if failed else 0, "duration": wall, "load": "1.0 1.0 1.0",
            "counts": {"pass": 50, "fail": len(failed)}, "failed": list(failed), "machine_busy": 10.0,
            "machine_idle": 2.0, "per_check": {"latency": wall / 4}, "lab_cpu": {"API servers, kubelets, pod networks": 3.0, "probe pods (fork servers)": 2.0}}


def test_render_and_splice(tmp_path):
    results = {"submariner": {
        "jobs": {"default": [_run(4.0), _run(4.2)], "1": [_run(12.0)]},
        "faults": [("stop-service", _run(4.4, ["service-reachability[cluster1->cluster]"]))],
        "clusters": {2: {"runs": [_run(4.0)], "up": 2.0, "pairs": 2}, 4: {"runs": [_run(10.0)], "up": 4.0, "pairs": 12},
                     8: {"skipped": "1.0 GB available"}},
    }}
    section = lab.render(results)
    text = "\n".join(section)
    assert section[0] == lab.BEGIN and section[-1] == lab.END
    assert "| 4 (12) | 4.0 s | 10.0 s | 2.50x |" in text and "missed by 25% (2.50x)" in text
    assert "| stop-service | 4.4 s | 1.07x | service-reachability[cluster1->cluster] |" in text
    assert "| 8 | not run: 1.0 GB available |" in text
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n### The lab\n\nNot run in this run.\n")
    lab.splice(doc, section)
    assert lab.kept_section(doc) == section and "Not run in this run" not in doc.read_text()
    lab.splice(doc, [lab.BEGIN, "again", lab.END])
    assert lab.kept_section(doc) == [lab.BEGIN, "again", lab.END] and doc.read_text().startswith("# Performance")


def test_splice_keeps_the_sections_after_the_lab(tmp_path):
    """The first splice (no markers yet) replaces the lab's text only, up to the next heading of any level."""
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n### The lab\n\nNot run.\n\n## What mcdiag reads\n\ntable\n\n### The trade-off\n\ntext\n")
    lab.splice(doc, [lab.BEGIN, "figures", lab.END])
    text = doc.read_text()
    assert "Not run." not in text and "figures" in text
    assert "## What mcdiag reads\n\ntable" in text and "### The trade-off\n\ntext" in text
