"""Fixtures for the alerting tests: the Debian binaries and spec helpers."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from infermeter.alerts.alertmanager import find_alertmanager
from tests.support import REPO, require_binary

HERE = Path(__file__).parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"
EXAMPLE = REPO / "examples" / "routing.yaml"
UPDATE = os.environ.get("INFERMETER_UPDATE_GOLDENS") == "1"


def golden(name: str, text: str) -> str:
    """The golden file's text (rewritten first under INFERMETER_UPDATE_GOLDENS=1)."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_binary("amtool", "prometheus-alertmanager")


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool", "prometheus")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_binary("prometheus", "prometheus")


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    return find_alertmanager() or require_binary("prometheus-alertmanager", "prometheus-alertmanager")


@pytest.fixture
def write(tmp_path: Path):
    """Write a (dedented) text to a file under tmp_path and return its path."""

    def _write(text: str, name: str = "routing.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write
