"""The JUnit report: a testsuite per cluster or pair, a testcase per result named ``CHECK-ID[target]``.

``fail`` -> ``<failure>``, ``error`` -> ``<error>``, ``skip`` -> ``<skipped>``;
``warn`` passes with the warning in ``system-out``. Built with ``junit-xml`` and
kept valid against the Jenkins xUnit schema (``junit-10.xsd``), which has no
``disabled`` attribute and allows at most three decimals in ``time``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from junit_xml import TestCase, TestSuite

from mcdiag.model import Result, RunReport, Status


def _case(result: Result) -> TestCase:
    text = result.message + (f"\nhint: {result.hint}" if result.hint else "") + (f"\ndocs: {result.docs}" if result.docs else "")
    case = TestCase(
        name=result.test_name,
        classname=f"mcdiag.{result.check}",
        elapsed_sec=round(result.duration_s, 3),
        stdout=(f"WARNING: {text}" if result.status is Status.WARN else result.message),
    )
    if result.status is Status.FAIL:
        case.add_failure_info(message=result.message, output=text, failure_type="fail")
    elif result.status is Status.ERROR:
        case.add_error_info(message=result.message, output=text, error_type="error")
    elif result.status is Status.SKIP:
        case.add_skipped_info(message=result.message)
    return case


def build_junit(report: RunReport) -> ET.Element:
    """The ``<testsuites>`` element for ``report``."""
    suites: dict[str, list[Result]] = {}
    for result in report.results:
        suites.setdefault(result.target, []).append(result)
    root = ET.Element("testsuites", name="mcdiag", time=f"{report.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for target, results in suites.items():
        props = {"clusters": ",".join(results[0].clusters), "scope": results[0].scope.value}
        suite = TestSuite(
            name=target,
            test_cases=[_case(r) for r in results],
            timestamp=report.started.isoformat(timespec="seconds"),
            properties=props,
            package="mcdiag",
        )
        element = suite.build_xml_doc()
        element.attrib.pop("disabled", None)
        element.set("time", f"{sum(r.duration_s for r in results):.3f}")
        for case in element.iter("testcase"):
            case.set("time", f"{float(case.get('time', 0)):.3f}")
        root.append(element)
        totals["tests"] += len(results)
        totals["failures"] += sum(r.status is Status.FAIL for r in results)
        totals["errors"] += sum(r.status is Status.ERROR for r in results)
    _notes(root, report)
    for key, value in totals.items():
        root.set(key, str(value))
    return root


def _notes(root: ET.Element, report: RunReport) -> None:
    """The run's notes (cleanup leftovers, interrupts) as ``system-err`` of the first suite (or of an empty one)."""
    if not report.notes:
        return
    suite = root.find("testsuite")
    if suite is None:
        suite = TestSuite(name="mcdiag", test_cases=[], timestamp=report.started.isoformat(timespec="seconds"),
                          package="mcdiag").build_xml_doc()
        suite.attrib.pop("disabled", None)
        suite.set("time", "0.000")
        root.append(suite)
    err = suite.find("system-err")
    if err is None:
        err = ET.SubElement(suite, "system-err")
    err.text = (err.text + "\n" if err.text else "") + "\n".join(f"note: {n}" for n in report.notes)


def write_junit(report: RunReport, path: Path) -> None:
    """Write the JUnit XML report to ``path``."""
    root = build_junit(report)
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
