"""``infermeter ingest FILE --kind usage|allocation``: JSON lines into the store.

Each valid line becomes a row; each bad line goes to ``quarantine`` with its line number, the
reason and the raw text, and the rest of the file is still stored. Batches carry tokens derived
from the file's content, so running the same file twice stores it once (and ``usage`` rows are
also deduplicated by ``event_id`` in every report).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from infermeter.errors import ConfigError
from infermeter.ingest import conventions, schemas
from infermeter.ingest.models import AllocationHeartbeat, UsageEvent, allocation_row, usage_row
from infermeter.ingest.writer import Writer

_KINDS = {
    "usage": (UsageEvent, usage_row, conventions.USAGE, schemas.USAGE),
    "allocation": (AllocationHeartbeat, allocation_row, conventions.GPU_ALLOCATION, schemas.GPU_ALLOCATION),
}


@dataclass
class IngestResult:
    lines: int = 0
    stored: int = 0
    quarantined: int = 0
    blank: int = 0


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def explain(exc: ValidationError) -> str:
    """A one-line reason naming each bad field."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(event)"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def ingest_file(
    path: str | Path,
    kind: str,
    writer: Writer,
    *,
    chunk_lines: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Validate and write every line of ``path``; returns counts."""
    if kind not in _KINDS:
        raise ConfigError(f"unknown kind {kind!r}; use one of: {', '.join(_KINDS)}")
    model, to_row, table, schema = _KINDS[kind]
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    # Deterministic batch tokens: same content, same tokens, stored once.
    writer.writer_id = f"file-{kind}-{file_digest(path)[:24]}"
    writer._seq = 0
    origin = str(path.resolve())
    result = IngestResult()
    rows: list[dict] = []
    bad: list[dict] = []
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    def flush() -> None:
        if rows:
            writer.write_rows(table, rows, schema)
            writer.flush(table)
        if bad:
            writer.write_rows(conventions.QUARANTINE, bad, schemas.QUARANTINE)
            writer.flush(conventions.QUARANTINE)
        if progress:
            progress(len(rows) + len(bad))
        rows.clear()
        bad.clear()

    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            result.lines += 1
            text = raw.rstrip(b"\r\n")
            if not text.strip():
                result.blank += 1
                continue
            reason = None
            try:
                decoded = text.decode("utf-8")
                data = json.loads(decoded)
                if not isinstance(data, dict):
                    raise ValueError(f"expected a JSON object, got {type(data).__name__}")
                event = model.model_validate(data)
                rows.append(to_row(event))
                result.stored += 1
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 at byte {exc.start}"
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
            except ValidationError as exc:
                reason = explain(exc)
            except ValueError as exc:
                reason = str(exc)
            if reason is not None:
                result.quarantined += 1
                bad.append(
                    {
                        "ts": now,
                        "kind": kind,
                        "origin": origin,
                        "line": number,
                        "reason": reason,
                        "payload": text.decode("utf-8", errors="replace"),
                    }
                )
            if len(rows) + len(bad) >= chunk_lines:
                flush()
    flush()
    return result
