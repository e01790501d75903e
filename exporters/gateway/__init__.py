"""Gateway usage: OTLP GenAI spans, JSON-lines access logs and LiteLLM callbacks into ``usage``.

The sidecar wires it as::

    sink = make_sink(config.gateway, writer, registry)      # validates, writes, counts
    app.add_routes(gateway_routes(config.gateway, sink))     # /v1/traces, LiteLLM webhook
    await run_tailers(config.gateway, sink, stop, offsets_dir=data_dir / "offsets" / "gateway")
"""

from infermeter.exporters.gateway.config import GatewayConfig, LiteLLMConfig, OtlpConfig, TailerConfig
from infermeter.exporters.gateway.metrics import GatewaySelfMetrics, TenantMetrics, TopTenants
from infermeter.exporters.gateway.server import gateway_routes
from infermeter.exporters.gateway.sink import SinkResult, UsageSink, make_sink
from infermeter.exporters.gateway.tailer import Tailer, run_tailers

__all__ = [
    "GatewayConfig", "OtlpConfig", "LiteLLMConfig", "TailerConfig", "TenantMetrics", "TopTenants",
    "GatewaySelfMetrics", "UsageSink", "SinkResult", "make_sink", "gateway_routes", "Tailer", "run_tailers",
]
