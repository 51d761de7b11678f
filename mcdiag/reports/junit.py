"""The JUnit report: a testsuite per cluster or pair, a testcase per result named ``CHECK-ID[target]``.

``fail`` -> ``<failure>``, ``error`` -> ``<error>``, ``skip`` -> ``<skipped>``;
``warn`` passes with ``WARNING:`` leading its ``system-out`` and a ``warning:CHECK-ID[target]``
property on its suite (viewers show both), or is a ``<failure type="warn">`` with
``--fail-on warn``. A result that follows from another says so in its message
(``likely cause: ...``) and in a ``cause:CHECK-ID[target]`` suite property. Built with
``junit-xml`` and kept valid against the Jenkins xUnit schema (``junit-10.xsd``), which has
no ``disabled`` attribute, no properties on a testcase, and at most three decimals in ``time``.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from junit_xml import TestCase, TestSuite

from mcdiag.model import Result, RunReport, Status
from mcdiag.reports.files import write_report_file


def _case(result: Result, fail_on_warn: bool = False) -> TestCase:
    message = result.message + (f" (likely cause: {result.cause})" if result.cause else "")
    text = message + (f"\nhint: {result.hint}" if result.hint else "") + (f"\ndocs: {result.docs}" if result.docs else "")
    case = TestCase(
        name=result.test_name,
        classname=f"mcdiag.{result.check}",
        elapsed_sec=round(result.duration_s, 3),
        stdout=(f"WARNING: {text}" if result.status is Status.WARN else message),
    )
    if result.status is Status.FAIL:
        case.add_failure_info(message=message, output=text, failure_type="fail")
    elif result.status is Status.ERROR:
        case.add_error_info(message=message, output=text, error_type="error")
    elif result.status is Status.SKIP:
        case.add_skipped_info(message=message)
    elif result.status is Status.WARN and fail_on_warn:
        case.add_failure_info(message=f"WARNING: {message}", output=text, failure_type="warn")
    return case


def suite_properties(results: list[Result]) -> dict[str, str]:
    """The properties of a suite: its clusters and scope, each warning, and each result's likely cause."""
    props = {"clusters": ",".join(results[0].clusters), "scope": results[0].scope.value}
    for r in results:
        if r.status is Status.WARN:
            props[f"warning:{r.test_name}"] = r.message
        if r.cause:
            props[f"cause:{r.test_name}"] = r.cause
    return props


def build_junit(report: RunReport) -> ET.Element:
    """The ``<testsuites>`` element for ``report``."""
    suites: dict[str, list[Result]] = {}
    for result in report.results:
        suites.setdefault(result.target, []).append(result)
    root = ET.Element("testsuites", name="mcdiag", time=f"{report.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for target, results in suites.items():
        suite = TestSuite(
            name=target,
            test_cases=[_case(r, report.fail_on_warn) for r in results],
            timestamp=report.started.isoformat(timespec="seconds"),
            properties=suite_properties(results),
            package="mcdiag",
        )
        element = suite.build_xml_doc()
        element.attrib.pop("disabled", None)
        element.set("time", f"{sum(r.duration_s for r in results):.3f}")
        for case in element.iter("testcase"):
            case.set("time", f"{float(case.get('time', 0)):.3f}")
        root.append(element)
        totals["tests"] += len(results)
        totals["failures"] += sum(r.status is Status.FAIL or (report.fail_on_warn and r.status is Status.WARN) for r in results)
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
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    write_report_file(path, buffer.getvalue())
