"""PDF through a real renderer: the HTML report printed by headless Chromium (Debian's `chromium`).

The page carries plotly.js inline; Chromium runs it under a virtual-time budget, so the charts are
drawn before the page is printed (the budget advances only while the page is busy, so it costs
little on a quiet page). Override the binary with ``$INFERMETER_CHROMIUM``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from infermeter.errors import EXIT_UNAVAILABLE, InfermeterError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VIRTUAL_TIME_BUDGET_MS = 20_000
TIMEOUT_S = 180


class RendererUnavailable(InfermeterError):
    """No headless browser to print the PDF with (exit code 3)."""

    exit_code = EXIT_UNAVAILABLE


class RenderFailed(InfermeterError):
    """The browser ran but produced no PDF (exit code 1)."""


def find_chromium() -> str:
    override = os.environ.get("INFERMETER_CHROMIUM")
    if override:
        if shutil.which(override):
            return shutil.which(override)  # type: ignore[return-value]
        raise RendererUnavailable(f"$INFERMETER_CHROMIUM={override!r} is not an executable")
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise RendererUnavailable(
        "PDF needs headless Chromium: install the Debian package 'chromium' (or set $INFERMETER_CHROMIUM)"
    )


def html_to_pdf(html: bytes, *, timeout_s: float = TIMEOUT_S) -> bytes:
    """Print an HTML page to PDF with headless Chromium; returns the PDF bytes."""
    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="infermeter-pdf-") as tmp:
        work = Path(tmp)
        page = work / "report.html"
        out = work / "report.pdf"
        page.write_bytes(html)
        cmd = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={work / 'profile'}",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        env = {**os.environ, "HOME": str(work)}
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, env=env, cwd=work)
        except subprocess.TimeoutExpired:
            raise RenderFailed(f"{binary} did not print the PDF within {timeout_s:.0f} s") from None
        except OSError as exc:
            raise RendererUnavailable(f"cannot run {binary}: {exc.strerror}") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = (proc.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            raise RenderFailed(f"{binary} exited {proc.returncode} without a PDF: {' | '.join(tail)}")
        return out.read_bytes()
