"""HTTP routes of the gateway inputs: OTLP/HTTP ``/v1/traces`` and the LiteLLM callback.

Mounted by the sidecar on its own aiohttp application (``gateway_routes(config, sink)``).

OTLP/HTTP (opentelemetry-proto's ``ExportTraceServiceRequest``): ``Content-Type``
``application/x-protobuf`` or ``application/json``; ``Content-Encoding`` ``gzip``, ``deflate`` or
none. The answer is in the request's encoding: ``200`` with an ``ExportTraceServiceResponse``
(``partial_success.rejected_spans`` counts the spans sent to quarantine), ``400`` for a body that
cannot be decoded, ``413`` past ``max_body_bytes`` (after decompression), ``415`` for another
content type or encoding; failures carry a ``google.rpc.Status``.

Decompression: give the application's runner ``auto_decompress=False``
(``web.AppRunner(app, auto_decompress=False)``) so that these handlers decompress themselves, with
the size limit and the gzip checksum checked: aiohttp's own decoder takes a truncated or garbled
gzip body for a shorter (or empty) one. With aiohttp's default the handlers still work, and the
limit still applies to the decompressed size.

An OTLP success means the events are buffered in the writer, which flushes them within
``writer.max_batch_age_s`` (to the store, or to the spool when the store is away).
"""

from __future__ import annotations

import logging
import zlib

from aiohttp import ClientPayloadError, web
from aiohttp.web_protocol import RequestPayloadError

from infermeter.exporters.gateway import conventions as c
from infermeter.exporters.gateway.config import GatewayConfig
from infermeter.exporters.gateway.litellm import LiteLLMReader, PayloadError, check_secret, split_body
from infermeter.exporters.gateway.otlp import BadRequest, SpanReader, decode_request, encode_response, encode_status
from infermeter.exporters.gateway.sink import UsageSink

log = logging.getLogger(__name__)


class _HTTPProblem(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def _looks_compressed(data: bytes, encoding: str) -> bool:
    """Whether ``data`` is still encoded: aiohttp's server decompresses gzip and deflate bodies
    itself unless told otherwise, and leaves the header in place."""
    if encoding in ("gzip", "x-gzip"):
        return data[:2] == b"\x1f\x8b"
    # zlib format (RFC 1950), what HTTP calls deflate; neither JSON nor an export request starts so.
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _decompress(data: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        out = data
    elif encoding in ("gzip", "x-gzip", "deflate"):
        if not _looks_compressed(data, encoding):
            out = data  # already decoded by the server
        else:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)
            try:
                out = d.decompress(data, limit + 1)
            except zlib.error as exc:
                raise _HTTPProblem(400, "bad_encoding", f"cannot {encoding}-decode the body: {exc}") from None
            if not d.eof and len(out) <= limit:
                raise _HTTPProblem(400, "bad_encoding", f"truncated {encoding} body")
    else:
        raise _HTTPProblem(415, "unsupported_encoding", f"unsupported Content-Encoding {encoding!r}")
    if len(out) > limit:
        raise _HTTPProblem(413, "too_large", f"body larger than {limit} bytes")
    return out


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _HTTPProblem(413, "too_large", f"body larger than {limit} bytes")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise _HTTPProblem(415, "unsupported_encoding", f"unsupported Content-Encoding {encoding!r}")
    raw = bytearray()
    try:
        # Bounded as it streams: aiohttp hands over decompressed bytes, so a small bomb stops here.
        async for chunk in request.content.iter_chunked(1 << 16):
            raw += chunk
            if len(raw) > limit:
                raise _HTTPProblem(413, "too_large", f"body larger than {limit} bytes")
    except (ClientPayloadError, RequestPayloadError) as exc:  # aiohttp could not decode the Content-Encoding
        raise _HTTPProblem(400, "bad_encoding", f"cannot {encoding}-decode the body: {exc}") from None
    return _decompress(bytes(raw), encoding, limit)


def otlp_handler(config: GatewayConfig, sink: UsageSink):
    reader = SpanReader(config)
    limit = config.otlp.max_body_bytes

    async def handle(request: web.Request) -> web.Response:
        content_type = request.content_type
        reply_type = content_type if content_type in (c.CONTENT_TYPE_PROTOBUF, c.CONTENT_TYPE_JSON) else c.CONTENT_TYPE_JSON
        try:
            if content_type not in (c.CONTENT_TYPE_PROTOBUF, c.CONTENT_TYPE_JSON):
                raise _HTTPProblem(415, "unsupported_type", f"unsupported Content-Type {content_type!r}; "
                                   f"use {c.CONTENT_TYPE_PROTOBUF} or {c.CONTENT_TYPE_JSON}")
            body = await _read_body(request, limit)
            try:
                decoded = decode_request(body, content_type, reader)
            except BadRequest as exc:
                raise _HTTPProblem(400, "bad_request", str(exc)) from None
        except _HTTPProblem as problem:
            sink.rejected(c.SOURCE_OTLP, problem.reason)
            return web.Response(status=problem.status, body=encode_status(reply_type, problem.status, problem.message),
                                content_type=reply_type)
        sink.ignored(c.SOURCE_OTLP, decoded.ignored)
        result = sink.accept(c.SOURCE_OTLP, decoded.candidates)
        return web.Response(body=encode_response(reply_type, result.quarantined, result.summary()), content_type=reply_type)

    return handle


def litellm_handler(config: GatewayConfig, sink: UsageSink):
    reader = LiteLLMReader(config)
    limit = config.litellm.max_body_bytes

    async def handle(request: web.Request) -> web.Response:
        try:
            if not check_secret(config, request.headers):
                raise _HTTPProblem(401, "unauthorized", f"missing or wrong {config.litellm.secret_header} header")
            body = await _read_body(request, limit)
            try:
                records = split_body(body)
            except PayloadError as exc:
                raise _HTTPProblem(400, "bad_request", str(exc)) from None
        except _HTTPProblem as problem:
            sink.rejected(c.SOURCE_LITELLM, problem.reason)
            return web.json_response({"error": problem.message}, status=problem.status)
        result = sink.accept(c.SOURCE_LITELLM, (reader.candidate(r) for r in records))
        answer = {"accepted": result.accepted, "quarantined": result.quarantined}
        if result.quarantined:
            answer["errors"] = result.reasons
        return web.json_response(answer)

    return handle


def gateway_routes(config: GatewayConfig, sink: UsageSink) -> list[web.RouteDef]:
    """The enabled inputs' routes, to add to the sidecar's application."""
    routes = []
    if config.otlp.enabled:
        routes.append(web.post(config.otlp.path, otlp_handler(config, sink)))
    if config.litellm.enabled:
        routes.append(web.post(config.litellm.path, litellm_handler(config, sink)))
    return routes
