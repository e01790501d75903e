"""A writer process killed (SIGKILL mid-batch) or terminated (SIGTERM) loses nothing, twice nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("writer_child.py")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def replay(store: Path, spool: Path) -> tuple[int, int, int, int]:
    out = subprocess.run([sys.executable, str(CHILD), "replay", str(store), str(spool)], capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(int(x) for x in out.stdout.split())  # type: ignore[return-value]


def wait_for(proc: subprocess.Popen, prefix: str, count: int, timeout: float = 120) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if sum(1 for x in lines if x.startswith(prefix)) >= count:
            return lines
    raise AssertionError(f"child said {lines}; stderr: {proc.stderr.read()}")


@pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.08])
def test_sigkill_mid_batch_then_restart(tmp_path, delay_s):
    store, spool = tmp_path / "store", tmp_path / "spool"
    rows = 150_000
    proc = start("write", str(store), str(spool), "12", str(rows))
    try:
        lines = wait_for(proc, "acked", 3)
        time.sleep(delay_s)  # land inside the next batch's spool write or insert
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    acked = sum(1 for x in lines if x.startswith("acked"))
    n, distinct, batches, remaining = replay(store, spool)
    assert remaining == 0
    assert n == distinct, "a row was stored twice"
    assert n % rows == 0, "a batch was stored in part"
    assert batches >= acked, "an acknowledged batch was lost"
    # Replaying again changes nothing.
    assert replay(store, spool)[:3] == (n, distinct, batches)


def test_sigterm_flushes_the_buffer(tmp_path):
    store, spool = tmp_path / "store", tmp_path / "spool"
    proc = start("write", str(store), str(spool), "3", "10000", "--buffered")
    wait_for(proc, "done", 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert "closed" in out, err
    n, distinct, batches, remaining = replay(store, spool)
    assert (n, distinct, batches, remaining) == (15_000, 15_000, 3, 0)
