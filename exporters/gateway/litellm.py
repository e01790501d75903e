"""LiteLLM's generic API callback: ``StandardLoggingPayload`` objects to usage candidates.

LiteLLM (``callback_type: generic_api``) POSTs its payloads as a JSON array (``log_format:
json_array``, the default), one object per request (``single``) or one object per line
(``ndjson``); all three are accepted. Fields read (LiteLLM's names):

- ``id`` -> event_id; ``startTime`` -> ts (epoch seconds, or ISO text);
- ``endTime - startTime`` -> duration_ms; ``completionStartTime - startTime`` -> ttft_ms when the
  call streamed (``stream`` true, or unknown and the first chunk came before the end);
- ``prompt_tokens`` / ``completion_tokens`` -> input / output tokens; cached input tokens from the
  usage object's ``prompt_tokens_details.cached_tokens`` (or ``cache_read_input_tokens``);
- tenant from the configured fields (team alias, team id, org id, user id by default);
- ``metadata.user_api_key_hash`` (already a SHA-256 of the key) -> api_key_id;
- ``model_group`` (the name the caller asked for), else ``model`` -> model;
- ``status``: ``success`` -> 200; ``failure`` -> ``error_information.error_code`` when it is an
  HTTP code, else 500, with ``error_information.error_class`` as error_type.

Prompts and responses (``messages``, ``response``) are never stored; a quarantined payload keeps
the record as sent, minus those two fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infermeter.exporters.gateway import conventions as c
from infermeter.exporters.gateway.config import GatewayConfig
from infermeter.exporters.gateway.normalize import Candidate, api_key_id, compact_json, first, lookup, stringify
from infermeter.ingest.models import parse_ts

_DROPPED = ("messages", "response")  # content, not usage: never stored, not even in quarantine
_KEPT = {
    "litellm.call_type": "call_type",
    "litellm.provider": "custom_llm_provider",
    "litellm.model": "model",
    "litellm.model_id": "model_id",
    "litellm.api_base": "api_base",
    "litellm.trace_id": "trace_id",
    "litellm.key_alias": "metadata.user_api_key_alias",
    "litellm.end_user": "end_user",
    "litellm.cache_hit": "cache_hit",
    "litellm.response_cost": "response_cost",
}


class PayloadError(ValueError):
    """The body as a whole is not LiteLLM payloads (HTTP 400)."""


def split_body(body: bytes) -> list[Any]:
    """The records of a callback body: a JSON array, one object, or JSON lines."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8 at byte {exc.start}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise PayloadError("invalid JSON (expected an array, an object or JSON lines)") from None
        records = []
        for n, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                records.append(_Unreadable(line, f"line {n}: invalid JSON: {exc}"))
        return records
    if isinstance(doc, list):
        return doc
    return [doc]


class _Unreadable:
    def __init__(self, text: str, reason: str) -> None:
        self.text, self.reason = text, reason


def _seconds(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return parse_ts(value).timestamp()
    except (ValueError, TypeError, OverflowError):
        return None


def _status(record: Mapping[str, Any]) -> tuple[int, str]:
    if record.get("status", "success") != "failure":
        return 200, ""
    info = record.get("error_information") or {}
    code, klass = 500, ""
    if isinstance(info, Mapping):
        raw = info.get("error_code")
        try:
            if raw is not None and 100 <= int(raw) <= 599:
                code = int(raw)
        except (TypeError, ValueError):
            pass
        klass = stringify(info.get("error_class") or "")
    return code, klass or "_OTHER"


class LiteLLMReader:
    """Reads StandardLoggingPayload records with the configured field choices."""

    def __init__(self, config: GatewayConfig, origin: str = c.SOURCE_LITELLM) -> None:
        self.config = config
        self.lc = config.litellm
        self.origin = origin
        self.hints = {"tenant": ", ".join(self.lc.tenant_paths), "model": ", ".join(self.lc.model_paths)}

    def candidate(self, record: Any) -> Candidate:
        if isinstance(record, _Unreadable):
            return Candidate(None, record.text, self.origin, reason=record.reason)
        if not isinstance(record, Mapping):
            return Candidate(None, compact_json(record), self.origin, reason=f"expected an object, got {type(record).__name__}")
        payload = lambda r=record: compact_json({k: v for k, v in r.items() if k not in _DROPPED})  # noqa: E731
        return Candidate(self.fields(record), payload, self.origin, hints=self.hints)

    def fields(self, r: Mapping[str, Any]) -> dict[str, Any]:
        cfg, lc = self.config, self.lc
        data: dict[str, Any] = {"source": self.origin}
        event_id = first(r, ("id", "call_id", "litellm_call_id"))
        if event_id is not None:
            data["event_id"] = stringify(event_id)
        start, end, first_chunk = _seconds(r.get("startTime")), _seconds(r.get("endTime")), _seconds(r.get("completionStartTime"))
        if r.get("startTime") is not None:
            data["ts"] = r["startTime"]
        if start is not None and end is not None:
            data["duration_ms"] = round((end - start) * 1000.0, 3)
        stream = r.get("stream")
        if start is not None and first_chunk is not None and (stream is True or (stream is None and end is not None and first_chunk < end)):
            data["ttft_ms"] = round((first_chunk - start) * 1000.0, 3)
        tenant = first(r, lc.tenant_paths)
        if tenant is None:
            tenant = cfg.default_tenant
        if tenant is not None:
            data["tenant"] = stringify(tenant)
        model = first(r, lc.model_paths)
        if model is not None:
            data["model"] = stringify(model)
        key = lookup(r, "metadata.user_api_key_hash")
        if key:
            data["api_key_id"] = api_key_id(key)
        deployment = first(r, lc.deployment_paths) if lc.deployment_paths else None
        data["deployment"] = stringify(deployment) if deployment is not None else cfg.default_deployment
        data["instance"] = cfg.default_instance
        for target, name in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
            value = r.get(name)
            if value is not None:
                data[target] = value
        cached = first(r, lc.cached_tokens_paths)
        if cached is not None:
            data["cached_input_tokens"] = cached
        data["status_code"], error_type = _status(r)
        if error_type:
            data["error_type"] = error_type
        attrs = {}
        for name, path in _KEPT.items():
            value = lookup(r, path)
            if value is not None and value != "":
                attrs[name] = stringify(value)
        data["attributes"] = attrs
        return data


def check_secret(config: GatewayConfig, headers: Mapping[str, str]) -> bool:
    """True when no secret is configured, or the header carries it (as is, or as ``Bearer <secret>``)."""
    import hmac

    secret = config.litellm.secret
    if secret is None:
        return True
    expected = secret.get_secret_value()
    given = headers.get(config.litellm.secret_header, "")
    if given.lower().startswith("bearer ") and not expected.lower().startswith("bearer "):
        given = given[7:].strip()
    return hmac.compare_digest(given.encode(), expected.encode())
