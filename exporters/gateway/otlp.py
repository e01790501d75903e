"""OTLP trace requests (protobuf or OTLP/JSON) to usage candidates, one per GenAI request span.

Pure decoding, no I/O: :func:`decode_request` takes the (decompressed) body and its content type.
Both encodings go through the same :meth:`SpanReader.fields`. OTLP/JSON differs from the generic
protobuf JSON mapping: trace and span ids are hex, not base64; 64-bit integers may be strings;
field names are lowerCamelCase (snake_case is accepted too); enums may be numbers or names.

Which spans are requests: a span whose ``gen_ai.operation.name`` is one of the configured
operations, or that has no operation name but some ``gen_ai.*`` attribute. Other spans (HTTP
server spans, ``invoke_agent``, ``execute_tool``) are ignored, not rejected: an agent span that
sums its children's tokens must not count them twice.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from infermeter.exporters.gateway import conventions as c
from infermeter.exporters.gateway.config import GatewayConfig
from infermeter.exporters.gateway.normalize import REDACTED, Candidate, api_key_id, compact_json, key_hash, stringify

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class BadRequest(ValueError):
    """The request as a whole cannot be read (HTTP 400); no span of it is stored."""


@dataclass
class Decoded:
    candidates: list[Candidate] = field(default_factory=list)
    spans: int = 0
    ignored: int = 0  # spans that are not GenAI requests


class SpanReader:
    """What to look for in spans, precomputed from the configuration."""

    def __init__(self, config: GatewayConfig, origin: str = c.SOURCE_OTLP) -> None:
        self.config = config
        self.origin = origin
        o = config.otlp
        self.operations = frozenset(o.operations)
        self.model_attrs = tuple(o.model_attributes)
        self.ttft_attrs = tuple(o.ttft_attributes.items())
        self.tenant_attrs = tuple(config.tenant_attributes)
        self.key_id_attrs = tuple(config.api_key_id_attributes)
        self.key_attrs = tuple(config.api_key_attributes)
        self.deployment_attrs = tuple(config.deployment_attributes)
        self.instance_attrs = tuple(config.instance_attributes)
        self.keep_attrs = tuple(config.keep_attributes)
        self.secret_attrs = frozenset(config.api_key_attributes)
        self.wanted = frozenset(
            (c.GEN_AI_OPERATION_NAME, c.ERROR_TYPE)
            + c.INPUT_TOKEN_ATTRIBUTES + c.OUTPUT_TOKEN_ATTRIBUTES + c.CACHED_TOKEN_ATTRIBUTES
            + c.HTTP_STATUS_ATTRIBUTES + self.model_attrs + tuple(a for a, _ in self.ttft_attrs)
            + self.tenant_attrs + self.key_id_attrs + self.key_attrs + self.deployment_attrs
            + self.instance_attrs + self.keep_attrs
        )
        self.hints = {
            "tenant": "attributes " + ", ".join(self.tenant_attrs),
            "model": "attributes " + ", ".join(self.model_attrs),
        }

    @staticmethod
    def _pick(attrs: Mapping[str, Any], resource: Mapping[str, Any], names: tuple[str, ...]) -> Any:
        """The first of ``names`` set on the span, else on the resource."""
        for name in names:
            value = attrs.get(name)
            if value is not None and value != "":
                return value
        for name in names:
            value = resource.get(name)
            if value is not None and value != "":
                return value
        return None

    def is_request(self, attrs: Mapping[str, Any], has_genai: bool) -> bool:
        operation = attrs.get(c.GEN_AI_OPERATION_NAME)
        if operation is not None:
            return operation in self.operations
        return has_genai

    def fields(
        self,
        attrs: Mapping[str, Any],
        resource: Mapping[str, Any],
        event_id: str,
        start_ns: int,
        end_ns: int,
        status: int,
    ) -> dict[str, Any]:
        """The usage fields of one request span; what is missing is left for validation to name."""
        cfg = self.config
        pick = self._pick
        data: dict[str, Any] = {"event_id": event_id, "source": self.origin}
        if start_ns:
            data["ts"] = _EPOCH + dt.timedelta(microseconds=start_ns // 1000)
        data["duration_ms"] = (end_ns - start_ns) / 1e6 if end_ns else 0.0
        tenant = pick(attrs, resource, self.tenant_attrs)
        if tenant is None:
            tenant = cfg.default_tenant
        if tenant is not None:
            data["tenant"] = stringify(tenant)
        model = pick(attrs, resource, self.model_attrs)
        if model is not None:
            data["model"] = stringify(model)
        key_id = pick(attrs, resource, self.key_id_attrs)
        if key_id is not None:
            data["api_key_id"] = api_key_id(key_id)
        else:
            key = pick(attrs, resource, self.key_attrs) if self.key_attrs else None
            if key is not None:
                data["api_key_id"] = key_hash(stringify(key))
        deployment = pick(attrs, resource, self.deployment_attrs)
        data["deployment"] = stringify(deployment) if deployment is not None else cfg.default_deployment
        instance = pick(attrs, resource, self.instance_attrs)
        data["instance"] = stringify(instance) if instance is not None else cfg.default_instance
        for target, names in (
            ("input_tokens", c.INPUT_TOKEN_ATTRIBUTES),
            ("output_tokens", c.OUTPUT_TOKEN_ATTRIBUTES),
            ("cached_input_tokens", c.CACHED_TOKEN_ATTRIBUTES),
        ):
            value = pick(attrs, {}, names)
            if value is not None:
                data[target] = value
        for name, factor in self.ttft_attrs:
            value = attrs.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                data["ttft_ms"] = value * factor
                break
        error_type = attrs.get(c.ERROR_TYPE)
        code = pick(attrs, {}, c.HTTP_STATUS_ATTRIBUTES)
        if code is not None:
            data["status_code"] = code
        elif status == c.SPAN_STATUS_ERROR or error_type:
            data["status_code"] = 500
        if error_type:
            data["error_type"] = stringify(error_type)
        elif status == c.SPAN_STATUS_ERROR:
            data["error_type"] = "_OTHER"  # the semantic conventions' value for an unnamed error
        kept = {}
        for name in self.keep_attrs:
            value = attrs.get(name)
            if value is None:
                value = resource.get(name)
            if value is not None and value != "":
                kept[name] = stringify(value)
        data["attributes"] = kept
        return data


# --- protobuf -----------------------------------------------------------------------------------
def _pb_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _pb_attrs(kvs: Any, wanted: frozenset[str]) -> tuple[dict[str, Any], bool]:
    out: dict[str, Any] = {}
    has_genai = False
    for kv in kvs:
        key = kv.key
        if key in wanted:
            out[key] = _pb_value(kv.value)
        if not has_genai and key.startswith(c.GEN_AI_PREFIX):
            has_genai = True
    return out, has_genai


def _pb_payload(resource: Any, span: Any, secret: frozenset[str]) -> str:
    res = json_format.MessageToDict(resource)
    sp = json_format.MessageToDict(span)
    for key in ("traceId", "spanId", "parentSpanId"):
        raw = getattr(span, {"traceId": "trace_id", "spanId": "span_id", "parentSpanId": "parent_span_id"}[key])
        if raw:
            sp[key] = raw.hex()
    _redact(res.get("attributes"), secret)
    _redact(sp.get("attributes"), secret)
    return compact_json({"resource": res, "span": sp})


def _decode_protobuf(body: bytes, reader: SpanReader) -> Decoded:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise BadRequest(f"not an ExportTraceServiceRequest: {exc}") from None
    out = Decoded()
    wanted = reader.wanted
    for rs in request.resource_spans:
        resource, _ = _pb_attrs(rs.resource.attributes, wanted)
        for ss in rs.scope_spans:
            for span in ss.spans:
                out.spans += 1
                attrs, has_genai = _pb_attrs(span.attributes, wanted)
                if not reader.is_request(attrs, has_genai):
                    out.ignored += 1
                    continue
                payload = lambda r=rs.resource, s=span: _pb_payload(r, s, reader.secret_attrs)  # noqa: E731
                tid, sid = span.trace_id, span.span_id
                if len(tid) != 16 or len(sid) != 8 or not any(tid) or not any(sid):
                    out.candidates.append(Candidate(None, payload, reader.origin, reason="span has no valid trace_id/span_id"))
                    continue
                data = reader.fields(
                    attrs, resource, tid.hex() + sid.hex(), span.start_time_unix_nano, span.end_time_unix_nano,
                    span.status.code,
                )
                out.candidates.append(Candidate(data, payload, reader.origin, hints=reader.hints))
    return out


# --- OTLP/JSON ----------------------------------------------------------------------------------
def _get(obj: Mapping[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    value = obj.get(camel)
    if value is None:
        value = obj.get(snake, default)
    return default if value is None else value


def _json_value(v: Any) -> Any:
    if not isinstance(v, Mapping):
        return None
    for camel, snake in (("stringValue", "string_value"), ("boolValue", "bool_value")):
        if camel in v or snake in v:
            return _get(v, camel, snake)
    if "intValue" in v or "int_value" in v:
        raw = _get(v, "intValue", "int_value")
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    if "doubleValue" in v or "double_value" in v:
        raw = _get(v, "doubleValue", "double_value")
        try:
            return float(raw)
        except (TypeError, ValueError):
            return raw
    if "arrayValue" in v or "array_value" in v:
        return [_json_value(x) for x in (_get(v, "arrayValue", "array_value") or {}).get("values", [])]
    if "kvlistValue" in v or "kvlist_value" in v:
        values = (_get(v, "kvlistValue", "kvlist_value") or {}).get("values", [])
        return {kv.get("key", ""): _json_value(kv.get("value")) for kv in values if isinstance(kv, Mapping)}
    if "bytesValue" in v or "bytes_value" in v:
        return _get(v, "bytesValue", "bytes_value")
    return None


def _json_attrs(kvs: Any, wanted: frozenset[str]) -> tuple[dict[str, Any], bool]:
    out: dict[str, Any] = {}
    has_genai = False
    if not isinstance(kvs, list):
        return out, False
    for kv in kvs:
        if not isinstance(kv, Mapping):
            continue
        key = kv.get("key")
        if not isinstance(key, str):
            continue
        if key in wanted:
            out[key] = _json_value(kv.get("value"))
        if key.startswith(c.GEN_AI_PREFIX):
            has_genai = True
    return out, has_genai


def _json_int(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("a boolean")
    return int(value)


def _hex_id(value: Any, nbytes: int) -> str | None:
    if not isinstance(value, str) or len(value) != 2 * nbytes:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw.hex() if any(raw) else None


def _list(obj: Mapping[str, Any], camel: str, snake: str, where: str) -> list:
    value = _get(obj, camel, snake, [])
    if not isinstance(value, list):
        raise BadRequest(f"{where}{camel}: expected a list")
    return value


def _redact(attrs: Any, secret: frozenset[str]) -> None:
    if not secret or not isinstance(attrs, list):
        return
    for kv in attrs:
        if isinstance(kv, dict) and kv.get("key") in secret:
            kv["value"] = {"stringValue": REDACTED}


def _json_payload(resource: Any, span: Any, secret: frozenset[str]) -> str:
    if secret:
        import copy

        resource, span = copy.deepcopy(resource), copy.deepcopy(span)
        if isinstance(resource, dict):
            _redact(resource.get("attributes"), secret)
        if isinstance(span, dict):
            _redact(span.get("attributes"), secret)
    return compact_json({"resource": resource, "span": span})


def _decode_json(body: bytes, reader: SpanReader) -> Decoded:
    import json

    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(doc, Mapping):
        raise BadRequest("expected a JSON object with resourceSpans")
    out = Decoded()
    wanted = reader.wanted
    for i, rs in enumerate(_list(doc, "resourceSpans", "resource_spans", "")):
        if not isinstance(rs, Mapping):
            raise BadRequest(f"resourceSpans[{i}]: expected an object")
        res_obj = rs.get("resource") or {}
        resource, _ = _json_attrs(res_obj.get("attributes") if isinstance(res_obj, Mapping) else None, wanted)
        scopes = _list(rs, "scopeSpans", "scope_spans", f"resourceSpans[{i}].")
        scopes = scopes or _list(rs, "instrumentationLibrarySpans", "instrumentation_library_spans", f"resourceSpans[{i}].")
        for j, ss in enumerate(scopes):
            if not isinstance(ss, Mapping):
                raise BadRequest(f"resourceSpans[{i}].scopeSpans[{j}]: expected an object")
            for span in _list(ss, "spans", "spans", f"resourceSpans[{i}].scopeSpans[{j}]."):
                out.spans += 1
                payload = lambda r=res_obj, s=span: _json_payload(r, s, reader.secret_attrs)  # noqa: E731
                if not isinstance(span, Mapping):
                    out.candidates.append(Candidate(None, payload, reader.origin, reason="span: expected an object"))
                    continue
                attrs, has_genai = _json_attrs(span.get("attributes"), wanted)
                if not reader.is_request(attrs, has_genai):
                    out.ignored += 1
                    continue
                tid = _hex_id(_get(span, "traceId", "trace_id"), 16)
                sid = _hex_id(_get(span, "spanId", "span_id"), 8)
                if tid is None or sid is None:
                    out.candidates.append(Candidate(None, payload, reader.origin, reason="span has no valid traceId/spanId (hex)"))
                    continue
                try:
                    start = _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
                    end = _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano"))
                except (TypeError, ValueError):
                    out.candidates.append(Candidate(None, payload, reader.origin, reason="span times are not integers"))
                    continue
                status_obj = span.get("status") or {}
                code = status_obj.get("code", 0) if isinstance(status_obj, Mapping) else 0
                code = _STATUS_NAMES.get(code, code) if isinstance(code, str) else code
                data = reader.fields(attrs, resource, tid + sid, start, end, code if isinstance(code, int) else 0)
                out.candidates.append(Candidate(data, payload, reader.origin, hints=reader.hints))
    return out


def decode_request(body: bytes, content_type: str, reader: SpanReader) -> Decoded:
    """Candidates of one export request; :class:`BadRequest` when the body cannot be read at all."""
    if content_type == c.CONTENT_TYPE_PROTOBUF:
        return _decode_protobuf(body, reader)
    if content_type == c.CONTENT_TYPE_JSON:
        return _decode_json(body, reader)
    raise BadRequest(f"unsupported content type {content_type!r}")


def encode_response(content_type: str, rejected: int, message: str = "") -> bytes:
    """An ExportTraceServiceResponse, with partial_success when spans were rejected."""
    if content_type == c.CONTENT_TYPE_JSON:
        import json

        if not rejected:
            return b"{}"
        return json.dumps({"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}).encode()
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
    return response.SerializeToString()


def encode_status(content_type: str, http_status: int, message: str) -> bytes:
    """A google.rpc.Status body for a failed request, in the request's encoding."""
    code = {400: 3, 401: 16, 413: 8, 415: 3, 503: 14}.get(http_status, 2)  # gRPC codes
    if content_type == c.CONTENT_TYPE_PROTOBUF:
        from google.rpc.status_pb2 import Status

        return Status(code=code, message=message).SerializeToString()
    import json

    return json.dumps({"code": code, "message": message}).encode()
