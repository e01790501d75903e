"""OTLP/HTTP receiver: the real OpenTelemetry SDK exporter and hand-built OTLP/JSON against a real
aiohttp server on loopback, into a real store (chdb; a ClickHouse server where Docker answers)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import StatusCode

from infermeter.exporters.gateway.normalize import key_hash
from tests.exporters.test_gateway_helpers import post, start_gateway, stop_gateway

PB, JS = "application/x-protobuf", "application/json"


@pytest.fixture
def gateway(store, settings_for):
    gw = start_gateway(
        store, settings_for, api_key_attributes=["http.request.header.authorization"], default_deployment="vllm-a"
    )
    yield gw
    stop_gateway(gw)


@pytest.fixture(params=[False, True], ids=["own-decompression", "aiohttp-decompression"])
def any_gateway(request, store, settings_for):
    """The receiver under both aiohttp settings: handlers decompress, or aiohttp already did."""
    gw = start_gateway(
        store, settings_for, auto_decompress=request.param,
        api_key_attributes=["http.request.header.authorization"], default_deployment="vllm-a",
    )
    yield gw
    stop_gateway(gw)


def provider_for(url: str, compression: Compression, **resource) -> tuple[TracerProvider, OTLPSpanExporter]:
    exporter = OTLPSpanExporter(endpoint=url + "/v1/traces", compression=compression, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "llm-gateway", **resource}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider, exporter


def chat(tracer, tenant: str | None, model: str, inp: int, out: int, cached: int = 0, **extra):
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model and model + "-2025",
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
        "gen_ai.usage.cache_read.input_tokens": cached,
        "gen_ai.input.messages": '[{"role":"user","content":"a secret prompt"}]',
        **extra,
    }
    if tenant is not None:
        attrs["tenant.id"] = tenant
    with tracer.start_as_current_span(f"chat {model}", attributes=attrs) as span:
        time.sleep(0.002)
        ctx = span.get_span_context()
    return f"{ctx.trace_id:032x}{ctx.span_id:016x}", span


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.NoCompression, Compression.Deflate])
def test_sdk_exporter_spans_become_usage_rows(any_gateway, compression):
    gateway = any_gateway
    provider, _ = provider_for(gateway.url, compression, **{"k8s.pod.name": "vllm-a-0"})
    tracer = provider.get_tracer("test")
    ok_id, ok_span = chat(tracer, "acme", "llama-3-70b", 1200, 300, cached=1000,
                          **{"gen_ai.response.time_to_first_chunk": 0.25, "api_key.id": "key-7"})
    err_id, _ = chat(tracer, "globex", "mistral-7b", 50, 0,
                     **{"error.type": "RateLimitError", "http.response.status_code": 429,
                        "http.request.header.authorization": "sk-live-123"})
    with tracer.start_as_current_span("chat mistral-7b", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "mistral-7b", "tenant.id": "globex",
    }) as span:
        span.set_status(StatusCode.ERROR, "upstream closed")
        down_id = f"{span.get_span_context().trace_id:032x}{span.get_span_context().span_id:016x}"
    with tracer.start_as_current_span("GET /healthz"):  # not a GenAI span: ignored
        pass
    with tracer.start_as_current_span("invoke_agent", attributes={  # an agent span: ignored, not double counted
        "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1250, "tenant.id": "acme",
    }):
        pass
    assert provider.force_flush(10_000)
    provider.shutdown()
    gateway.flush()

    rows = {r[0]: r[1:] for r in gateway.store.query_rows(
        "SELECT event_id, tenant, model, api_key_id, deployment, instance, input_tokens, cached_input_tokens, "
        "output_tokens, ttft_ms, status_code, error_type, source FROM usage FINAL"
    )}
    assert set(rows) == {ok_id, err_id, down_id}
    assert rows[ok_id] == ("acme", "llama-3-70b", "key-7", "vllm-a", "vllm-a-0", 1200, 1000, 300, 250.0, 200, "", "otlp")
    assert rows[err_id][:3] == ("globex", "mistral-7b", key_hash("sk-live-123"))
    assert rows[err_id][9:11] == (429, "RateLimitError")
    assert rows[down_id][9:11] == (500, "_OTHER")
    ts, duration, attrs = gateway.store.query_rows(
        "SELECT ts, duration_ms, attributes FROM usage FINAL WHERE event_id = {id:String}", {"id": ok_id}
    )[0]
    start = dt.datetime.fromtimestamp(ok_span.start_time / 1e9, dt.timezone.utc).replace(tzinfo=None)
    assert abs((ts.replace(tzinfo=None) - start).total_seconds()) < 0.002
    assert duration == pytest.approx((ok_span.end_time - ok_span.start_time) / 1e6, abs=0.001)
    assert dict(attrs) == {"gen_ai.operation.name": "chat", "gen_ai.response.model": "llama-3-70b-2025",
                           "service.name": "llm-gateway"}
    # Prompts are never stored; the raw key nowhere.
    assert gateway.store.query_scalar("SELECT countIf(toString(attributes) LIKE '%secret prompt%') FROM usage") == 0
    assert gateway.store.query_scalar("SELECT count() FROM usage WHERE api_key_id LIKE '%sk-live%'") == 0
    assert gateway.metric("infermeter_gateway_events_accepted_total", input="otlp") == 3
    assert gateway.metric("infermeter_gateway_spans_ignored_total", input="otlp") == 2
    assert gateway.metric("infermeter_gateway_requests_total", tenant="acme", model="llama-3-70b", status_class="2xx") == 1
    assert gateway.metric("infermeter_gateway_requests_total", tenant="globex", model="mistral-7b", status_class="4xx") == 1
    assert gateway.metric("infermeter_gateway_requests_total", tenant="globex", model="mistral-7b", status_class="5xx") == 1
    assert gateway.metric("infermeter_gateway_tokens_total", tenant="acme", model="llama-3-70b", kind="cached_input") == 1000
    assert gateway.metric("infermeter_gateway_ttft_seconds_bucket", tenant="acme", model="llama-3-70b", le="0.25") == 1
    assert gateway.metric("infermeter_gateway_ttft_seconds_bucket", tenant="acme", model="llama-3-70b", le="0.1") == 0


def test_sdk_batch_with_an_invalid_span_gets_partial_success(gateway):
    """The SDK's own encoder builds the request; the receiver's answer names the rejected span."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    captured = []

    class Capture:
        def export(self, spans):
            captured.extend(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=0):
            return True

    provider = TracerProvider(resource=Resource.create({"tenant.id": "initech"}))  # tenant from the resource
    provider.add_span_processor(BatchSpanProcessor(Capture()))
    tracer = provider.get_tracer("t")
    good, _ = chat(tracer, None, "llama-3-8b", 10, 5)
    bad, _ = chat(tracer, None, "llama-3-8b", 10, 5, cached=11)  # more cached than input
    nomodel, _ = chat(tracer, None, "", 10, 5)
    provider.force_flush()
    body = encode_spans(captured).SerializeToString()
    status, ctype, answer = post(gateway.url + "/v1/traces", body, PB, gzip_body=True)
    assert (status, ctype) == (200, PB)
    response = ExportTraceServiceResponse.FromString(answer)
    assert response.partial_success.rejected_spans == 2
    assert "cached_input_tokens (11) exceeds input_tokens (10)" in response.partial_success.error_message
    assert "model: Field required (looked in attributes gen_ai.request.model, gen_ai.response.model)" in \
        response.partial_success.error_message
    gateway.flush()
    assert gateway.store.query_rows("SELECT event_id, tenant FROM usage FINAL") == [(good, "initech")]
    quarantined = gateway.store.query_rows("SELECT origin, reason, payload FROM quarantine FINAL ORDER BY reason")
    assert [q[0] for q in quarantined] == ["otlp", "otlp"]
    payload = json.loads(quarantined[0][2])
    assert payload["span"]["traceId"] + payload["span"]["spanId"] == bad
    assert gateway.metric("infermeter_gateway_events_quarantined_total", input="otlp") == 2


def otlp_json(spans: list[dict], resource: dict | None = None) -> bytes:
    res = [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {}).items()]
    return json.dumps({"resourceSpans": [{"resource": {"attributes": res},
                                          "scopeSpans": [{"scope": {"name": "hand"}, "spans": spans}]}]}).encode()


def json_span(n: int, **attrs) -> dict:
    values = []
    for key, value in attrs.items():
        key = key.replace("__", ".")
        if isinstance(value, bool):
            values.append({"key": key, "value": {"boolValue": value}})
        elif isinstance(value, int):
            values.append({"key": key, "value": {"intValue": str(value)}})  # int64 as a string
        elif isinstance(value, float):
            values.append({"key": key, "value": {"doubleValue": value}})
        else:
            values.append({"key": key, "value": {"stringValue": value}})
    start = 1_790_000_000_000_000_000 + n * 1_000_000_000
    return {
        "traceId": f"{n:032X}",  # hex, upper case is fine
        "spanId": f"{n + 1:016x}",
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1_500_000_000),
        "attributes": values,
        "status": {"code": "STATUS_CODE_OK"},
    }


def test_hand_built_otlp_json(gateway):
    spans = [
        json_span(1, gen_ai__request__model="m", gen_ai__usage__input_tokens=7, gen_ai__usage__output_tokens=3,
                  tenant__id="acme", infermeter__deployment="dep-x", gen_ai__response__time_to_first_chunk=0.5),
        json_span(2, gen_ai__request__model="m", gen_ai__usage__input_tokens=-1, tenant__id="acme"),
        {**json_span(3, gen_ai__request__model="m", tenant__id="acme"), "traceId": "xyz"},
        json_span(4, gen_ai__request__model="m", gen_ai__usage__prompt_tokens=9, gen_ai__usage__completion_tokens=4),
    ]
    status, ctype, answer = post(gateway.url + "/v1/traces", otlp_json(spans, {"infermeter.tenant": "hooli"}), JS,
                                 gzip_body=True)
    assert (status, ctype) == (200, JS)
    doc = json.loads(answer)
    assert doc["partialSuccess"]["rejectedSpans"] == "2"
    assert "input_tokens: Input should be greater than or equal to 0" in doc["partialSuccess"]["errorMessage"]
    gateway.flush()
    rows = gateway.store.query_rows(
        "SELECT event_id, tenant, deployment, input_tokens, output_tokens, duration_ms, ttft_ms, ts "
        "FROM usage FINAL ORDER BY event_id"
    )
    assert rows[0][:7] == (f"{1:032x}{2:016x}", "acme", "dep-x", 7, 3, 1500.0, 500.0)
    assert rows[0][7].replace(tzinfo=None) == dt.datetime(2026, 9, 21, 14, 13, 21)
    assert rows[1][:5] == (f"{4:032x}{5:016x}", "hooli", "vllm-a", 9, 4)  # resource tenant, old token names
    reasons = [r[0] for r in gateway.store.query_rows("SELECT reason FROM quarantine FINAL ORDER BY reason")]
    assert reasons == ["input_tokens: Input should be greater than or equal to 0",
                       "span has no valid traceId/spanId (hex)"]
    # Empty request: a valid export with nothing in it.
    assert post(gateway.url + "/v1/traces", b"{}", JS)[:3] == (200, JS, b"{}")


def test_duplicate_spans_are_counted_once(gateway):
    spans = [json_span(n, gen_ai__request__model="m", gen_ai__usage__input_tokens=10, tenant__id="acme")
             for n in range(10, 15)]
    body = otlp_json(spans)
    for _ in range(3):  # a client retrying the same export
        assert post(gateway.url + "/v1/traces", body, JS)[0] == 200
        gateway.flush()
    assert gateway.store.query_scalar("SELECT count() FROM usage FINAL") == 5
    assert gateway.store.query_scalar("SELECT sum(input_tokens) FROM usage FINAL") == 50
    assert gateway.metric("infermeter_gateway_requests_total", tenant="acme", model="m", status_class="2xx") == 5
    assert gateway.metric("infermeter_gateway_events_duplicate_total", input="otlp") == 10


def test_protobuf_and_json_give_the_same_rows(gateway):
    from google.protobuf import json_format

    spans = [json_span(n, gen_ai__request__model="m", gen_ai__usage__input_tokens=n, tenant__id="t",
                       gen_ai__usage__cache_read__input_tokens=1, flag=True, ratio=0.5) for n in range(20, 23)]
    # The same request as protobuf: ids go from hex (OTLP/JSON) to bytes.
    doc = json.loads(otlp_json(spans))
    for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["traceId"] = __import__("base64").b64encode(bytes.fromhex(span["traceId"])).decode()
        span["spanId"] = __import__("base64").b64encode(bytes.fromhex(span["spanId"])).decode()
        span["status"]["code"] = 1
    request = json_format.ParseDict(doc, ExportTraceServiceRequest())
    assert post(gateway.url + "/v1/traces", request.SerializeToString(), PB)[0] == 200
    gateway.flush()
    from_pb = gateway.store.query_rows("SELECT * EXCEPT ingested_at FROM usage FINAL ORDER BY event_id")
    gateway.store.command("TRUNCATE TABLE usage")
    assert post(gateway.url + "/v1/traces", otlp_json(spans), JS)[0] == 200
    gateway.flush()
    from_json = gateway.store.query_rows("SELECT * EXCEPT ingested_at FROM usage FINAL ORDER BY event_id")
    assert len(from_pb) == 3 and from_pb == from_json


@pytest.mark.parametrize(
    ("ctype", "body", "headers", "status", "reason"),
    [
        ("text/plain", b"hello", {}, 415, "unsupported_type"),
        (PB, b"\xff\xff\xff\xff", {}, 400, "bad_request"),
        (JS, b"{not json", {}, 400, "bad_request"),
        (JS, b"[1, 2]", {}, 400, "bad_request"),
        (JS, b'{"resourceSpans": 5}', {}, 400, "bad_request"),
        (PB, b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "bad_encoding"),
        (PB, __import__("gzip").compress(b"\x0a" * 100)[:-8], {"Content-Encoding": "gzip"}, 400, "bad_encoding"),
        (JS, b"x\x9c garbage", {"Content-Encoding": "deflate"}, 400, "bad_encoding"),
        (PB, b"x", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
    ],
)
def test_bad_requests_are_refused_with_a_status(gateway, ctype, body, headers, status, reason):
    code, answer_type, answer = post(gateway.url + "/v1/traces", body, ctype, headers=headers)
    assert code == status
    if answer_type == PB:
        assert Status.FromString(answer).message
    else:
        assert json.loads(answer)["message"]
    assert gateway.metric("infermeter_gateway_http_rejected_total", input="otlp", reason=reason) == 1


def test_body_limit_applies_after_decompression(store, settings_for):
    gw = start_gateway(store, settings_for, otlp={"max_body_bytes": 4096}, default_tenant="t")
    try:
        big = otlp_json([json_span(n, gen_ai__request__model="m" * 50) for n in range(1, 60)])
        assert len(big) > 4096
        status, _, _ = post(gw.url + "/v1/traces", big, JS, gzip_body=True)  # small on the wire
        assert status == 413
        small = otlp_json([json_span(1, gen_ai__request__model="m")])
        assert post(gw.url + "/v1/traces", small, JS, gzip_body=True)[0] == 200
    finally:
        stop_gateway(gw)


def test_sdk_exporter_reports_failure_when_refused(store, settings_for):
    """A path the receiver does not serve answers 404/405, and the SDK reports the export as failed."""
    gw = start_gateway(store, settings_for, otlp={"path": "/other"})
    try:
        exporter = OTLPSpanExporter(endpoint=gw.url + "/v1/traces", timeout=2)
        provider = TracerProvider()
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("chat", attributes={"gen_ai.request.model": "m"}) as span:
            pass
        assert exporter.export([span]) == SpanExportResult.FAILURE
    finally:
        stop_gateway(gw)
