"""``infermeter exporter parse``: JSON lines, the table, errors on stderr and exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infermeter.cli.exporter import app
from infermeter.errors import ConfigError

PAGE = """\
# HELP nv_inference_request_success Number of successful inference requests
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="simple",version="1"} 161
# TYPE temp gauge
temp{gpu="0",note="quo\\"te \\\\ and\\nnewline"} NaN
temp{gpu="1"} +Inf 1700000000123
temp{gpu="2"} -Inf
"""

runner = CliRunner()


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.prom"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_json_lines_are_valid_json_with_special_values_as_strings(page_file: Path) -> None:
    result = runner.invoke(app, ["parse", str(page_file), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records == [
        {
            "name": "nv_inference_request_success",
            "labels": {"model": "simple", "version": "1"},
            "value": 161.0,
            "timestamp_ms": None,
        },
        {
            "name": "temp",
            "labels": {"gpu": "0", "note": 'quo"te \\ and\nnewline'},
            "value": "NaN",
            "timestamp_ms": None,
        },
        {"name": "temp", "labels": {"gpu": "1"}, "value": "+Inf", "timestamp_ms": 1700000000123},
        {"name": "temp", "labels": {"gpu": "2"}, "value": "-Inf", "timestamp_ms": None},
    ]
    assert result.stderr == ""


def test_json_output_of_stdin() -> None:
    result = runner.invoke(app, ["parse", "-", "--json"], input="a 1\n# EOF\n")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"name": "a", "labels": {}, "value": 1.0, "timestamp_ms": None}


def test_table_output(page_file: Path) -> None:
    result = runner.invoke(app, ["parse", str(page_file)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("nv_inference_request_success", "counter", "gauge", "NaN", "+Inf", "1700000000123", 'gpu="1"'):
        assert text in result.stdout
    assert "4 samples, 2 families (Prometheus text format), 0 malformed lines" in result.stdout


def test_malformed_lines_go_to_stderr_with_line_numbers_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.prom"
    path.write_text(PAGE.replace('temp{gpu="1"}', "temp{gpu=1}") + "garbage\n", encoding="utf-8")
    result = runner.invoke(app, ["parse", str(path), "--json"])
    assert result.exit_code == 1
    assert [json.loads(line)["labels"].get("gpu") for line in result.stdout.splitlines()] == [None, "0", "2"]
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"{path}:6: ") and "not quoted" in errors[0]
    assert errors[1].startswith(f"{path}:8: ")


def test_missing_or_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["parse", str(tmp_path / "absent.prom")])
    assert isinstance(missing.exception, ConfigError) and missing.exception.exit_code == 2
    assert "no such file" in str(missing.exception)
    directory = runner.invoke(app, ["parse", str(tmp_path)])
    assert isinstance(directory.exception, ConfigError) and "directory" in str(directory.exception)
    binary = tmp_path / "binary.prom"
    binary.write_bytes(b"a 1\n\xff\xfe\n")
    undecodable = runner.invoke(app, ["parse", str(binary)])
    assert isinstance(undecodable.exception, ConfigError) and "UTF-8" in str(undecodable.exception)


def test_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "om.txt"
    path.write_text("a 1 1.5\n", encoding="utf-8")
    forced = runner.invoke(app, ["parse", str(path), "--json", "--openmetrics"])
    assert json.loads(forced.stdout.splitlines()[0])["timestamp_ms"] == 1500
    assert forced.exit_code == 1 and "missing # EOF" in forced.stderr


def test_the_console_script_exit_codes(page_file: Path, tmp_path: Path) -> None:
    """End to end through ``python -m infermeter``: 0 clean, 1 malformed lines, 2 missing file."""

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "infermeter", "exporter", "parse", *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, check=False)

    clean = run(str(page_file), "--json")
    assert clean.returncode == 0, clean.stderr
    values = [json.loads(line)["value"] for line in clean.stdout.splitlines()]
    assert values[1:] == ["NaN", "+Inf", "-Inf"] and not math.isnan(values[0])
    broken = run("-", "--json", stdin="a 1\nnot a sample\n")
    assert broken.returncode == 1 and broken.stderr.strip() == "<stdin>:2: invalid value 'a'"
    assert json.loads(broken.stdout) == {"name": "a", "labels": {}, "value": 1.0, "timestamp_ms": None}
    missing = run(str(tmp_path / "absent.prom"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
