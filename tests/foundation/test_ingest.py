"""`infermeter ingest`: good lines stored, bad lines quarantined with line numbers, reruns stored once."""

from __future__ import annotations

import json

import pytest

from infermeter.ingest.jsonl import ingest_file
from infermeter.ingest.runtime import open_writer
from tests.support import run_cli

GOOD = [
    {"event_id": "e1", "ts": "2026-10-01T10:00:00Z", "tenant": "acme", "model": "llama-3-70b", "input_tokens": 100, "output_tokens": 20, "duration_ms": 850, "ttft_ms": 120},
    {"event_id": "e2", "ts": 1790000000, "tenant": "globex", "model": "mistral-7b", "input_tokens": 50, "cached_input_tokens": 10, "output_tokens": 5, "status_code": 500, "error_type": "upstream"},
    {"event_id": "e3", "ts": 1790000000123, "tenant": "acme", "model": "llama-3-70b", "input_tokens": 7, "attributes": {"region": "eu"}},
]
BAD = {
    3: ("{not json", "invalid JSON"),
    4: (json.dumps({"event_id": "b1", "ts": "2026-10-01T10:00:00Z", "tenant": "acme", "model": "m", "input_tokens": -5}), "input_tokens: Input should be greater than or equal to 0"),
    5: (json.dumps({"event_id": "b2", "ts": "2026-10-01T10:00:00Z", "model": "m"}), "tenant: Field required"),
    6: (json.dumps({"event_id": "b3", "ts": "2026-10-01T10:00:00Z", "tenant": "a", "model": "m", "input_tokns": 3}), "input_tokns: unknown field"),
    7: (json.dumps([1, 2]), "expected a JSON object"),
    8: (json.dumps({"event_id": "b4", "ts": "2026-10-01", "tenant": "a", "model": "m", "input_tokens": 1, "cached_input_tokens": 2}), "cached_input_tokens (2) exceeds input_tokens (1)"),
}


def make_file(tmp_path):
    lines = [json.dumps(GOOD[0]), json.dumps(GOOD[1])]
    for n in sorted(BAD):
        lines.append(BAD[n][0])
    lines.append("")
    lines.append(json.dumps(GOOD[2]))
    p = tmp_path / "usage.jsonl"
    p.write_bytes(("\n".join(lines) + "\n").encode() + b'{"event_id": "\xff\xfe"}\n')
    return p, len(lines) + 1


def test_good_lines_stored_bad_lines_quarantined(store, settings_for, tmp_path):
    path, total = make_file(tmp_path)
    settings = settings_for(store.database)
    writer = open_writer(settings, store, "t", background=False)
    result = ingest_file(path, "usage", writer)
    writer.close()
    assert (result.lines, result.stored, result.quarantined, result.blank) == (total, 3, 7, 1)
    assert store.query_rows("SELECT event_id, tenant, input_tokens, cached_input_tokens FROM usage FINAL ORDER BY event_id") == [
        ("e1", "acme", 100, 0), ("e2", "globex", 50, 10), ("e3", "acme", 7, 0)
    ]
    assert store.query_scalar("SELECT attributes['region'] FROM usage WHERE event_id = 'e3'") == "eu"
    quarantined = dict(store.query_rows("SELECT line, reason FROM quarantine FINAL ORDER BY line"))
    for line, (_, reason) in BAD.items():
        assert reason in quarantined[line], (line, quarantined[line])
    assert "not UTF-8" in quarantined[total]
    assert store.query_scalar("SELECT payload FROM quarantine WHERE line = 3") == "{not json"


def test_same_file_twice_is_stored_once(store, settings_for, tmp_path):
    path, _ = make_file(tmp_path)
    settings = settings_for(store.database)
    for _ in range(2):
        writer = open_writer(settings, store, "t", background=False)
        ingest_file(path, "usage", writer, chunk_lines=2)
        writer.close()
    assert store.query_scalar("SELECT count() FROM usage") == 3
    assert store.query_scalar("SELECT count() FROM quarantine") == 7


def test_allocation_kind(store, settings_for, tmp_path):
    p = tmp_path / "alloc.jsonl"
    p.write_text(
        json.dumps({"ts": "2026-10-01T00:00:00Z", "interval_s": 60, "deployment": "llama", "instance": "pod-a", "gpu_uuid": "GPU-1", "gpu_model": "H100"}) + "\n"
        + json.dumps({"ts": "2026-10-01T00:00:00Z", "interval_s": 60, "deployment": "llama", "instance": "pod-b", "gpu_uuid": "GPU-2", "gpu_model": "H100", "mig_profile": "3g.40gb", "fraction": 0.5}) + "\n"
        + json.dumps({"ts": "2026-10-01T00:00:00Z", "interval_s": 60, "deployment": "x", "instance": "y", "gpu_uuid": "z", "gpu_model": "H100", "fraction": 1.5}) + "\n"
    )
    writer = open_writer(settings_for(store.database), store, "t", background=False)
    result = ingest_file(p, "allocation", writer)
    writer.close()
    assert (result.stored, result.quarantined) == (2, 1)
    assert store.query_scalar("SELECT sum(interval_s * fraction) FROM gpu_allocation") == 90.0


def test_cli_ingest_end_to_end(tmp_path):
    path, _ = make_file(tmp_path)
    url = f"chdb://{tmp_path / 'store'}"
    first = run_cli("ingest", str(path), "--kind", "usage", "--store", url)
    assert first.returncode == 0, first.stderr
    assert "3 stored, 7 quarantined" in first.stdout
    strict = run_cli("ingest", str(path), "--kind", "usage", "--store", url, "--strict")
    assert strict.returncode == 1
    q = run_cli("db", "query", "SELECT count() AS n FROM usage", "--store", url, "--format", "json")
    assert json.loads(q.stdout) == {"n": 3}
    bad_kind = run_cli("ingest", str(path), "--kind", "nope", "--store", url)
    assert bad_kind.returncode == 2 and "unknown kind 'nope'" in bad_kind.stderr
    missing = run_cli("ingest", str(tmp_path / "missing.jsonl"), "--kind", "usage", "--store", url)
    assert missing.returncode == 2 and "no such file" in missing.stderr
