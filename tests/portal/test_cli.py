"""``infermeter portal``: the real console script on a real socket."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import requests

from tests.portal.conftest import ADMIN_TOKEN, sha
from tests.support import REPO, run_cli


def test_help():
    out = run_cli("portal", "--help")
    assert out.returncode == 0
    for option in ("--config", "--store", "--host", "--port"):
        assert option in out.stdout


def test_refuses_to_start_without_any_way_to_log_in(tmp_path):
    out = run_cli("portal", "--store", f"chdb://{tmp_path / 'data'}", "--port", "0")
    assert out.returncode == 2
    assert "no way to log in is configured" in out.stderr


def test_anonymous_admin_is_refused_off_loopback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("portal:\n  auth:\n    anonymous_admin: true\n")
    out = run_cli("portal", "-c", str(cfg), "--store", f"chdb://{tmp_path / 'data'}", "--host", "0.0.0.0")
    assert out.returncode == 2
    assert "anonymous_admin is allowed only when host is a loopback" in out.stderr


def test_serves_pages_with_auth_and_stops_on_sigterm(tmp_path):
    cfg = tmp_path / "infermeter.yaml"
    cfg.write_text(
        "portal:\n  auth:\n    tokens:\n"
        f"      - {{name: ops, sha256: {sha(ADMIN_TOKEN)}, admin: true}}\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    env.pop("INFERMETER_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "infermeter", "portal", "-c", str(cfg), "--store", f"chdb://{tmp_path / 'data'}", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 60
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"portal on (http://\S+/)", line)
            url = found.group(1) if found else None
        assert url, "".join(lines)
        assert ADMIN_TOKEN not in "".join(lines)
        assert requests.get(url + "healthz", timeout=10).text == "ok\n"
        assert requests.get(url + "_dash-layout", timeout=10).status_code == 401
        page = requests.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert page.status_code == 200 and "_dash-config" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode in (0, 143)
