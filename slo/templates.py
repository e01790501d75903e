"""Built-in SLI templates for inference services, referenced from a spec as ``template: NAME``
with optional ``params``. Each template turns validated parameters into an :class:`EventsSLI`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from infermeter.slo import conventions as c
from infermeter.slo.model import EventsSLI, UsageKind, UsageSLI
from infermeter.slo.sli_builders import counter_ratio_sli, latency_sli

# Bucket bounds (seconds) of vLLM V1's histograms (vllm/v1/metrics/loggers.py); a latency
# threshold must be one of them or the SLI matches no bucket.
VLLM_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                     10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                    20.0, 40.0, 80.0)
VLLM_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                    240.0, 480.0, 960.0, 1920.0, 7680.0)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selector: str = ""  # extra label matchers, e.g. 'model_name="llama-3-8b"'


class VllmAvailabilityParams(_Params):
    error_reasons: list[str] = ["error"]  # finished_reason values that count as failures


class GatewayAvailabilityParams(_Params):
    error_classes: list[str] = ["5xx"]  # status_class values that count as failures


class LatencyParams(_Params):
    threshold: float
    metric: str | None = None  # override the histogram (e.g. an older vLLM name)


@dataclass(frozen=True)
class Template:
    name: str
    summary: str
    params: type[_Params]
    build: Callable[[Any, tuple[str, ...]], EventsSLI]
    default_threshold: float | None = None
    buckets: tuple[float, ...] = ()
    usage: UsageKind | None = None  # the gateway templates: reports can read usage events instead


def _vllm_availability(p: VllmAvailabilityParams, g: tuple[str, ...]) -> EventsSLI:
    reasons = "|".join(p.error_reasons)
    return counter_ratio_sli(c.VLLM_REQUEST_SUCCESS_TOTAL, f'finished_reason=~"{reasons}"',
                             c.VLLM_REQUEST_SUCCESS_TOTAL, "", p.selector, g)


def _latency(metric: str) -> Callable[[LatencyParams, tuple[str, ...]], EventsSLI]:
    def build(p: LatencyParams, g: tuple[str, ...]) -> EventsSLI:
        return latency_sli(p.metric or metric, p.threshold, p.selector, g)

    return build


def _triton(p: _Params, g: tuple[str, ...]) -> EventsSLI:
    # Total = success + failure as two sums: one rate() over {__name__=~"success|failure"} would
    # hold two series with the same labels once rate() drops the name, which Prometheus 2 rejects
    # ("vector cannot contain metrics with the same labelset"). Triton exposes both counters for
    # every loaded model, so a grouped sum finds both in each group.
    failed = counter_ratio_sli(c.TRITON_REQUEST_FAILURE, "", c.TRITON_REQUEST_SUCCESS, "", p.selector, g)
    return EventsSLI(failed.error_query, f"{failed.total_query} + {failed.error_query}")


def _gateway_availability(p: GatewayAvailabilityParams, g: tuple[str, ...]) -> EventsSLI:
    classes = "|".join(p.error_classes)
    return counter_ratio_sli(c.GATEWAY_REQUESTS_TOTAL, f'{c.GATEWAY_LABEL_STATUS_CLASS}=~"{classes}"',
                             c.GATEWAY_REQUESTS_TOTAL, "", p.selector, g)


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("vllm-availability", "vLLM finished requests that ended in error (finished_reason)",
                 VllmAvailabilityParams, _vllm_availability),
        Template("vllm-ttft", "vLLM time to first token above a threshold", LatencyParams,
                 _latency(c.VLLM_TTFT_SECONDS), 1.0, VLLM_TTFT_BUCKETS),
        Template("vllm-itl", "vLLM inter-token latency above a threshold (metric: "
                 f"{c.VLLM_ITL_SECONDS_LEGACY} for older vLLM)", LatencyParams,
                 _latency(c.VLLM_ITL_SECONDS), 0.1, VLLM_ITL_BUCKETS),
        Template("vllm-e2e-latency", "vLLM end-to-end request latency above a threshold", LatencyParams,
                 _latency(c.VLLM_E2E_SECONDS), 10.0, VLLM_E2E_BUCKETS),
        Template("triton-availability", "Triton failed over all inference requests", _Params, _triton),
        Template("gateway-availability", "gateway requests answered 5xx (per tenant with group_by)",
                 GatewayAvailabilityParams, _gateway_availability, usage=UsageKind.AVAILABILITY),
        Template("gateway-latency", "gateway request duration above a threshold", LatencyParams,
                 _latency(c.GATEWAY_REQUEST_DURATION_SECONDS), 5.0, usage=UsageKind.LATENCY),
        Template("gateway-ttft", "gateway time to first token above a threshold", LatencyParams,
                 _latency(c.GATEWAY_TTFT_SECONDS), 1.0, usage=UsageKind.TTFT),
    )
}


class TemplateError(ValueError):
    """Unknown template or bad parameters; ``field`` is relative to the SLO."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _parsed(name: str, params: dict[str, Any]) -> tuple[Template, _Params]:
    template = TEMPLATES.get(name)
    if template is None:
        raise TemplateError("template", f"unknown template {name!r} (known: {', '.join(sorted(TEMPLATES))})")
    values = dict(params)
    if template.default_threshold is not None:
        values.setdefault("threshold", template.default_threshold)
    try:
        return template, template.params.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TemplateError(f"params.{where}" if where else "params", first["msg"]) from None


def usage_sli(name: str, params: dict[str, Any]) -> UsageSLI | None:
    """The usage-event form of a gateway template's SLI (None for other templates, and for a
    latency template whose ``metric`` names another histogram)."""
    template, parsed = _parsed(name, params)
    if template.usage is None or getattr(parsed, "metric", None) is not None:
        return None
    return UsageSLI(
        kind=template.usage,
        selector=parsed.selector,
        error_classes=tuple(getattr(parsed, "error_classes", ("5xx",))),
        threshold_s=float(getattr(parsed, "threshold", 0.0)),
    )


def render_template(name: str, params: dict[str, Any], group_by: tuple[str, ...]) -> tuple[EventsSLI, list[str]]:
    """The SLI of template ``name`` and warnings (e.g. a threshold that is no known bucket)."""
    template, parsed = _parsed(name, params)
    warnings = []
    threshold = getattr(parsed, "threshold", None)
    if template.buckets and threshold is not None and getattr(parsed, "metric", None) is None:
        if float(threshold) not in template.buckets:
            warnings.append(
                f"threshold {threshold:g} is not a bucket bound of {name}'s histogram "
                f"({', '.join(f'{b:g}' for b in template.buckets)}): the SLI will have no data"
            )
    return template.build(parsed, group_by), warnings
