"""The simulated gateway: one OpenTelemetry GenAI span per request, sent with the real OTel SDK.

Spans follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``) with the tenant, API key
id, deployment and instance as attributes, and are exported over OTLP/HTTP (protobuf) to the
sidecar's ``/v1/traces``. Trace and span ids come from a seeded generator, so a run is repeatable.
"""

from __future__ import annotations

import random

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from infermeter.simulator.fleet import FleetSpec
from infermeter.simulator.traffic import Requests

# Attribute names the simulator puts on spans (the sidecar's gateway defaults read these).
TENANT_ATTR = "tenant.id"
API_KEY_ATTR = "api_key.id"
DEPLOYMENT_ATTR = "infermeter.deployment"
INSTANCE_ATTR = "infermeter.instance"


class SeededIds(IdGenerator):
    def __init__(self, seed: int) -> None:
        self._rnd = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._rnd.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rnd.getrandbits(128) or 1


class Gateway:
    """Turns simulated requests into GenAI client spans on an OTLP exporter."""

    def __init__(self, fleet: FleetSpec, exporter: SpanExporter, *, service_name: str = "llm-gateway") -> None:
        self.fleet = fleet
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                                       id_generator=SeededIds(fleet.seed))
        self.provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512, schedule_delay_millis=500))
        self.tracer = self.provider.get_tracer("infermeter.simulator")
        self.sent = 0

    def emit(self, req: Requests) -> None:
        fleet = self.fleet
        insts = fleet.instances
        for i in range(len(req)):
            tenant = fleet.tenants[int(req.tenant[i])]
            dep = fleet.deployments[int(req.deployment[i])]
            start_ns = int(req.ts[i] * 1e9)
            end_ns = start_ns + int(req.duration_s[i] * 1e9)
            status = int(req.status[i])
            attrs = {
                "gen_ai.operation.name": "embeddings" if dep.server == "triton" else "chat",
                "gen_ai.provider.name": "openai" if dep.server == "external" else dep.server,
                "gen_ai.request.model": dep.model,
                "gen_ai.response.model": dep.model,
                "gen_ai.usage.input_tokens": int(req.input_tokens[i]),
                "gen_ai.usage.output_tokens": int(req.output_tokens[i]),
                "gen_ai.usage.cache_read.input_tokens": int(req.cached_tokens[i]),
                "gen_ai.response.time_to_first_chunk": float(req.ttft_s[i]),
                "http.response.status_code": status,
                TENANT_ATTR: tenant.name,
                API_KEY_ATTR: f"key-{tenant.name}",
                DEPLOYMENT_ATTR: dep.name,
                INSTANCE_ATTR: insts[int(req.instance[i])].name if req.instance[i] >= 0 else "",
            }
            if status >= 400:
                attrs["error.type"] = str(status)
            span = self.tracer.start_span(f"{attrs['gen_ai.operation.name']} {dep.model}", kind=SpanKind.CLIENT,
                                          start_time=start_ns, attributes=attrs)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=end_ns)
            self.sent += 1

    def flush(self) -> None:
        self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()
