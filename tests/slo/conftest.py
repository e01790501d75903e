"""Fixtures for the SLO engine tests: the shared Sloth fixtures, promtool, and spec helpers."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from infermeter.slo.promtool import find_promtool
from infermeter.slo.render import Header
from infermeter.slo.service import Settings, generate_file
from tests.support import shared_dir



SHARED = shared_dir()
SLOTH_FIXTURES = SHARED / "fixtures" / "sloth"
SLOTH_HEADER = Header("Sloth", "v0.16.0", "https://github.com/slok/sloth")


@pytest.fixture(scope="session")
def sloth_fixtures() -> Path:
    if not SLOTH_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {SLOTH_FIXTURES} (set INFERMETER_SHARED)")
    return SLOTH_FIXTURES


@pytest.fixture(scope="session")
def promtool() -> str:
    path = find_promtool()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required under CI=true (apt-get install prometheus)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


@pytest.fixture
def spec_file(tmp_path: Path):
    """Write a (dedented) spec text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def generate(path: Path, **settings) -> str:
    text, _ = generate_file(path, Settings(**settings))
    return text
