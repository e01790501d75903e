"""Benchmark: infermeter's exposition parser against prometheus_client's, on a vLLM page.

Builds a prometheus_client registry shaped like vLLM 0.33's V1 metrics (names, types, labels
and buckets as in shared/fixtures/exposition/vllm_metrics_sample_v0.33.0_synthetic.prom) for
``--models`` models, renders it (text format 0.0.4, and OpenMetrics with ``--openmetrics``),
checks that both parsers give the same samples, then times both in this process.

    .venv/bin/python bench/bench_parser.py [--models 50] [--seconds 3] [--openmetrics]

Timings: best of several rounds; "cold" parses with a fresh label cache (a first scrape),
"warm" reuses one cache between parses (the scraper's steady state).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterable

from infermeter.exporters.exposition import LabelCache, parse, parse_series
from infermeter.exporters.exposition_reference import compare_with_reference
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from benchlib import emit

BASE = ("model_name", "engine")
TOKENS = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]
PHASE = [
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
]
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
TTFT = [
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
]

# (name, help, extra label: values)
GAUGES = [
    ("vllm:num_requests_running", "Number of requests in model execution batches.", None),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", None),
    (
        "vllm:num_requests_waiting_by_reason",
        "Number of waiting requests by reason.",
        ("reason", ["capacity", "deferred"]),
    ),
    ("vllm:engine_sleep_state", "Engine sleep state.", ("sleep_state", ["awake", "weights_offloaded", "discard_all"])),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", None),
]
COUNTERS = [
    ("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", None),
    ("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", None),
    ("vllm:external_prefix_cache_queries", "External prefix cache queries.", None),
    ("vllm:external_prefix_cache_hits", "External prefix cache hits.", None),
    ("vllm:mm_cache_queries", "Multi-modal cache queries, in terms of number of queried items.", None),
    ("vllm:mm_cache_hits", "Multi-modal cache hits, in terms of number of cached items.", None),
    ("vllm:num_preemptions", "Cumulative number of preemption from the engine.", None),
    ("vllm:prompt_tokens", "Number of prefill tokens processed.", None),
    (
        "vllm:prompt_tokens_by_source",
        "Number of prompt tokens by source.",
        ("source", ["local_compute", "local_cache_hit", "external_kv_transfer"]),
    ),
    ("vllm:prompt_tokens_cached", "Number of cached prompt tokens (local + external).", None),
    ("vllm:prompt_tokens_cached_by_source", "Prefix-cache hit tokens by cache tier.", ("source", ["device"])),
    ("vllm:generation_tokens", "Number of generation tokens processed.", None),
    (
        "vllm:request_success",
        "Count of successfully processed requests.",
        ("finished_reason", ["stop", "length", "abort", "error", "repetition"]),
    ),
]
HISTOGRAMS = [
    ("vllm:request_prompt_tokens", "Number of prefill tokens processed.", TOKENS),
    ("vllm:request_generation_tokens", "Number of generation tokens processed.", TOKENS),
    (
        "vllm:iteration_tokens_total",
        "Histogram of number of tokens per engine_step.",
        [1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0],
    ),
    ("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", TOKENS),
    ("vllm:request_params_n", "Histogram of the n request parameter.", [1.0, 2.0, 5.0, 10.0, 20.0]),
    ("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", TOKENS),
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL),
    ("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", ITL),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", PHASE),
    ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", PHASE),
    ("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", PHASE),
    ("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", PHASE),
    ("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", PHASE),
    (
        "vllm:request_num_preemptions",
        "Histogram of the number of times a request was preempted.",
        [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0],
    ),
    ("vllm:request_prefill_kv_computed_tokens", "Histogram of new KV tokens computed during prefill.", TOKENS),
]


def build_registry(models: int, seed: int = 7, colons: bool = True) -> CollectorRegistry:
    """A registry with vLLM's V1 metric families, filled with simulated traffic per model.

    ``colons=False`` names them ``vllm_...``: prometheus_client's OpenMetrics exposition writes
    ``vllm:x`` in ``# TYPE`` lines but ``vllm_x_total`` in samples, which its own OpenMetrics
    parser then rejects ("Clashing name"), so the OpenMetrics comparison uses plain names.
    """
    rng = random.Random(seed)
    registry = CollectorRegistry()
    model_names = [f"org-{i % 7}/Model-{i}-8B-Instruct" for i in range(models)]

    def metric(name: str) -> str:
        return name if colons else name.replace(":", "_")

    for name, doc, extra in GAUGES:
        gauge = Gauge(metric(name), doc, BASE + ((extra[0],) if extra else ()), registry=registry)
        for labels in _label_values(model_names, extra):
            gauge.labels(*labels).set(round(rng.random() * 40, 4))
    for name, doc, extra in COUNTERS:
        counter = Counter(metric(name), doc, BASE + ((extra[0],) if extra else ()), registry=registry)
        for labels in _label_values(model_names, extra):
            counter.labels(*labels).inc(rng.randrange(0, 2_000_000))
    rejections = Counter(
        metric("vllm:admission_rejections"),
        "Admission attempts rejected by a queue limit.",
        ("model_name", "reason"),
        registry=registry,
    )
    for model in model_names:
        for reason in ("max_num_queued_reqs", "max_num_queued_tokens"):
            rejections.labels(model, reason).inc(rng.randrange(0, 50))
    for name, doc, buckets in HISTOGRAMS:
        histogram = Histogram(metric(name), doc, BASE, buckets=buckets, registry=registry)
        for model in model_names:
            for _ in range(20):
                histogram.labels(model, "0").observe(rng.choice(buckets) * rng.random() * 1.5)
    info = Gauge(
        metric("vllm:cache_config_info"),
        "Information of the LLMEngine CacheConfig",
        (
            "block_size",
            "cache_dtype",
            "enable_prefix_caching",
            "engine",
            "gpu_memory_utilization",
            "num_cpu_blocks",
            "num_gpu_blocks",
        ),
        registry=registry,
    )
    info.labels("16", "auto", "True", "0", "0.9", "0", "27858").set(1)
    return registry


def _label_values(model_names: list[str], extra: tuple[str, list[str]] | None) -> list[tuple[str, ...]]:
    """(model_name, engine[, extra label]) for every model and extra label value."""
    if extra is None:
        return [(model, "0") for model in model_names]
    return [(model, "0", value) for model in model_names for value in extra[1]]


def best_time(func: Callable[[], object], seconds: float) -> float:
    """Best wall time of one call, over repeated calls for about ``seconds``."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        func()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        if time.perf_counter() > deadline:
            return best


def consume(families: Iterable[Metric]) -> int:
    """Run prometheus_client's lazy parser to the end; the number of samples."""
    return sum(len(family.samples) for family in families)


def time_parsers(
    page: str, openmetrics: bool, reference: Callable[[str], Iterable[Metric]], seconds: float
) -> dict[str, float]:
    """Best seconds per page for prometheus_client and for each way of calling this parser."""
    warm, warm_dicts = LabelCache(), LabelCache()
    parse_series(page, openmetrics=openmetrics, cache=warm)
    parse(page, openmetrics=openmetrics, cache=warm_dicts)
    return {
        "prometheus_client": best_time(lambda: consume(reference(page)), seconds),
        "parse (cold cache)": best_time(lambda: parse(page, openmetrics=openmetrics), seconds),
        "parse (warm cache)": best_time(lambda: parse(page, openmetrics=openmetrics, cache=warm_dicts), seconds),
        "parse_series (cold cache)": best_time(lambda: parse_series(page, openmetrics=openmetrics), seconds),
        "parse_series (warm cache)": best_time(
            lambda: parse_series(page, openmetrics=openmetrics, cache=warm), seconds
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the pages, check them against prometheus_client, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    parser.add_argument("--openmetrics", action="store_true", help="bench the OpenMetrics rendering too")
    args = parser.parse_args(argv)

    registry = build_registry(args.models)
    pages = [("text 0.0.4", generate_latest(registry).decode(), False, text_families)]
    if args.openmetrics:
        om_page = generate_openmetrics(build_registry(args.models, colons=False)).decode()
        pages.append(("OpenMetrics (names without ':')", om_page, True, om_families))

    status = 0
    for label, page, openmetrics, reference in pages:
        comparison = compare_with_reference(page, openmetrics=openmetrics)
        n = len(comparison.ours)
        print(
            f"{label}: {args.models} models, {n} samples, {len(page) / 1e6:.2f} MB, "
            f"same samples as prometheus_client: {comparison.equal}"
        )
        if not comparison.equal:
            print("\n".join(comparison.mismatches[:10]), file=sys.stderr)
            status = 1
            continue
        timings = time_parsers(page, openmetrics, reference, args.seconds)
        baseline = timings["prometheus_client"]
        for name, seconds in timings.items():
            print(
                f"  {name:27s} {seconds * 1e3:8.2f} ms/page {1 / seconds:8.1f} pages/s "
                f"{n / seconds / 1e6:6.2f} M samples/s  x{baseline / seconds:5.1f}"
            )
            if name != "prometheus_client":
                emit(f"parse {label}, {name}", f"{seconds * 1e3:.2f} ms/page ({n:,} samples)",
                     f"prometheus_client {baseline * 1e3:.2f} ms/page", baseline / seconds, ">= 10x")
    return status


if __name__ == "__main__":
    sys.exit(main())
