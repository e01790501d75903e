"""Helpers for tests: upstream fixtures, system binaries, Docker, the real CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

def shared_dir() -> Path:
    """The upstream fixtures beside the checkout (``../shared``), or $INFERMETER_SHARED."""
    return Path(os.environ.get("INFERMETER_SHARED") or REPO.parent / "shared")


def require_binary(name: str, package: str) -> str:
    """Path of a system binary; missing: fail under CI=true, skip elsewhere, naming the package."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found: install the Debian package '{package}' (make test does it as root)"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


def docker_reason() -> str | None:
    """None when a Docker engine answers a real ping, else why not."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return None
    except Exception as exc:  # no socket, no permission, engine down
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"


_DOCKER_REASON: list[str | None] = []


def docker_skip_reason() -> str | None:
    if not _DOCKER_REASON:
        _DOCKER_REASON.append(docker_reason())
    return _DOCKER_REASON[0]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run the real console script in a subprocess (a fresh process: its own chdb lock)."""
    import subprocess

    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("INFERMETER_CONFIG", None) if "INFERMETER_CONFIG" not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "infermeter", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def free_port() -> int:
    """A free loopback TCP port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backfilled_prometheus(openmetrics_file: Path, work: Path, scrape_interval: str = "1m"):
    """A context manager: the Debian Prometheus serving a TSDB that promtool backfilled from an
    OpenMetrics file; yields its base URL and always stops the process."""
    import contextlib
    import subprocess
    import time
    import urllib.request

    @contextlib.contextmanager
    def run():
        promtool = require_binary("promtool", "prometheus")
        server = require_binary("prometheus", "prometheus")
        tsdb = work / "tsdb"
        done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics_file), str(tsdb)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        config = work / "prometheus.yml"
        config.write_text(f"global:\n  scrape_interval: {scrape_interval}\n", encoding="utf-8")
        port = free_port()
        log_path = work / "prometheus.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [server, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
                 f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d"],
                stdout=log, stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                            if resp.status == 200:
                                break
                    except OSError:
                        pass
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        pytest.fail("prometheus did not become ready:\n" + log_path.read_text()[-3000:])
                    time.sleep(0.2)
                yield url
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()

    return run()
