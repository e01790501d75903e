"""Running ``promtool`` (from the Prometheus package) on generated rules: ``check rules`` for
syntax and ``test rules`` for behaviour. Used by the tests; optional everywhere else."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class PromtoolResult:
    ok: bool
    output: str


def find_promtool() -> str | None:
    return shutil.which("promtool")


def rule_groups_text(text: str) -> str:
    """The rule groups of generated output: every document's ``groups``, or a PrometheusRule's
    ``spec.groups``, merged into one rule file."""
    groups: list[Any] = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if doc.get("kind") == "PrometheusRule":
            doc = doc["spec"]
        groups.extend(doc.get("groups", []))
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=10_000)


def _run(args: list[str], cwd: Path, timeout: int) -> PromtoolResult:
    promtool = find_promtool()
    if promtool is None:
        raise FileNotFoundError("promtool is not installed (Debian/Ubuntu: apt-get install prometheus)")
    proc = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return PromtoolResult(proc.returncode == 0, proc.stdout + proc.stderr)


def check_rules(text: str, timeout: int = 60) -> PromtoolResult:
    """``promtool check rules`` on generated output (a rule file or PrometheusRule objects)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(rule_groups_text(text), encoding="utf-8")
        return _run(["check", "rules", str(path)], Path(tmp), timeout)


def test_rules(rules_text: str, tests: dict[str, Any], timeout: int = 300) -> PromtoolResult:
    """``promtool test rules`` with a test file built from ``tests`` (``evaluation_interval``,
    ``tests``); ``rule_files`` is filled in."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.yaml").write_text(rule_groups_text(rules_text), encoding="utf-8")
        suite = {"rule_files": ["rules.yaml"], **tests}
        (Path(tmp) / "test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, width=10_000), encoding="utf-8")
        return _run(["test", "rules", "test.yaml"], Path(tmp), timeout)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
