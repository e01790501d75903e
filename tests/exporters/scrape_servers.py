"""Real HTTP servers on loopback for the scraper tests, and pages shaped like vLLM, Triton and DCGM.

* :class:`PageServer`: an aiohttp server in a thread of its own; each path serves what a callable
  returns, or misbehaves on demand (slow, HTTP 500, garbage, binary, oversized).
* :class:`VllmShape`: a prometheus_client registry with vLLM V1's names, types, labels and
  buckets (as in shared/fixtures/exposition/vllm_metrics_sample_v0.33.0_synthetic.prom); the test
  changes its values between scrapes and can restart it (counters back to zero).
* :class:`TritonShape` and :class:`DcgmShape`: Triton (C++) and dcgm-exporter (Go) write counters
  *without* ``_total`` under ``# TYPE <name> counter``, which prometheus_client cannot render (it
  always declares ``<name>_total``), so these two render their text format directly, with the
  names, labels and quirks of the real pages (Triton's summaries; DCGM's ``Hostname``, space
  after commas and blank-field sentinels).

Every shape keeps the true increase of each counter since a given moment, so tests can compare
``sum(delta)`` in the store with what really happened.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# --- the server -----------------------------------------------------------------------------


@dataclass
class Route:
    page: Callable[[], str | bytes]
    mode: str = "ok"  # ok | slow | error | garbage | binary | huge
    delay_s: float = 5.0
    hits: int = 0


class PageServer:
    """Serves ``routes[path]`` on 127.0.0.1 from a background thread."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="page-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def add(self, path: str, page: Callable[[], str | bytes]) -> str:
        self.routes[path] = Route(page)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "PageServer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        route.hits += 1
        if route.mode == "slow":
            await asyncio.sleep(route.delay_s)
        elif route.mode == "error":
            return web.Response(status=500, text="internal error")
        elif route.mode == "garbage":
            return web.Response(text="<html><body><h1>Welcome to nginx!</h1>\n<p>It works.</p></body></html>\n")
        elif route.mode == "binary":
            return web.Response(body=bytes(range(256)) * 4, content_type="application/octet-stream")
        elif route.mode == "huge":
            return web.Response(text="# filler\n" * 400_000)
        body = route.page()
        if isinstance(body, str):
            body = body.encode()
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def free_port() -> int:
    """A loopback port with nothing listening on it (a target that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- vLLM (prometheus_client, as vLLM itself uses) ------------------------------------------

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TOKEN_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)


@dataclass
class Increase:
    """True increases since :meth:`mark`, by (sample name, frozen labels)."""

    totals: dict[tuple[str, tuple], float] = field(default_factory=dict)

    def add(self, name: str, labels: dict[str, str], amount: float) -> None:
        key = (name, tuple(sorted(labels.items())))
        self.totals[key] = self.totals.get(key, 0.0) + amount


class VllmShape:
    """vLLM V1 engine metrics for some models; ``step()`` adds traffic, ``restart()`` resets."""

    def __init__(self, models: tuple[str, ...] = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-4B"), seed: int = 3):
        self.models = models
        self.rng = random.Random(seed)
        self.increase = Increase()
        self._build()

    def _build(self) -> None:
        r = self.registry = CollectorRegistry()
        base = ("model_name", "engine")
        self.prompt = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", base, registry=r)
        self.generation = Counter("vllm:generation_tokens", "Number of generation tokens processed.", base, registry=r)
        self.success = Counter(
            "vllm:request_success", "Count of successfully processed requests.", base + ("finished_reason",), registry=r
        )
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", base, buckets=TTFT_BUCKETS, registry=r
        )
        self.prompt_hist = Histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", base, buckets=TOKEN_BUCKETS, registry=r
        )
        self.running = Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", base, registry=r)
        self.kv = Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", base, registry=r)
        for m in self.models:
            for metric in (self.prompt, self.generation, self.ttft, self.prompt_hist, self.running, self.kv):
                metric.labels(m, "0")
            for reason in ("stop", "length", "abort"):
                self.success.labels(m, "0", reason)

    def page(self) -> str:
        return generate_latest(self.registry).decode()

    def step(self, requests: int = 5) -> None:
        """Simulate ``requests`` finished requests per model."""
        rng = self.rng
        for m in self.models:
            lab = {"model_name": m, "engine": "0"}
            for _ in range(requests):
                prompt, out = rng.randrange(10, 3000), rng.randrange(1, 500)
                ttft = rng.random() * 2
                reason = rng.choice(("stop", "length", "abort"))
                self.prompt.labels(m, "0").inc(prompt)
                self.generation.labels(m, "0").inc(out)
                self.success.labels(m, "0", reason).inc()
                self.ttft.labels(m, "0").observe(ttft)
                self.prompt_hist.labels(m, "0").observe(prompt)
                self.increase.add("vllm:prompt_tokens_total", lab, prompt)
                self.increase.add("vllm:generation_tokens_total", lab, out)
                self.increase.add("vllm:request_success_total", {**lab, "finished_reason": reason}, 1)
                self.increase.add("vllm:time_to_first_token_seconds_count", lab, 1)
                for le in TTFT_BUCKETS:
                    if ttft <= le:
                        self.increase.add("vllm:time_to_first_token_seconds_bucket", {**lab, "le": _le(le)}, 1)
                self.increase.add("vllm:time_to_first_token_seconds_bucket", {**lab, "le": "+Inf"}, 1)
            self.running.labels(m, "0").set(rng.randrange(0, 64))
            self.kv.labels(m, "0").set(round(rng.random(), 4))

    def restart(self) -> None:
        """The server restarted: every counter starts again from zero."""
        self._build()


def _le(bound: float) -> str:
    from prometheus_client.utils import floatToGoString

    return floatToGoString(bound)


# --- Triton and DCGM (text rendered as their servers write it) ------------------------------


class TritonShape:
    """Triton's per-model counters (no ``_total``), a summary and a GPU gauge."""

    def __init__(self, models: tuple[str, ...] = ("resnet50", "bert")) -> None:
        self.models = models
        self.increase = Increase()
        self.counts = {m: {"success": 0.0, "failure": 0.0, "count": 0.0, "exec": 0.0, "queue_us": 0.0} for m in models}

    def step(self, requests: int = 7, failures: int = 1, batch: int = 4) -> None:
        for m in self.models:
            c = self.counts[m]
            c["success"] += requests
            c["failure"] += failures
            c["count"] += requests * batch
            c["exec"] += requests
            c["queue_us"] += 55.0 * requests
            lab = {"model": m, "version": "1"}
            self.increase.add("nv_inference_request_success", lab, requests)
            self.increase.add("nv_inference_request_failure", {**lab, "reason": "BACKEND"}, failures)
            self.increase.add("nv_inference_count", lab, requests * batch)

    def restart(self) -> None:
        for c in self.counts.values():
            for k in c:
                c[k] = 0.0

    def page(self) -> str:
        lines = [
            "# HELP nv_inference_request_success Number of successful inference requests, all batch sizes",
            "# TYPE nv_inference_request_success counter",
        ]
        lines += [f'nv_inference_request_success{{model="{m}",version="1"}} {c["success"]:g}' for m, c in self.counts.items()]
        lines += [
            "# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes",
            "# TYPE nv_inference_request_failure counter",
        ]
        lines += [
            f'nv_inference_request_failure{{model="{m}",reason="BACKEND",version="1"}} {c["failure"]:g}'
            for m, c in self.counts.items()
        ]
        lines += ["# HELP nv_inference_count Number of inferences performed", "# TYPE nv_inference_count counter"]
        lines += [f'nv_inference_count{{model="{m}",version="1"}} {c["count"]:g}' for m, c in self.counts.items()]
        lines += ["# HELP nv_inference_exec_count Number of model executions performed", "# TYPE nv_inference_exec_count counter"]
        lines += [f'nv_inference_exec_count{{model="{m}",version="1"}} {c["exec"]:g}' for m, c in self.counts.items()]
        lines += [
            "# HELP nv_inference_queue_summary_us Summary of inference queuing duration in microseconds",
            "# TYPE nv_inference_queue_summary_us summary",
        ]
        for m, c in self.counts.items():
            lines.append(f'nv_inference_queue_summary_us_count{{model="{m}",version="1"}} {c["exec"]:g}')
            lines.append(f'nv_inference_queue_summary_us_sum{{model="{m}",version="1"}} {c["queue_us"]:g}')
            for q in ("0.5", "0.9", "0.99"):
                lines.append(f'nv_inference_queue_summary_us{{model="{m}",version="1",quantile="{q}"}} 55')
        lines += ["# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)", "# TYPE nv_gpu_utilization gauge"]
        lines.append('nv_gpu_utilization{gpu_uuid="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52"} 0.42')
        return "\n".join(lines) + "\n"


class DcgmShape:
    """dcgm-exporter's page for some GPUs, with pod attribution and a blank field."""

    SENTINEL = "9223372036854775794"

    def __init__(self, gpus: int = 2, pod: str = "vllm-7d4b9c6f8-x2k4q", mig_profile: str = "") -> None:
        self.gpus = gpus
        self.pod = pod
        self.mig_profile = mig_profile
        self.energy = [455497156.0 + i * 1000 for i in range(gpus)]
        self.increase = Increase()

    def uuid(self, i: int) -> str:
        return f"GPU-a8394b51-c086-568a-9f1a-c1e1c934c4{i:02d}"

    def labels(self, i: int) -> str:
        mig = f', GPU_I_PROFILE="{self.mig_profile}", GPU_I_ID="{i + 1}"' if self.mig_profile else ""
        return (
            f'gpu="{i}", UUID="{self.uuid(i)}", pci_bus_id="00000000:00:0{i}.0", device="nvidia{i}", '
            f'modelName="NVIDIA H100 80GB HBM3", Hostname="node-1"{mig}, container="vllm", '
            f'namespace="llm", pod="{self.pod}"'
        )

    def step(self, joules: float = 250.0) -> None:
        for i in range(self.gpus):
            self.energy[i] += joules * 1000
            self.increase.add("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", {"UUID": self.uuid(i)}, joules * 1000)

    def page(self) -> str:
        out = []
        fields = (
            ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).", lambda i: "1980"),
            ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C).", lambda i: self.SENTINEL),
            ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", lambda i: str(40 + i)),
            ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", lambda i: "312.456000"),
            (
                "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
                "counter",
                "Total energy consumption since boot (in mJ).",
                lambda i: f"{self.energy[i]:.0f}",
            ),
            ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", lambda i: "87"),
            ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", lambda i: "70123"),
        )
        for name, type_, help_, value in fields:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {type_}")
            for i in range(self.gpus):
                out.append(f"{name}{{{self.labels(i)}}} {value(i)}")
        return "\n".join(out) + "\n"
