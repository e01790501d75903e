"""One owner for the embedded store: commands go direct when it is free, through `up` when held."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support import run_cli


def start_up(store_dir, ready):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "infermeter", "up", "--store", f"chdb://{store_dir}", "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"up did not start: {proc.communicate()}")
        time.sleep(0.1)
    return proc


def test_commands_go_through_the_owner_then_direct(tmp_path):
    store_dir, ready = tmp_path / "store", tmp_path / "ready"
    events = tmp_path / "u.jsonl"
    events.write_text(json.dumps({"event_id": "a", "ts": "2026-11-01T00:00:00Z", "tenant": "t", "model": "m", "input_tokens": 3}) + "\n{bad\n")
    up = start_up(store_dir, ready)
    try:
        owner = json.loads((store_dir / "infermeter-owner.json").read_text())
        assert owner["pid"] == up.pid and owner["url"].startswith("http://127.0.0.1:")
        assert oct((store_dir / "infermeter-owner.json").stat().st_mode & 0o777) == "0o600"

        ing = run_cli("ingest", str(events), "--kind", "usage", "--store", f"chdb://{store_dir}")
        assert ing.returncode == 0, ing.stderr
        assert "1 stored, 1 quarantined" in ing.stdout
        q = run_cli("db", "query", "SELECT sum(input_tokens) AS n, {x:String} AS echo FROM usage", "-p", "x=it's", "--store", f"chdb://{store_dir}", "-f", "json")
        assert q.returncode == 0, q.stderr
        assert json.loads(q.stdout) == {"n": 3, "echo": "it's"}
        bad = run_cli("db", "query", "SELECT * FROM nope", "--store", f"chdb://{store_dir}")
        assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr
        # A second owner is refused with the holder named.
        second = run_cli("up", "--store", f"chdb://{store_dir}")
        assert second.returncode == 3 and str(up.pid) in second.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        out, err = up.communicate(timeout=60)
    assert up.returncode in (0, 143), err
    assert not (store_dir / "infermeter-owner.json").exists()
    direct = run_cli("db", "query", "SELECT count() AS n FROM quarantine", "--store", f"chdb://{store_dir}", "-f", "csv")
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout.splitlines() == ["n", "1"]


def test_a_holder_without_api_is_named(tmp_path):
    store_dir = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from infermeter.ingest.store.chdb_store import ChdbStore; s = ChdbStore({str(store_dir)!r}); print('held', flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = run_cli("db", "query", "SELECT 1", "--store", f"chdb://{store_dir}")
        assert proc.returncode == 3
        assert f"held by process {holder.pid}" in proc.stderr
        assert "infermeter up" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_wrong_token_is_refused(tmp_path):
    from infermeter.errors import StoreUnavailable
    from infermeter.ingest.store.owner import RemoteStore

    store_dir, ready = tmp_path / "store", tmp_path / "ready"
    up = start_up(store_dir, ready)
    try:
        owner = json.loads((store_dir / "infermeter-owner.json").read_text())
        with pytest.raises(StoreUnavailable, match="refused"):
            RemoteStore(owner["url"], "wrong-token", "infermeter").query_rows("SELECT 1")
        ok = RemoteStore(owner["url"], owner["token"], "infermeter")
        assert ok.query_rows("SELECT {v:String}", {"v": "a\tb"}) == [("a\tb",)]
    finally:
        up.send_signal(signal.SIGTERM)
        up.communicate(timeout=60)
