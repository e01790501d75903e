"""Configuration: YAML, environment, unknown keys named by path, secrets never shown."""

from __future__ import annotations

import pytest

from infermeter.config import load_settings
from infermeter.errors import ConfigError
from tests.support import run_cli


def write(tmp_path, text: str):
    p = tmp_path / "infermeter.yaml"
    p.write_text(text)
    return p


def test_yaml_file_and_defaults(tmp_path):
    cfg = write(tmp_path, "store:\n  url: chdb:///var/lib/im\n  database: fleet\nwriter:\n  max_batch_rows: 1000\n")
    s = load_settings(cfg)
    assert s.store.url == "chdb:///var/lib/im"
    assert s.store.database == "fleet"
    assert s.writer.max_batch_rows == 1000
    assert s.writer.max_batch_age_s == 2.0  # default kept
    assert str(s.resolved_data_dir()) == "/var/lib/im"


def test_environment_overrides_file_with_nested_delimiter(tmp_path, monkeypatch):
    cfg = write(tmp_path, "store:\n  database: fromfile\n")
    monkeypatch.setenv("INFERMETER_STORE__DATABASE", "fromenv")
    monkeypatch.setenv("INFERMETER_WRITER__DURABLE", "false")
    s = load_settings(cfg)
    assert s.store.database == "fromenv"
    assert s.writer.durable is False


def test_config_env_variable_names_the_file(tmp_path, monkeypatch):
    cfg = write(tmp_path, "store:\n  database: viaenv\n")
    monkeypatch.setenv("INFERMETER_CONFIG", str(cfg))
    assert load_settings().store.database == "viaenv"


def test_unknown_key_is_named_with_its_path(tmp_path):
    cfg = write(tmp_path, "store:\n  url: chdb://x\n  databse: typo\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert str(cfg) in str(exc.value)
    assert "store.databse: unknown key" in str(exc.value)


def test_unknown_top_level_section(tmp_path):
    with pytest.raises(ConfigError, match=r"storage: unknown key"):
        load_settings(write(tmp_path, "storage: {}\n"))


def test_invalid_yaml_names_line(tmp_path):
    with pytest.raises(ConfigError, match=r"infermeter.yaml:2:\d+: invalid YAML: mapping values are not allowed"):
        load_settings(write(tmp_path, "store:\n  url: a: b\n"))


def test_wrong_value_names_field(tmp_path):
    with pytest.raises(ConfigError, match=r"writer.max_batch_rows: Input should be greater than or equal to 1"):
        load_settings(write(tmp_path, "writer:\n  max_batch_rows: 0\n"))


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings("/nonexistent/infermeter.yaml")


def test_secrets_never_in_repr(tmp_path):
    cfg = write(tmp_path, "store:\n  url: clickhouse://u:hunter2@db:8123/x\n  password: s3cret\n")
    s = load_settings(cfg)
    assert s.store.password.get_secret_value() == "s3cret"
    for text in (repr(s), str(s), repr(s.store)):
        assert "s3cret" not in text and "hunter2" not in text


def test_cli_reports_bad_config_in_one_line(tmp_path):
    cfg = write(tmp_path, "store:\n  url: chdb://x\n  nope: 1\n")
    proc = run_cli("db", "query", "SELECT 1", "--config", str(cfg))
    assert proc.returncode == 2
    assert "store.nope: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
