"""Tail JSON-lines access logs into usage events; survives rotation, truncation and restarts.

Each configured tailer follows a path or a glob. Files are known by identity, ``(device, inode)``
plus a fingerprint, the SHA-256 of the first line (or of the first 4 KiB when that line is
longer), not by name, so:

- **rename rotation** (``access.jsonl`` -> ``access.jsonl.1``, a new ``access.jsonl``): the renamed
  file keeps its identity and is read to its end (for ``drain_polls`` polls after it leaves the
  pattern, since the writer may not have reopened yet); the new file is read from its start;
- **copytruncate**: the truncation is seen (the file is shorter than the offset, or its first
  line changed) and reading restarts at 0; a copy that the pattern matches (``access.jsonl*``) has
  the original's fingerprint and is read only from the original's offset, so lines are not read
  twice and the lines written between the last poll and the copy are not lost;
- **restarts**: offsets are saved in ``<offsets_dir>/<tailer>.json`` (written to a temporary file,
  fsynced and renamed) at every checkpoint, after the writer has flushed the lines read so far,
  and on stop. At start a file resumes at its saved offset when its identity and fingerprint
  match (a file renamed while the sidecar was down is found by identity, a moved copy by
  fingerprint); an inode reused by a new file has another fingerprint and is read from 0.

A partial last line (no newline yet) is never consumed: the offset stays at its start until the
line is complete. After a crash (not a clean stop) the lines read since the last checkpoint are
read again; their event ids (the mapped id, or a hash of the line) make that harmless in
``usage``. Compressed rotated files (``.gz``, ``.bz2``, ``.xz``, ``.zst``, ``.zip``) are skipped.
Files whose first lines are identical are taken for copies of each other.
"""

from __future__ import annotations

import asyncio
import copy
import glob
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from infermeter.errors import ConfigError
from infermeter.exporters.gateway import conventions as c
from infermeter.exporters.gateway.config import MAPPABLE_FIELDS, GatewayConfig, TailerConfig
from infermeter.exporters.gateway.normalize import (
    REDACTED,
    Candidate,
    api_key_id,
    compact_json,
    content_id,
    key_hash,
    lookup,
    scaled,
    stringify,
)
from infermeter.exporters.gateway.sink import UsageSink

log = logging.getLogger(__name__)

FP_BYTES = 4096
CHUNK = 1 << 20
BATCH_LINES = 5000
DRAIN_POLLS = 4
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4")
_TEXT_FIELDS = ("event_id", "tenant", "model", "deployment", "instance", "error_type")
_FIELDS = tuple(f for f in MAPPABLE_FIELDS if f != "api_key")


# --- one line -> usage fields (pure) --------------------------------------------------------------
def record_fields(tc: TailerConfig, config: GatewayConfig, record: Mapping[str, Any], raw: bytes) -> dict[str, Any]:
    """The usage fields of one log record under ``tc``'s mapping."""
    data: dict[str, Any] = {"source": c.SOURCE_JSONL}
    for name in _FIELDS:
        ref = tc.ref(name)
        value = lookup(record, ref.path) if ref is not None else None
        if value is None or value == "":
            value = tc.static.get(name)
        elif ref is not None and ref.scale != 1.0:
            value = scaled(value, ref.scale)
        if value is not None:
            data[name] = stringify(value) if name in _TEXT_FIELDS and not isinstance(value, str) else value
    if "api_key_id" in data:
        data["api_key_id"] = api_key_id(data["api_key_id"])
    else:
        ref = tc.ref("api_key")
        key = lookup(record, ref.path) if ref is not None else None
        if key:
            data["api_key_id"] = key_hash(stringify(key))
    if "tenant" not in data and config.default_tenant is not None:
        data["tenant"] = config.default_tenant
    data.setdefault("deployment", config.default_deployment)
    data.setdefault("instance", config.default_instance)
    data.setdefault("event_id", content_id(raw))
    attrs = {}
    for key, path in tc.attributes.items():
        value = lookup(record, path)
        if value is not None and value != "":
            attrs[key] = stringify(value)
    data["attributes"] = attrs
    return data


def _redacted(tc: TailerConfig, record: Mapping[str, Any], raw: bytes) -> str:
    ref = tc.ref("api_key")
    text = raw.decode("utf-8", errors="replace")
    if ref is None or lookup(record, ref.path) is None:
        return text
    clone = copy.deepcopy(dict(record))
    if ref.path in clone:
        clone[ref.path] = REDACTED
    else:
        node: Any = clone
        parts = ref.path.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and parts[-1] in node:
            node[parts[-1]] = REDACTED
    return compact_json(clone)


def line_candidate(tc: TailerConfig, config: GatewayConfig, raw: bytes, origin: str, line: int, hints) -> Candidate:
    text_payload = lambda: raw.decode("utf-8", errors="replace")  # noqa: E731
    try:
        record = json.loads(raw)
    except UnicodeDecodeError as exc:
        return Candidate(None, text_payload, origin, line, reason=f"not UTF-8 at byte {exc.start}")
    except ValueError as exc:
        return Candidate(None, text_payload, origin, line, reason=f"invalid JSON: {exc}")
    if not isinstance(record, dict):
        return Candidate(None, text_payload, origin, line, reason=f"expected a JSON object, got {type(record).__name__}")
    return Candidate(record_fields(tc, config, record, raw), lambda: _redacted(tc, record, raw), origin, line, hints=hints)


# --- file tracking ----------------------------------------------------------------------------------
@dataclass
class FileState:
    dev: int
    ino: int
    fingerprint: str | None
    offset: int = 0
    line: int = 0
    path: str = ""
    stamp: tuple[int, int] = (-1, -1)  # size and mtime at the last poll
    gone_polls: int = 0  # polls since the pattern stopped matching this file
    fh: BinaryIO | None = field(default=None, repr=False)

    def saved(self) -> dict[str, Any]:
        return {"dev": self.dev, "ino": self.ino, "fingerprint": self.fingerprint, "offset": self.offset,
                "line": self.line, "path": self.path}


def fingerprint(fh: BinaryIO) -> str | None:
    """SHA-256 of the first line (newline included), or of the first FP_BYTES; None while shorter."""
    fh.seek(0)
    head = fh.read(FP_BYTES)
    end = head.find(b"\n")
    if end >= 0:
        head = head[: end + 1]
    elif len(head) < FP_BYTES:
        return None
    return hashlib.sha256(head).hexdigest()


class Tailer:
    """One tailer's files; :meth:`poll` reads what is new (synchronous, run it in a thread)."""

    def __init__(self, tc: TailerConfig, config: GatewayConfig, sink: UsageSink, offsets_dir: Path) -> None:
        self.tc = tc
        self.config = config
        self.sink = sink
        self.name = tc.display_name()
        self.input_name = f"{c.SOURCE_JSONL}:{self.name}"
        self.offsets_path = Path(offsets_dir) / f"{self.name}.json"
        self.files: dict[tuple[int, int], FileState] = {}
        self.hints = {"tenant": f"field {tc.ref('tenant').path if tc.ref('tenant') else 'tenant'}",
                      "model": f"field {tc.ref('model').path if tc.ref('model') else 'model'}"}
        self._saved = self._load()
        self._first_scan = True
        self.lines_read = 0

    # -- offsets --------------------------------------------------------------------------
    def _load(self) -> list[dict[str, Any]]:
        try:
            doc = json.loads(self.offsets_path.read_text(encoding="utf-8"))
            files = doc["files"]
            return [f for f in files if isinstance(f, dict) and {"dev", "ino", "offset"} <= set(f)]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, OSError) as exc:
            log.warning("%s: unreadable offsets (%s); starting without them", self.offsets_path, exc)
            return []

    def save(self) -> None:
        """Write the offsets atomically (after the sink has flushed what they cover)."""
        self.offsets_path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": 1, "tailer": self.name, "pattern": self.tc.path,
               "files": [s.saved() for s in self.files.values()]}
        tmp = self.offsets_path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.offsets_path)

    # -- polling ----------------------------------------------------------------------------
    def _paths(self) -> list[str]:
        pattern = os.path.expanduser(self.tc.path)
        paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        return [p for p in paths if not p.endswith(_COMPRESSED)]

    def poll(self) -> int:
        """Read every complete new line of every file; returns how many lines were read."""
        seen: dict[tuple[int, int], str] = {}
        for path in self._paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            seen.setdefault((st.st_dev, st.st_ino), path)
        # Progress as it stood before this poll: what a copy of a known file resumes from.
        known = {s.fingerprint: (s, s.offset) for s in self.files.values() if s.fingerprint}
        read = 0
        for ident, path in seen.items():
            state = self.files.get(ident)
            if state is None:
                state = self._open(ident, path, known)
                if state is None:
                    continue
            state.path, state.gone_polls = path, 0
        for ident, state in list(self.files.items()):
            if ident not in seen:
                state.gone_polls += 1
            try:
                read += self._read(state)
            except OSError as exc:
                log.warning("%s: %s", state.path, exc)
            if state.gone_polls > DRAIN_POLLS:
                self._close(ident, state)
        self._first_scan = False
        self._saved = []
        self.lines_read += read
        return read

    def _open(self, ident: tuple[int, int], path: str, known: dict[str, tuple[FileState, int]]) -> FileState | None:
        try:
            fh = open(path, "rb")
        except OSError as exc:
            log.warning("%s: %s", path, exc)
            return None
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != ident:  # replaced between stat and open: next poll
            fh.close()
            return None
        fp = fingerprint(fh)
        state = FileState(ident[0], ident[1], fp, path=path, fh=fh)
        saved = next((s for s in self._saved if (s["dev"], s["ino"]) == ident), None)
        if saved is not None and saved.get("fingerprint") == fp and int(saved["offset"]) <= st.st_size:
            state.offset, state.line = int(saved["offset"]), int(saved.get("line", 0))
        elif fp is not None and fp in known:
            state.offset = self._copy_offset(known[fp], st.st_size)
        elif fp is not None and any(s.get("fingerprint") == fp for s in self._saved):
            # Moved (or copied) while we were stopped: resume where the original stood.
            match = next(s for s in self._saved if s.get("fingerprint") == fp)
            state.offset = min(int(match["offset"]), st.st_size)
        elif self._first_scan and self.tc.start_at == "end" and not self._saved:
            state.offset = self._last_line_end(fh, st.st_size)
        self.files[ident] = state
        return state

    @staticmethod
    def _copy_offset(known: tuple[FileState, int], size: int) -> int:
        """Where a copy (copytruncate) of a tracked file starts: nothing the original still holds."""
        original, offset_before = known
        try:
            if original.fh is not None and os.fstat(original.fh.fileno()).st_size >= size \
                    and fingerprint(original.fh) == original.fingerprint:
                return size  # not truncated yet: the original, read in this same poll, has every line
        except OSError:
            pass
        return min(offset_before, size)  # truncated: the copy holds what we had not read

    @staticmethod
    def _last_line_end(fh: BinaryIO, size: int) -> int:
        pos = size
        while pos > 0:
            step = min(CHUNK, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
        return 0

    def _close(self, ident: tuple[int, int], state: FileState) -> None:
        if state.fh is not None:
            try:
                self._read(state, final=True)
            except OSError:
                pass
            state.fh.close()
        del self.files[ident]

    def _read(self, state: FileState, final: bool = False) -> int:
        fh = state.fh
        assert fh is not None
        st = os.fstat(fh.fileno())
        size = st.st_size
        if (size, st.st_mtime_ns) != state.stamp:  # changed: maybe truncated, even back to the same size
            if size < state.offset or (state.fingerprint is not None and fingerprint(fh) != state.fingerprint):
                log.info("%s: truncated or rewritten; reading from the start", state.path)
                state.offset = state.line = 0
                state.fingerprint = None
            if state.fingerprint is None:
                state.fingerprint = fingerprint(fh)
            state.stamp = (size, st.st_mtime_ns)
        if size <= state.offset:
            return 0
        origin = f"{c.SOURCE_JSONL}:{state.path}"
        batch: list[Candidate] = []
        count = 0
        fh.seek(state.offset)
        pending = b""
        skipped = 0  # bytes of an over-long line dropped from memory, not yet consumed
        head = b""  # its first bytes, for the quarantine payload
        pos = state.offset
        max_line = self.tc.max_line_bytes
        while pos < size:
            chunk = fh.read(min(CHUNK, size - pos))
            if not chunk:
                break
            pos += len(chunk)
            data = pending + chunk
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                raw = data[start:nl]
                state.offset += nl + 1 - start + skipped
                state.line += 1
                start = nl + 1
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if not skipped and not raw.strip():
                    continue
                count += 1
                if skipped or len(raw) > max_line:
                    text = (head or raw[:1024]).decode("utf-8", "replace")
                    batch.append(Candidate(None, text + "...", origin, state.line,
                                           reason=f"line longer than {max_line} bytes"))
                    skipped, head = 0, b""
                else:
                    batch.append(line_candidate(self.tc, self.config, raw, origin, state.line, self.hints))
                if len(batch) >= BATCH_LINES:
                    self.sink.accept(self.input_name, batch)
                    batch = []
            pending = data[start:]
            if len(pending) > max_line:
                head = head or pending[:1024]
                skipped += len(pending)
                pending = b""
        if final and pending.strip() and not skipped:
            # The file has left the pattern and stopped growing: its unterminated last line is final.
            try:
                json.loads(pending)
            except ValueError:
                pass
            else:
                state.offset += len(pending)
                state.line += 1
                count += 1
                batch.append(line_candidate(self.tc, self.config, pending.rstrip(b"\r"), origin, state.line, self.hints))
        if batch:
            self.sink.accept(self.input_name, batch)
        return count

    def close(self) -> None:
        for state in self.files.values():
            if state.fh is not None:
                state.fh.close()
                state.fh = None


def resolve_offsets_dir(config: GatewayConfig, default: Path | None) -> Path:
    directory = config.offsets_dir or default
    if directory is None:
        raise ConfigError("gateway.offsets_dir: not set, and the caller gave no default (the data directory)")
    return Path(directory)


async def run_tailers(
    config: GatewayConfig, sink: UsageSink, stop: asyncio.Event, offsets_dir: Path | None = None
) -> None:
    """Poll every configured tailer until ``stop`` is set; checkpoints offsets, and saves them on stop."""
    if not config.tailers:
        return
    directory = resolve_offsets_dir(config, offsets_dir)
    tailers = [Tailer(tc, config, sink, directory) for tc in config.tailers]
    due = [0.0] * len(tailers)
    last_checkpoint = time.monotonic()

    def checkpoint() -> None:
        sink.flush()
        for t in tailers:
            t.save()

    try:
        while not stop.is_set():
            now = time.monotonic()
            for i, t in enumerate(tailers):
                if now >= due[i]:
                    await asyncio.to_thread(t.poll)
                    due[i] = time.monotonic() + t.tc.poll_interval_s
            if time.monotonic() - last_checkpoint >= config.checkpoint_interval_s:
                await asyncio.to_thread(checkpoint)
                last_checkpoint = time.monotonic()
            wait = max(0.0, min(due) - time.monotonic())
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))
            except asyncio.TimeoutError:
                pass
        for t in tailers:
            await asyncio.to_thread(t.poll)
    finally:
        try:
            await asyncio.to_thread(checkpoint)
        finally:
            for t in tailers:
                t.close()
