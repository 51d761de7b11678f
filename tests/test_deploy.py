"""deploy/ manifests against the Kubernetes schemas and the checks' needs; the release workflow against the
code's image defaults; the CI recipes in docs/ci.md are the files in docs/ci/, and those parse.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from mcdiag import __version__
from mcdiag.active.executor import DEFAULT_IMAGE_REPOSITORY, IMAGE_NAME, probe_image
from mcdiag.cli.explain import cli_image
from mcdiag.run.options import DEFAULT_PROBE_NAMESPACE
from mcdiag.run.registry import resolve
from mcdiag.run.session import reads_of

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.29.0"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _manifests() -> list[tuple[str, dict]]:
    return [(f"{p.name}#{i}", d) for p in sorted(DEPLOY.glob("*.yaml")) for i, d in enumerate(_docs(p))]


@pytest.mark.parametrize("name,doc", _manifests(), ids=[n for n, _ in _manifests()])
def test_manifest_is_valid_kubernetes(name, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises with the field path when invalid


def _kind(kind: str) -> list[dict]:
    return [d for _, d in _manifests() if d["kind"] == kind]


def _pod_specs() -> dict[str, dict]:
    job = next(d for d in _kind("Job"))
    cron = next(d for d in _kind("CronJob"))
    return {"job": job["spec"]["template"]["spec"], "cronjob": cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]}


def test_jobs_run_the_cli_image_in_cluster_with_reports_on_a_volume():
    for which, spec in _pod_specs().items():
        [container] = spec["containers"]
        assert container["image"] == cli_image(), which
        args = container["args"]
        assert args[0] == "all" and "--in-cluster" in args, which
        assert any(a.startswith("--report-dir=/reports") for a in args)
        assert any(m["mountPath"] == "/reports" for m in container["volumeMounts"])
        assert spec["restartPolicy"] == "Never" and spec["serviceAccountName"] == "mcdiag"
    assert "--passive" in _pod_specs()["cronjob"]["containers"][0]["args"]
    assert "--passive" not in _pod_specs()["job"]["containers"][0]["args"]
    job = next(d for d in _kind("Job"))
    assert job["spec"]["backoffLimit"] == 0  # the exit code is the Job's status, not a reason to retry


def _rules(kind: str, name: str) -> list[dict]:
    return next(d for d in _kind(kind) if d["metadata"]["name"] == name)["rules"]


def _allows(rules: list[dict], group: str, resource: str, verbs: set[str]) -> bool:
    return any(group in r.get("apiGroups", []) and resource in r.get("resources", []) and verbs <= set(r["verbs"])
               for r in rules)


def test_passive_role_reads_everything_the_checks_read_and_nothing_else():
    rules = _rules("ClusterRole", "mcdiag-passive")
    needed = {(r.group, r.plural) for r in reads_of(resolve(include_plugins=False).checks)}
    missing = [n for n in sorted(needed) if not _allows(rules, n[0], n[1], {"get", "list"})]
    assert not missing
    granted = {(g, res) for r in rules for g in r.get("apiGroups", []) for res in r.get("resources", [])}
    assert granted == needed, granted ^ needed  # least privilege: not one resource more
    assert all(set(r["verbs"]) <= {"get", "list"} for r in rules)
    assert not any("secrets" in r.get("resources", []) for r in rules)


def test_active_role_lets_the_probe_executor_work_in_its_namespace():
    role = next(d for d in _kind("Role") if d["metadata"]["name"] == "mcdiag-active")
    assert role["metadata"]["namespace"] == DEFAULT_PROBE_NAMESPACE
    rules = role["rules"]
    for group, resource in (("", "pods"), ("", "services"), ("apps", "deployments"), ("multicluster.x-k8s.io", "serviceexports")):
        assert _allows(rules, group, resource, {"create", "delete", "get", "list"}), resource
    assert _allows(rules, "", "pods/log", {"get"})
    ns = next(d for d in _kind("Namespace") if d["metadata"]["name"] == DEFAULT_PROBE_NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"  # hostNetwork, NET_RAW
    binding = next(d for d in _kind("RoleBinding"))
    assert binding["subjects"][0]["name"] == "mcdiag" and binding["roleRef"]["name"] == "mcdiag-active"


def test_release_workflow_publishes_the_images_the_code_uses():
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    triggers = flow.get("on") or flow.get(True)
    assert triggers["push"]["tags"] == ["v*"]
    images = flow["jobs"]["images"]
    matrix = {m["target"]: m["image"] for m in images["strategy"]["matrix"]["include"]}
    assert matrix == {"probe": f"{DEFAULT_IMAGE_REPOSITORY}/{IMAGE_NAME}", "cli": cli_image().rsplit(":", 1)[0]}
    assert probe_image() == f"{matrix['probe']}:{__version__}"  # the default tag is the package version
    build = next(s for s in images["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert set(build["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["with"]["tags"] == "${{ matrix.image }}:${{ needs.wheel.outputs.version }}"
    assert build["with"]["push"] is True and build["with"]["target"] == "${{ matrix.target }}"
    check = next(s for s in flow["jobs"]["wheel"]["steps"] if s.get("id") == "version")
    assert "__version__" in check["run"] and "GITHUB_REF_NAME" in check["run"]
    publish = flow["jobs"]["publish-wheel"]["steps"]
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish") for s in publish)
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M)
    assert {"cli", "probe"} <= set(stages) and stages[-1] == "probe"  # plain `docker build .` stays the probe image
    cli_stage = dockerfile.split(" AS cli", 1)[1].split("\nFROM ", 1)[0]
    assert 'ENTRYPOINT ["mcdiag"]' in cli_stage and "USER 65532" in cli_stage


RECIPES = {"github-actions.yml": "yaml", "gitlab-ci.yml": "yaml", "Jenkinsfile": "groovy"}


def test_ci_recipes_are_the_files_and_parse():
    doc = (ROOT / "docs" / "ci.md").read_text()
    for name, lang in RECIPES.items():
        text = (ROOT / "docs" / "ci" / name).read_text()
        assert f"```{lang}\n{text}```" in doc, f"docs/ci.md's copy of docs/ci/{name} is stale"
        assert cli_image() in text  # recipes run the published CLI image of this version
    gh = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    steps = gh["jobs"]["mcdiag"]["steps"]
    run = next(s for s in steps if s.get("name") == "mcdiag")["run"]
    assert run.split()[:2] == ["mcdiag", "all"] and "--report-dir reports" in run
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and s["if"] == "always()" for s in steps)
    assert next(s for s in steps if s.get("name") == "JUnit")["with"]["report_paths"] == "reports/mcdiag-junit.xml"
    gl = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    job = gl["mcdiag"]
    assert job["artifacts"]["reports"]["junit"] == "reports/mcdiag-junit.xml" and job["artifacts"]["when"] == "always"
    assert "reports/mcdiag.html" in job["artifacts"]["paths"]
    assert job["script"][0].startswith("mcdiag all ")
    jenkins = (ROOT / "docs" / "ci" / "Jenkinsfile").read_text()
    code = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"|//[^\n]*", "", jenkins)  # strings and comments out
    depth = 0
    for ch in code:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0 and code.count("(") == code.count(")") and code.count("[") == code.count("]")
    assert re.search(r"^pipeline \{", jenkins, re.M) and "junit testResults: 'reports/mcdiag-junit.xml'" in jenkins
    assert "publishHTML" in jenkins and "reportFiles: 'mcdiag.html'" in jenkins
