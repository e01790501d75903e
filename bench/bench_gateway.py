"""Gateway usage throughput: OTLP protobuf GenAI spans into the `usage` table on chdb.

Builds N realistic GenAI chat spans (200 tenants, 6 models, the attributes an instrumented gateway
sets, plus HTTP and resource noise) as OTLP ExportTraceServiceRequest bodies of --batch spans (the
SDK's BatchSpanProcessor sends 512), then stores them three ways in the same process:

  infermeter - decode_request (protobuf, wanted attributes only) -> UsageSink (UsageEvent
               validation, per-tenant metrics, duplicate window) -> Writer (durable spool,
               batched Arrow insert) -> chdb;
  http       - the same, but each body POSTed over loopback to the real aiohttp receiver
               (client and server in this process, so they share the core);
  naive      - what a first version would do: json_format.MessageToDict on each request, every
               attribute into a dict, UsageEvent per span, one insert per request (no batching).

Reports events/s for each and the ratio against naive, after checking that all three stored the
same rows.

usage: python bench/bench_gateway.py [--events 200000] [--batch 512] [--naive-events 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import pyarrow as pa
from aiohttp import web
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from prometheus_client import CollectorRegistry

from benchlib import emit
from infermeter.exporters.gateway import GatewayConfig, gateway_routes, make_sink
from infermeter.exporters.gateway.otlp import SpanReader, decode_request
from infermeter.ingest import schemas
from infermeter.ingest.migrate import RenderOptions, migrate
from infermeter.ingest.models import UsageEvent, usage_row
from infermeter.ingest.spool import Spool
from infermeter.ingest.store.chdb_store import ChdbStore
from infermeter.ingest.writer import Writer

PB = "application/x-protobuf"
MODELS = ["llama-3-70b", "llama-3-8b", "mistral-7b", "qwen2-72b", "gpt-4o", "claude-sonnet"]


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def bodies(n_events: int, batch: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    t0 = (int(time.time()) - 3600) * 10**9
    out = []
    for start in range(0, n_events, batch):
        spans = []
        for i in range(start, min(start + batch, n_events)):
            model = MODELS[i % len(MODELS)]
            inp = rng.randint(50, 4000)
            begin = t0 + i * 5_000_000
            attrs = [
                kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"),
                kv("gen_ai.request.model", model), kv("gen_ai.response.model", model + "-2025-01"),
                kv("gen_ai.response.id", f"chatcmpl-{i:012d}"), kv("gen_ai.request.max_tokens", 1024),
                kv("gen_ai.request.temperature", 0.2), kv("gen_ai.usage.input_tokens", inp),
                kv("gen_ai.usage.cache_read.input_tokens", inp // 3), kv("gen_ai.usage.output_tokens", rng.randint(1, 800)),
                kv("gen_ai.response.time_to_first_chunk", rng.random()), kv("gen_ai.response.finish_reasons", "stop"),
                kv("tenant.id", f"tenant-{int(rng.paretovariate(1.2)) % 200:03d}"), kv("api_key.id", f"key-{i % 997}"),
                kv("server.address", "vllm-llama.inference.svc"), kv("server.port", 8000),
                kv("http.request.method", "POST"), kv("http.route", "/v1/chat/completions"),
                kv("http.response.status_code", 200 if i % 50 else 503), kv("url.scheme", "http"),
                kv("user_agent.original", "openai-python/1.40.0"),
            ]
            spans.append(Span(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=f"chat {model}", kind=3,
                              start_time_unix_nano=begin, end_time_unix_nano=begin + rng.randint(10**8, 3 * 10**10),
                              attributes=attrs))
        resource = [kv("service.name", "llm-gateway"), kv("service.version", "1.8.2"), kv("k8s.pod.name", "gw-7c9d-x2"),
                    kv("k8s.namespace.name", "inference"), kv("telemetry.sdk.language", "python")]
        request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource={"attributes": resource}, scope_spans=[ScopeSpans(scope={"name": "gw"}, spans=spans)])])
        out.append(request.SerializeToString())
    return out


def fresh_db(store: ChdbStore, name: str) -> None:
    store.command(f"DROP DATABASE IF EXISTS {name}")
    migrate(store, RenderOptions(database=name))


def run_infermeter(store: ChdbStore, reqs: list[bytes], spool: Path) -> tuple[float, float]:
    config = GatewayConfig()
    writer = Writer(store, Spool(spool), durable=True, background=False)
    sink = make_sink(config, writer, CollectorRegistry())
    reader = SpanReader(config)
    t, cpu = time.perf_counter(), time.process_time()
    for body in reqs:
        decoded = decode_request(body, PB, reader)
        sink.accept("otlp", decoded.candidates)
    writer.close()
    return time.perf_counter() - t, time.process_time() - cpu


def run_http(store: ChdbStore, reqs: list[bytes], spool: Path, concurrency: int = 4) -> tuple[float, float]:
    config = GatewayConfig()
    writer = Writer(store, Spool(spool), durable=True, background=False)
    sink = make_sink(config, writer, CollectorRegistry())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        app = web.Application()
        app.add_routes(gateway_routes(config, sink))
        runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    url = f"http://127.0.0.1:{port}/v1/traces"

    async def client():
        queue = list(reqs)
        async with aiohttp.ClientSession() as session:
            async def worker():
                while queue:
                    body = queue.pop()
                    async with session.post(url, data=body, headers={"Content-Type": PB}) as resp:
                        assert resp.status == 200, resp.status
                        await resp.read()
            await asyncio.gather(*(worker() for _ in range(concurrency)))

    t, cpu = time.perf_counter(), time.process_time()
    asyncio.run(client())
    writer.close()
    elapsed = time.perf_counter() - t, time.process_time() - cpu
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    return elapsed


def _naive_value(v: dict):
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    return None


def run_naive(store: ChdbStore, reqs: list[bytes]) -> tuple[float, float]:
    t, cpu = time.perf_counter(), time.process_time()
    for body in reqs:
        doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body))
        rows = []
        for rs in doc.get("resourceSpans", []):
            res = {a["key"]: _naive_value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    a = {x["key"]: _naive_value(x["value"]) for x in span.get("attributes", [])}
                    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                    ttft = a.get("gen_ai.response.time_to_first_chunk")
                    event = UsageEvent(
                        event_id=base64.b64decode(span["traceId"]).hex() + base64.b64decode(span["spanId"]).hex(),
                        ts=start / 1e9, tenant=a["tenant.id"], model=a["gen_ai.request.model"],
                        api_key_id=a.get("api_key.id", ""), instance=res.get("k8s.pod.name", ""),
                        input_tokens=a.get("gen_ai.usage.input_tokens", 0),
                        cached_input_tokens=a.get("gen_ai.usage.cache_read.input_tokens", 0),
                        output_tokens=a.get("gen_ai.usage.output_tokens", 0),
                        ttft_ms=None if ttft is None else ttft * 1000, duration_ms=(end - start) / 1e6,
                        status_code=a.get("http.response.status_code", 200), source="otlp",
                    )
                    rows.append(usage_row(event))
        store.insert_arrow("usage", pa.Table.from_pylist(rows, schema=schemas.USAGE))
    return time.perf_counter() - t, time.process_time() - cpu


CHECK = ("SELECT count(), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), uniqExact(tenant), "
         "sum(status_code), round(sum(duration_ms)) FROM {db}.usage FINAL")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--naive-events", type=int, default=50_000, help="The naive path runs on this prefix.")
    args = ap.parse_args()
    reqs = bodies(args.events, args.batch)
    n_naive_reqs = max(1, min(len(reqs), args.naive_events // args.batch))
    naive_events = min(args.events, n_naive_reqs * args.batch)
    mb = sum(map(len, reqs)) / 1e6
    print(f"{args.events:,} spans in {len(reqs)} requests of {args.batch} ({mb:.1f} MB protobuf)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    try:
        store = ChdbStore(tmp / "store", "b_fast")
        fresh_db(store, "b_fast")
        fresh_db(store, "b_http")
        fresh_db(store, "b_naive")
        store.use_database("b_fast")
        fast = run_infermeter(store, reqs, tmp / "spool-fast")
        store.use_database("b_http")
        http = run_http(store, reqs, tmp / "spool-http")
        store.use_database("b_naive")
        naive = run_naive(store, reqs[:n_naive_reqs])
        # The same rows every way: infermeter and http on everything, naive on its prefix.
        fast_all = store.query_rows(CHECK.format(db="b_fast"))[0]
        http_all = store.query_rows(CHECK.format(db="b_http"))[0]
        assert fast_all == http_all, (fast_all, http_all)
        assert fast_all[0] == args.events, fast_all
        diff = store.query_scalar(
            "SELECT count() FROM (SELECT event_id, tenant, model, api_key_id, instance, input_tokens, cached_input_tokens, "
            "output_tokens, ttft_ms, duration_ms, status_code FROM b_naive.usage FINAL EXCEPT SELECT event_id, tenant, "
            "model, api_key_id, instance, input_tokens, cached_input_tokens, output_tokens, ttft_ms, duration_ms, "
            "status_code FROM b_fast.usage FINAL)"
        )
        assert diff == 0, f"{diff} naive rows differ from infermeter's"
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (fast, fast_cpu), (http, http_cpu), (naive, naive_cpu) = fast, http, naive
    f_rate, h_rate, n_rate = args.events / fast, args.events / http, naive_events / naive
    f_cpu, h_cpu, n_cpu = args.events / fast_cpu, args.events / http_cpu, naive_events / naive_cpu
    print("                                                    wall s     events/s   events per CPU s")
    print(f"infermeter (decode+validate+metrics+writer->chdb): {fast:7.2f}  {f_rate:>11,.0f}  {f_cpu:>11,.0f}")
    print(f"http       (the same over loopback aiohttp):       {http:7.2f}  {h_rate:>11,.0f}  {h_cpu:>11,.0f}")
    print(f"naive      (MessageToDict, insert per request):    {naive:7.2f}  {n_rate:>11,.0f}  {n_cpu:>11,.0f}"
          f"  ({naive_events:,} events)")
    print(f"ratio infermeter/naive: {f_rate / n_rate:.1f}x wall, {f_cpu / n_cpu:.1f}x CPU; "
          f"http/naive: {h_rate / n_rate:.1f}x wall, {h_cpu / n_cpu:.1f}x CPU")
    print("(events per CPU second counts every thread of this process: chdb's insert threads too; on a busy")
    print(" machine it is the steadier figure)")
    emit("gateway OTLP protobuf -> chdb usage (events/s)", f"{f_rate:,.0f} ({f_cpu:,.0f}/CPU s)",
         f"naive {n_rate:,.0f} ({n_cpu:,.0f}/CPU s)", f_rate / n_rate)
    emit("gateway OTLP over HTTP -> chdb usage (events/s)", f"{h_rate:,.0f} ({h_cpu:,.0f}/CPU s)",
         f"naive {n_rate:,.0f} ({n_cpu:,.0f}/CPU s)", h_rate / n_rate)

if __name__ == "__main__":
    main()
