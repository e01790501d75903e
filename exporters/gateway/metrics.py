"""Per-tenant gateway metrics for Prometheus, with a cardinality cap; and the inputs' self-metrics.

Exposed series (names from ``infermeter.slo.conventions``, so the SLO templates find them):

- ``infermeter_gateway_requests_total{tenant, model, status_class}``
- ``infermeter_gateway_request_duration_seconds{tenant, model}`` (histogram)
- ``infermeter_gateway_ttft_seconds{tenant, model}`` (histogram; requests that report a TTFT)
- ``infermeter_gateway_tokens_total{tenant, model, kind}`` (kind: input, cached_input, output;
  ``input`` counts every input token, the cached ones included)

The cap (:class:`TopTenants`), precisely:

1. At most ``cap`` tenants have a ``tenant`` label of their own; every other tenant's requests are
   counted under ``tenant="other"``. A tenant literally named ``other`` is always counted there.
2. Traffic is each tenant's request count, exponentially decayed with half-life ``half_life_s``.
3. A tenant gets a label of its own on its first request while fewer than ``cap`` tenants hold one.
4. Otherwise it enters at a rebalance (every ``rebalance_interval_s``, run on the next request or
   scrape after it is due): while the unlabelled tenant with the most traffic has more than
   ``hysteresis`` times the traffic of the labelled tenant with the least, the two swap.
5. Counters never go backwards. A tenant that loses its label stops being exposed (its series go
   stale in Prometheus) and its next requests count under ``other``; its values are kept, and if
   it wins a label again its series come back with those values and continue from there. ``other``
   only ever grows. So every exposed series is monotonic for the life of the process.
6. Models: the first ``model_cap`` distinct models keep their name, later ones are ``other``
   (models are the operator's deployments, not user input, so first come is enough).

Memory: the ranking tracks at most ``20 * cap`` tenants (the least-trafficked unlabelled ones
are forgotten first); the kept values of tenants that lost their label are bounded by the number
of swaps, at most ``cap`` per rebalance.

A duplicate ``event_id`` (an OTLP retry, a re-read log line) is counted once: the sink remembers
the last ``dedup_window`` event ids.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from infermeter.exporters.gateway import conventions as gc
from infermeter.exporters.gateway.normalize import status_class
from infermeter.ingest.models import UsageEvent
from infermeter.slo import conventions as sc

_REQUESTS = sc.GATEWAY_REQUESTS_TOTAL.removesuffix("_total")
_TOKENS = sc.GATEWAY_TOKENS_TOTAL.removesuffix("_total")
_T, _M = sc.GATEWAY_LABEL_TENANT, sc.GATEWAY_LABEL_MODEL


class TopTenants:
    """Which tenants hold a label of their own (the policy in this module's docstring)."""

    def __init__(
        self,
        cap: int,
        *,
        half_life_s: float = 3600.0,
        rebalance_interval_s: float = 60.0,
        hysteresis: float = 2.0,
        max_tracked: int | None = None,
        overflow: str = gc.OVERFLOW_LABEL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cap = cap
        self.overflow = overflow
        self.hysteresis = hysteresis
        self.rebalance_interval_s = rebalance_interval_s
        self.max_tracked = max(max_tracked or 20 * cap, cap + 1)
        self._rate = math.log(2) / half_life_s
        self._clock = clock
        self._t0 = clock()
        self._next_rebalance = self._t0 + rebalance_interval_s
        self.scores: dict[str, float] = {}  # decayed traffic, scaled by exp(rate * (t - t0))
        self.labelled: set[str] = set()
        self.swaps = 0

    def _weight(self, now: float) -> float:
        exponent = self._rate * (now - self._t0)
        if exponent > 600:  # renormalise before the scale overflows a float
            factor = math.exp(-exponent)
            self.scores = {k: v * factor for k, v in self.scores.items()}
            self._t0 = now
            exponent = 0.0
        return math.exp(exponent)

    def record(self, tenant: str) -> str:
        """Count one request of ``tenant``; returns the label it is counted under now."""
        if tenant == self.overflow:
            return self.overflow
        now = self._clock()
        scores = self.scores
        if tenant not in scores and len(scores) >= self.max_tracked:
            self._forget()
        scores[tenant] = scores.get(tenant, 0.0) + self._weight(now)
        if tenant in self.labelled:
            return tenant
        if len(self.labelled) < self.cap:
            self.labelled.add(tenant)
            return tenant
        return self.overflow

    def _forget(self) -> None:
        """Drop the tenth of unlabelled tenants with the least traffic."""
        unlabelled = sorted((v, k) for k, v in self.scores.items() if k not in self.labelled)
        for _, name in unlabelled[: max(1, len(unlabelled) // 10)]:
            del self.scores[name]

    def due(self) -> bool:
        return self._clock() >= self._next_rebalance

    def rebalance(self) -> list[tuple[str, str]]:
        """Swap labels where the policy says so; returns ``(promoted, demoted)`` pairs."""
        self._next_rebalance = self._clock() + self.rebalance_interval_s
        if len(self.labelled) < self.cap:
            return []
        outside = sorted(((v, k) for k, v in self.scores.items() if k not in self.labelled), reverse=True)
        inside = sorted((self.scores.get(k, 0.0), k) for k in self.labelled)
        swaps = []
        for (best, promoted), (worst, demoted) in zip(outside, inside):
            if best <= self.hysteresis * worst:
                break
            self.labelled.discard(demoted)
            self.labelled.add(promoted)
            swaps.append((promoted, demoted))
        self.swaps += len(swaps)
        return swaps


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self, n: int) -> None:
        self.counts = [0] * (n + 1)  # per bucket (not cumulative), the last is +Inf
        self.sum = 0.0


class _Series:
    """Everything exposed for one (tenant label, model label)."""

    __slots__ = ("requests", "tokens", "duration", "ttft")

    def __init__(self, n_duration: int, n_ttft: int) -> None:
        self.requests: dict[str, int] = {}
        self.tokens = [0, 0, 0]  # input, cached_input, output
        self.duration = _Histogram(n_duration)
        self.ttft = _Histogram(n_ttft)


class TenantMetrics:
    """The re-exposed per-tenant series, registered on ``registry`` as one collector."""

    def __init__(
        self,
        registry: CollectorRegistry | None,
        cap: int = 50,
        *,
        model_cap: int = 50,
        duration_buckets: Sequence[float] = gc.DURATION_BUCKETS,
        ttft_buckets: Sequence[float] = gc.TTFT_BUCKETS,
        half_life_s: float = 3600.0,
        rebalance_interval_s: float = 60.0,
        hysteresis: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenants = TopTenants(
            cap, half_life_s=half_life_s, rebalance_interval_s=rebalance_interval_s, hysteresis=hysteresis, clock=clock
        )
        self.model_cap = model_cap
        self._models: set[str] = set()
        self.duration_buckets = tuple(float(b) for b in duration_buckets)
        self.ttft_buckets = tuple(float(b) for b in ttft_buckets)
        self._series: dict[str, dict[str, _Series]] = {}  # exposed: tenant label -> model -> values
        self._kept: dict[str, dict[str, _Series]] = {}  # tenants that lost their label
        self._lock = threading.Lock()
        self.registry = registry
        if registry is not None:
            registry.register(self)

    @classmethod
    def from_config(cls, registry: CollectorRegistry | None, config, **kw) -> "TenantMetrics":
        return cls(
            registry, config.tenant_cap, model_cap=config.model_cap, duration_buckets=config.duration_buckets,
            ttft_buckets=config.ttft_buckets, half_life_s=config.tenant_half_life_s,
            rebalance_interval_s=config.rebalance_interval_s, hysteresis=config.rebalance_hysteresis, **kw,
        )

    # -- updates -----------------------------------------------------------------------------
    def observe(self, event: UsageEvent) -> None:
        self.observe_many((event,))

    def observe_many(self, events: Iterable[UsageEvent]) -> None:
        with self._lock:
            if self.tenants.due():
                self._apply_swaps(self.tenants.rebalance())
            for event in events:
                self._observe(event)

    def _model_label(self, model: str) -> str:
        if model in self._models:
            return model
        if model != gc.OVERFLOW_LABEL and len(self._models) < self.model_cap:
            self._models.add(model)
            return model
        return gc.OVERFLOW_LABEL

    def _observe(self, e: UsageEvent) -> None:
        tenant = self.tenants.record(e.tenant)
        by_model = self._series.get(tenant)
        if by_model is None:
            by_model = self._kept.pop(tenant, None) or {}
            self._series[tenant] = by_model
        model = self._model_label(e.model)
        s = by_model.get(model)
        if s is None:
            s = by_model[model] = _Series(len(self.duration_buckets), len(self.ttft_buckets))
        klass = status_class(e.status_code)
        s.requests[klass] = s.requests.get(klass, 0) + 1
        s.tokens[0] += e.input_tokens
        s.tokens[1] += e.cached_input_tokens
        s.tokens[2] += e.output_tokens
        seconds = e.duration_ms / 1000.0
        s.duration.counts[bisect.bisect_left(self.duration_buckets, seconds)] += 1
        s.duration.sum += seconds
        if e.ttft_ms is not None:
            seconds = e.ttft_ms / 1000.0
            s.ttft.counts[bisect.bisect_left(self.ttft_buckets, seconds)] += 1
            s.ttft.sum += seconds

    def _apply_swaps(self, swaps: list[tuple[str, str]]) -> None:
        for promoted, demoted in swaps:
            values = self._series.pop(demoted, None)
            if values is not None:
                self._kept[demoted] = values
            if promoted not in self._series and promoted in self._kept:
                self._series[promoted] = self._kept.pop(promoted)

    def rebalance_now(self) -> list[tuple[str, str]]:
        """Run a rebalance now (tests, or an operator's endpoint)."""
        with self._lock:
            swaps = self.tenants.rebalance()
            self._apply_swaps(swaps)
            return swaps

    def labelled_tenants(self) -> set[str]:
        with self._lock:
            return set(self.tenants.labelled)

    # -- exposition --------------------------------------------------------------------------
    def describe(self):
        return [
            CounterMetricFamily(_REQUESTS, "", labels=[_T, _M, sc.GATEWAY_LABEL_STATUS_CLASS]),
            HistogramMetricFamily(sc.GATEWAY_REQUEST_DURATION_SECONDS, "", labels=[_T, _M]),
            HistogramMetricFamily(sc.GATEWAY_TTFT_SECONDS, "", labels=[_T, _M]),
            CounterMetricFamily(_TOKENS, "", labels=[_T, _M, sc.GATEWAY_LABEL_TOKEN_KIND]),
            GaugeMetricFamily(gc.TENANT_LABELS_GAUGE, ""),
            CounterMetricFamily(gc.TENANT_SWAPS_TOTAL.removesuffix("_total"), ""),
        ]

    def collect(self):
        with self._lock:
            if self.tenants.due():
                self._apply_swaps(self.tenants.rebalance())
            requests = CounterMetricFamily(
                _REQUESTS, "Gateway requests by tenant, model and status class (tenants capped, the rest 'other').",
                labels=[_T, _M, sc.GATEWAY_LABEL_STATUS_CLASS],
            )
            duration = HistogramMetricFamily(
                sc.GATEWAY_REQUEST_DURATION_SECONDS, "Gateway request duration in seconds.", labels=[_T, _M]
            )
            ttft = HistogramMetricFamily(
                sc.GATEWAY_TTFT_SECONDS, "Gateway time to first token in seconds.", labels=[_T, _M]
            )
            tokens = CounterMetricFamily(
                _TOKENS, "Gateway tokens by tenant, model and kind (input includes cached_input).",
                labels=[_T, _M, sc.GATEWAY_LABEL_TOKEN_KIND],
            )
            for tenant, by_model in self._series.items():
                for model, s in by_model.items():
                    for klass, n in s.requests.items():
                        requests.add_metric([tenant, model, klass], n)
                    for kind, n in zip(sc.GATEWAY_TOKEN_KINDS, s.tokens):
                        tokens.add_metric([tenant, model, kind], n)
                    duration.add_metric([tenant, model], _buckets(self.duration_buckets, s.duration), s.duration.sum)
                    if any(s.ttft.counts):
                        ttft.add_metric([tenant, model], _buckets(self.ttft_buckets, s.ttft), s.ttft.sum)
            labelled = GaugeMetricFamily(gc.TENANT_LABELS_GAUGE, "Tenants holding a label of their own.",
                                         value=len(self.tenants.labelled))
            swaps = CounterMetricFamily(gc.TENANT_SWAPS_TOTAL.removesuffix("_total"),
                                        "Tenant label swaps made by the cardinality cap.", value=self.tenants.swaps)
        return [requests, duration, ttft, tokens, labelled, swaps]


def _buckets(bounds: tuple[float, ...], h: _Histogram) -> list[tuple[str, float]]:
    out, total = [], 0
    for bound, n in zip(bounds, h.counts):
        total += n
        out.append((floatToGoString(bound), total))
    out.append(("+Inf", total + h.counts[-1]))
    return out


class GatewaySelfMetrics:
    """Events accepted, quarantined and duplicated per input; spans ignored; HTTP rejections."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        kw = {"registry": registry}
        self.accepted = Counter(gc.EVENTS_ACCEPTED_TOTAL.removesuffix("_total"),
                                "Usage events validated and written, per input.", [gc.LABEL_INPUT], **kw)
        self.quarantined = Counter(gc.EVENTS_QUARANTINED_TOTAL.removesuffix("_total"),
                                   "Usage events sent to quarantine, per input.", [gc.LABEL_INPUT], **kw)
        self.duplicates = Counter(gc.EVENTS_DUPLICATE_TOTAL.removesuffix("_total"),
                                  "Usage events whose event_id was seen recently (counted once).", [gc.LABEL_INPUT], **kw)
        self.ignored = Counter(gc.SPANS_IGNORED_TOTAL.removesuffix("_total"),
                               "OTLP spans that are not GenAI requests.", [gc.LABEL_INPUT], **kw)
        self.rejected = Counter(gc.REQUESTS_REJECTED_TOTAL.removesuffix("_total"),
                                "HTTP requests refused as a whole, per input and reason.",
                                [gc.LABEL_INPUT, gc.LABEL_REASON], **kw)
