"""The edges to a real Alertmanager: ``amtool check-config`` on a generated file, and its v2 HTTP
API (post alerts, list alerts) over plain HTTP. Used by ``infermeter alerts`` and the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from infermeter.alerts import conventions as c
from infermeter.errors import InfermeterError


class AlertmanagerUnavailable(InfermeterError):
    """Alertmanager could not be reached or refused the request."""

    exit_code = 3


def find_alertmanager() -> str | None:
    """The Alertmanager binary: ``alertmanager`` upstream, ``prometheus-alertmanager`` on Debian."""
    for name in c.ALERTMANAGER_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    output: str


def check_config(text: str, timeout: float = 60) -> CheckResult:
    """``amtool check-config`` on configuration text (written to a temporary file)."""
    amtool = shutil.which("amtool")
    if amtool is None:
        raise FileNotFoundError("amtool is not installed (Debian/Ubuntu: apt-get install prometheus-alertmanager)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(text, encoding="utf-8")
        proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=timeout)
    return CheckResult(proc.returncode == 0, proc.stdout + proc.stderr)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def synthetic_alert(
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    duration: timedelta = timedelta(minutes=5),
    resolve: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A v2 ``postableAlert``: firing for ``duration`` from now, or resolved now."""
    now = now or datetime.now(timezone.utc)
    return {
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": _iso(now - timedelta(seconds=1) if resolve else now),
        "endsAt": _iso(now if resolve else now + duration),
        "generatorURL": "infermeter://alerts/test",
    }


def _request(url: str, method: str = "GET", body: Any = None, timeout: float = 10) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()[:300]
        raise AlertmanagerUnavailable(f"{url}: Alertmanager answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertmanagerUnavailable(f"{url}: cannot reach Alertmanager: {reason}") from None
    return json.loads(payload) if payload.strip() else None


def post_alerts(base_url: str, alerts: list[dict[str, Any]], timeout: float = 10) -> None:
    """POST to ``/api/v2/alerts``."""
    _request(base_url.rstrip("/") + c.ALERTS_API_PATH, "POST", alerts, timeout)


def get_alerts(base_url: str, timeout: float = 10) -> list[dict[str, Any]]:
    """GET ``/api/v2/alerts``: every alert with its ``status`` (``inhibitedBy``, ``silencedBy``)."""
    return _request(base_url.rstrip("/") + c.ALERTS_API_PATH, timeout=timeout) or []
