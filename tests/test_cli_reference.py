"""docs/cli.md lists every command and option exactly as the CLI defines them."""

from infermeter.cli.reference import render
from tests.support import REPO


def test_cli_reference_is_complete_and_current():
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: python -m infermeter.cli.reference > docs/cli.md"


def test_every_command_is_in_the_reference():
    text = render()
    for command in ("demo", "simulate", "up", "portal", "exporter run", "slo report", "alerts generate",
                    "chargeback run", "chargeback report", "dashboards generate", "db migrate", "ingest"):
        assert f"`infermeter {command}`" in text, command
