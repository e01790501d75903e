"""JSON-lines access-log tailer: field mapping, partial lines, rename and copytruncate rotation,
restarts from saved offsets, and the async runner; every line is read exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil

import pytest
from prometheus_client import CollectorRegistry

from infermeter.exporters.gateway import GatewayConfig, make_sink, run_tailers
from infermeter.exporters.gateway.normalize import key_hash
from infermeter.exporters.gateway.tailer import Tailer
from infermeter.ingest.runtime import open_writer

FIELDS = {
    "event_id": "request_id",
    "ts": "time",
    "tenant": "auth.team",
    "api_key": "auth.key",
    "input_tokens": "usage.prompt_tokens",
    "output_tokens": "usage.completion_tokens",
    "duration_ms": {"path": "latency_s", "scale": 1000},
    "status_code": "status",
}


def line(n: int, tenant: str = "acme", **over) -> str:
    record = {"request_id": f"r{n}", "time": f"2026-10-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
              "auth": {"team": tenant, "key": "sk-secret-key"}, "model": "llama-3-8b",
              "usage": {"prompt_tokens": n, "completion_tokens": 1}, "latency_s": 0.5, "status": 200,
              "http": {"route": "/v1/chat/completions"}}
    record.update(over)
    return json.dumps(record) + "\n"


def append(path, *texts: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(texts))


class Rig:
    """A sink on the test's store and tailers built like the sidecar builds them."""

    def __init__(self, store, settings, tmp_path, pattern: str, **tailer) -> None:
        self.store = store
        self.config = GatewayConfig.model_validate({
            "tailers": [{"name": "gw", "path": pattern, "fields": FIELDS, "static": {"deployment": "vllm-a"},
                         "attributes": {"route": "http.route"}, **tailer}],
            "offsets_dir": str(tmp_path / "offsets"),
        })
        self.writer = open_writer(settings, store, "gateway", background=False)
        self.registry = CollectorRegistry()
        self.sink = make_sink(self.config, self.writer, self.registry)
        self.tailer = self.new_tailer()

    def new_tailer(self) -> Tailer:
        """What a restarted sidecar builds: a fresh tailer reading the saved offsets."""
        return Tailer(self.config.tailers[0], self.config, self.sink, self.config.offsets_dir)

    def poll(self) -> int:
        return self.tailer.poll()

    def checkpoint(self) -> None:
        self.sink.flush()
        self.tailer.save()

    def restart(self) -> None:
        self.checkpoint()
        self.tailer.close()
        self.tailer = self.new_tailer()

    def accepted(self) -> int:
        return self.sink.counts[("jsonl:gw", "accepted")]

    def ids(self) -> list[str]:
        self.sink.flush()
        return [r[0] for r in self.store.query_rows("SELECT event_id FROM usage FINAL ORDER BY toUInt32(substring(event_id, 2))")]

    def close(self) -> None:
        self.tailer.close()
        self.writer.close()


@pytest.fixture
def rig(store, settings_for, tmp_path):
    rigs = []

    def make(pattern: str, **tailer) -> Rig:
        r = Rig(store, settings_for(store.database), tmp_path, pattern, **tailer)
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        r.close()


def expect(r: Rig, n: int) -> None:
    """Exactly lines r1..rn stored, each read once (no duplicate seen by the sink)."""
    assert r.ids() == [f"r{i}" for i in range(1, n + 1)]
    assert r.accepted() == n
    assert r.sink.counts[("jsonl:gw", "duplicate")] == 0


def test_field_mapping_and_quarantine(rig, tmp_path):
    log = tmp_path / "access.jsonl"
    append(log, line(1), "\n", "{broken json\n", line(2, tenant=None), json.dumps({"status": 200}) + "\n",
           line(3, usage={"prompt_tokens": 9, "completion_tokens": 2, "cached": 4}, status="503"))
    r = rig(str(log))
    assert r.poll() == 5
    r.sink.flush()
    rows = r.store.query_rows(
        "SELECT event_id, ts, tenant, api_key_id, model, deployment, input_tokens, output_tokens, duration_ms, "
        "status_code, attributes, source FROM usage FINAL ORDER BY event_id"
    )
    assert [row[0] for row in rows] == ["r1", "r3"]
    r1 = rows[0]
    assert r1[1].strftime("%H:%M:%S") == "10:00:01"
    assert r1[2:10] == ("acme", key_hash("sk-secret-key"), "llama-3-8b", "vllm-a", 1, 1, 500.0, 200)
    assert (dict(r1[10]), r1[11]) == ({"route": "/v1/chat/completions"}, "jsonl")
    assert rows[1][9] == 503
    quarantined = r.store.query_rows("SELECT line, reason, payload, origin FROM quarantine FINAL ORDER BY line")
    assert [(q[0], q[1].split(":")[0]) for q in quarantined] == [(3, "invalid JSON"), (4, "tenant"), (5, "ts")]
    assert quarantined[1][1] == "tenant: Field required (looked in field auth.team)"
    assert quarantined[0][3] == f"jsonl:{log}"
    # The raw key never reaches the store, not even in quarantine.
    assert "sk-secret-key" not in quarantined[1][2] and "<redacted>" in quarantined[1][2]
    assert r.registry.get_sample_value("infermeter_gateway_events_quarantined_total", {"input": "jsonl:gw"}) == 3


def test_missing_fields_name_the_mapped_path(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    record = json.loads(line(1))
    del record["auth"]["team"]
    append(log, json.dumps(record) + "\n")
    r = rig(str(log))
    r.poll()
    r.sink.flush()
    assert r.store.query_scalar("SELECT reason FROM quarantine FINAL") == "tenant: Field required (looked in field auth.team)"


def test_lines_without_an_id_get_a_content_hash(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    no_id = {k: v for k, v in json.loads(line(1)).items() if k != "request_id"}
    append(log, json.dumps(no_id) + "\n", json.dumps(no_id) + "\n")  # identical lines collapse
    r = rig(str(log))
    r.poll()
    r.sink.flush()
    assert r.store.query_scalar("SELECT count() FROM usage FINAL") == 1
    assert len(r.store.query_scalar("SELECT any(event_id) FROM usage FINAL")) == 32


def test_partial_last_line_is_never_lost_or_read_half(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    full = line(2)
    append(log, line(1), full[:25])
    r = rig(str(log))
    assert r.poll() == 1
    assert r.poll() == 0  # the half line waits
    append(log, full[25:], line(3)[:-1])  # line 3 without its newline
    assert r.poll() == 1
    r.restart()  # the offset saved sits at the start of the unfinished line 3
    append(log, "\n")
    assert r.poll() == 1
    expect(r, 3)


def test_rename_rotation(rig, tmp_path):
    log = tmp_path / "access.jsonl"
    append(log, line(1), line(2))
    r = rig(str(log))
    r.poll()
    append(log, line(3), line(4))  # written just before the rotation, not read yet
    os.rename(log, tmp_path / "access.jsonl.1")
    append(log, line(5))
    append(tmp_path / "access.jsonl.1", line(6))  # the server wrote once more through its old handle
    for _ in range(6):  # the old file is drained, then let go
        r.poll()
    append(log, line(7))
    r.poll()
    assert [s.path for s in r.tailer.files.values()] == [str(log)]
    assert sorted(r.ids(), key=lambda i: int(i[1:])) == [f"r{i}" for i in range(1, 8)]
    assert r.accepted() == 7


@pytest.mark.parametrize("poll_between_copy_and_truncate", [False, True])
def test_copytruncate_rotation(rig, tmp_path, poll_between_copy_and_truncate):
    log = tmp_path / "access.jsonl"
    append(log, line(1), line(2))
    r = rig(str(tmp_path / "access.jsonl*"))  # the pattern also matches the rotated copies
    r.poll()
    append(log, line(3))
    shutil.copyfile(log, tmp_path / "access.jsonl.1")  # logrotate copytruncate: copy ...
    if poll_between_copy_and_truncate:
        append(log, line(4))
        r.poll()
    else:
        append(log, line(4))  # written between the copy and the truncate: lost by copytruncate itself
    with open(log, "r+b") as fh:  # ... then truncate in place
        fh.truncate(0)
    append(log, line(5), line(6))
    r.poll()
    r.poll()
    ids = sorted(r.ids(), key=lambda i: int(i[1:]))
    want = [f"r{i}" for i in (1, 2, 3, 4, 5, 6)] if poll_between_copy_and_truncate else ["r1", "r2", "r3", "r5", "r6"]
    assert ids == want
    assert r.accepted() == len(want)  # nothing read twice


def test_truncated_to_a_larger_size_is_noticed_by_fingerprint(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    append(log, line(1))
    r = rig(str(log))
    r.poll()
    with open(log, "w", encoding="utf-8") as fh:  # rewritten in place, longer than before
        fh.write(line(2) + line(3))
    r.poll()
    expect(r, 3)


def test_restart_resumes_from_saved_offset(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    append(log, line(1), line(2))
    r = rig(str(log))
    r.poll()
    r.restart()
    append(log, line(3))
    r.poll()
    r.restart()
    r.poll()
    expect(r, 3)
    saved = json.loads((tmp_path / "offsets" / "gw.json").read_text())
    st = os.stat(log)
    assert saved["files"][0]["dev"] == st.st_dev and saved["files"][0]["ino"] == st.st_ino
    assert saved["files"][0]["offset"] == st.st_size


def test_rotation_while_stopped_is_found_by_identity(rig, tmp_path):
    log = tmp_path / "access.jsonl"
    append(log, line(1), line(2))
    r = rig(str(tmp_path / "access.jsonl*"))
    r.poll()
    r.restart()
    r.tailer.close()
    # While the sidecar is down: more lines, a rename rotation, a new file.
    append(log, line(3))
    os.rename(log, tmp_path / "access.jsonl.1")
    append(log, line(4))
    r.tailer = r.new_tailer()
    r.poll()
    expect(r, 4)


def test_rewritten_file_with_another_first_line_is_read_from_start(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    append(log, line(1), line(2))
    r = rig(str(log))
    r.poll()
    r.restart()
    r.tailer.close()
    with open(log, "r+", encoding="utf-8") as fh:  # same inode, new content, longer than the offset
        fh.seek(0)
        fh.write(line(3) + line(4) + line(5))
    r.tailer = r.new_tailer()
    r.poll()
    expect(r, 5)


def test_start_at_end_skips_history(rig, tmp_path):
    log = tmp_path / "a.jsonl"
    append(log, line(1), line(2), line(3)[:10])
    r = rig(str(log), start_at="end")
    assert r.poll() == 0
    append(log, line(3)[10:], line(4))
    r.poll()
    assert r.ids() == ["r3", "r4"]


@pytest.mark.parametrize("chunk", [1 << 20, 700])  # 700: the long line spans read chunks
def test_over_long_line_is_quarantined_and_skipped(rig, tmp_path, monkeypatch, chunk):
    from infermeter.exporters.gateway import tailer

    monkeypatch.setattr(tailer, "CHUNK", chunk)
    log = tmp_path / "a.jsonl"
    big = json.dumps({"request_id": "big", "pad": "x" * 5000}) + "\n"
    append(log, line(1), big[:3000])
    r = rig(str(log), max_line_bytes=1024)
    assert r.poll() == 1  # r1; the unfinished long line is not held in memory, nor consumed
    append(log, big[3000:], line(2))
    assert r.poll() == 2
    expect(r, 2)
    assert r.store.query_scalar("SELECT reason FROM quarantine FINAL") == "line longer than 1024 bytes"
    assert r.tailer.files[next(iter(r.tailer.files))].offset == log.stat().st_size


def test_run_tailers_saves_offsets_on_stop(store, settings_for, tmp_path):
    log = tmp_path / "a.jsonl"
    append(log, line(1), line(2))
    config = GatewayConfig.model_validate({
        "tailers": [{"path": str(log), "fields": FIELDS, "poll_interval_s": 0.05}],
        "checkpoint_interval_s": 0.1,
    })
    writer = open_writer(settings_for(store.database), store, "gateway", background=False)
    sink = make_sink(config, writer, None)

    async def scenario():
        stop = asyncio.Event()
        task = asyncio.create_task(run_tailers(config, sink, stop, offsets_dir=tmp_path / "offsets"))
        for _ in range(200):
            if sink.counts[("jsonl:a.jsonl", "accepted")] == 2:
                break
            await asyncio.sleep(0.02)
        append(log, line(3))
        stop.set()  # the runner reads what is left, flushes and saves
        await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    writer.close()
    assert store.query_scalar("SELECT count() FROM usage FINAL") == 3
    saved = json.loads((tmp_path / "offsets" / "a.jsonl.json").read_text())
    assert saved["files"][0]["offset"] == log.stat().st_size


def test_config_rejects_unknown_fields_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown usage field"):
        GatewayConfig.model_validate({"tailers": [{"path": "x", "fields": {"tenantt": "a"}}]})
    with pytest.raises(ValueError, match="duplicate name"):
        GatewayConfig.model_validate({"tailers": [{"path": "/a/x.jsonl"}, {"path": "/b/x.jsonl"}]})
    with pytest.raises(ValueError, match="Extra inputs"):
        GatewayConfig.model_validate({"tailer": []})
