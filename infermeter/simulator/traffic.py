"""Gateway traffic for a simulated fleet: pure, vectorised and deterministic.

Requests are generated hour by hour, each hour from its own random stream seeded by
``(fleet.seed, hour)``, so any time range gives the same requests however it is cut into chunks
(the backfill and the live simulator agree). Traffic has a daily cycle peaking at 14:00 UTC,
quieter weekends, tenant bursts, and incidents (error windows and latency regressions) drawn per
day from the seed or listed in the fleet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from infermeter.simulator.fleet import FleetSpec, Incident

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Requests:
    """One row per gateway request, as parallel numpy arrays (indexes into the fleet's lists)."""

    ts: np.ndarray  # float64 epoch seconds (request start)
    tenant: np.ndarray  # int32 index into fleet.tenants
    deployment: np.ndarray  # int32 index into fleet.deployments
    instance: np.ndarray  # int32 index into fleet.instances, -1 for external models
    seq: np.ndarray  # int64 position within its hour (with the hour, a stable id)
    input_tokens: np.ndarray  # int64
    cached_tokens: np.ndarray  # int64
    output_tokens: np.ndarray  # int64
    queue_s: np.ndarray
    ttft_s: np.ndarray
    duration_s: np.ndarray
    status: np.ndarray  # int16 HTTP status

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> "Requests":
        return Requests(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list["Requests"]) -> "Requests":
        if not parts:
            return empty()
        return Requests(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Requests)})

    @property
    def hour(self) -> np.ndarray:
        return (self.ts // HOUR).astype(np.int64)

    def event_ids(self, seed: int) -> list[str]:
        """Stable ids: seed, hour and position, so a replayed range gives the same ids."""
        return [f"sim-{seed:x}-{h:x}-{s:x}" for h, s in zip(self.hour.tolist(), self.seq.tolist())]


def empty() -> Requests:
    f8, i4, i8 = np.empty(0, np.float64), np.empty(0, np.int32), np.empty(0, np.int64)
    return Requests(f8, i4, i4, i4, i8, i8, i8, i8, f8, f8, f8, np.empty(0, np.int16))


def diurnal(ts: np.ndarray | float) -> np.ndarray | float:
    """Load factor in (0, 1]: a daily peak at 14:00 UTC and weekends at half the weekday load."""
    hod = (np.asarray(ts) % DAY) / HOUR
    day = np.asarray(ts) // DAY
    weekend = ((day + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    f = 0.2 + 0.8 * np.exp(-(((hod - 14.0) / 4.5) ** 2))
    return f * np.where(weekend, 0.5, 1.0)


@lru_cache(maxsize=512)
def incidents_on(fleet: FleetSpec, day: int) -> tuple[Incident, ...]:
    """Incidents of one day: the fleet's own plus random ones drawn from (seed, day)."""
    listed = [i for i in fleet.incidents if i.day == day]
    rng = np.random.default_rng([fleet.seed, day, 17])
    candidates = [d.name for d in fleet.deployments]
    for _ in range(rng.poisson(fleet.incidents_per_week / 7.0)):
        dep = candidates[int(rng.integers(len(candidates)))]
        start = float(rng.uniform(0, 22))
        hours = float(rng.uniform(0.3, 2.0))
        if rng.random() < 0.5:
            listed.append(Incident(deployment=dep, day=day, start_hour=start, hours=hours,
                                   error_ratio=float(rng.uniform(0.05, 0.3))))
        else:
            listed.append(Incident(deployment=dep, day=day, start_hour=start, hours=hours,
                                   latency_factor=float(rng.uniform(2.0, 5.0))))
    return tuple(listed)


def _bursts(fleet: FleetSpec, day: int) -> np.ndarray:
    """Per tenant (start_hour, hours, factor) of at most one burst in the day."""
    rng = np.random.default_rng([fleet.seed, day, 23])
    n = len(fleet.tenants)
    has = rng.random(n) < 0.3
    start = rng.uniform(0, 22, n)
    length = rng.uniform(0.5, 2.5, n)
    factor = np.where(has, rng.uniform(2.0, 4.0, n), 1.0)
    return np.stack([start, length, factor], axis=1)


@lru_cache(maxsize=64)
def _routing(fleet: FleetSpec):
    """Per tenant: model probabilities and, per model, the deployment index serving that tenant."""
    dep_index = {d.name: i for i, d in enumerate(fleet.deployments)}
    out = []
    for t in fleet.tenants:
        models = list(t.models)
        p = np.array([t.models[m] for m in models], dtype=float)
        deps = []
        for m in models:
            serving = fleet.deployments_for(m)
            own = [d for d in serving if d.tenant == t.name]
            shared = [d for d in serving if d.tenant is None]
            deps.append(dep_index[(own or shared or serving)[0].name])
        out.append((p / p.sum(), np.array(deps, dtype=np.int32)))
    return out


@lru_cache(maxsize=64)
def _instances_of(fleet: FleetSpec) -> list[np.ndarray]:
    by_dep: list[list[int]] = [[] for _ in fleet.deployments]
    names = [d.name for d in fleet.deployments]
    for i, inst in enumerate(fleet.instances):
        by_dep[names.index(inst.deployment.name)].append(i)
    return [np.array(v, dtype=np.int32) for v in by_dep]


@lru_cache(maxsize=256)
def hour_requests(fleet: FleetSpec, hour: int) -> Requests:
    """All requests that start within one hour, sorted by time."""
    rng = np.random.default_rng([fleet.seed, hour])
    t0 = hour * HOUR
    day = hour // 24
    hod = (t0 % DAY) / HOUR
    bursts = _bursts(fleet, day)
    in_burst = (hod + 0.5 >= bursts[:, 0]) & (hod + 0.5 < bursts[:, 0] + bursts[:, 1])
    load = float(diurnal(t0 + 1800))
    routing = _routing(fleet)

    tenant_parts, dep_parts = [], []
    for ti, t in enumerate(fleet.tenants):
        lam = t.rate_rps * load * (bursts[ti, 2] if in_burst[ti] else 1.0) * HOUR
        n = int(rng.poisson(lam))
        if n == 0:
            continue
        p, deps = routing[ti]
        tenant_parts.append(np.full(n, ti, np.int32))
        dep_parts.append(deps[rng.choice(len(deps), size=n, p=p)])
    if not tenant_parts:
        return empty()
    tenant = np.concatenate(tenant_parts)
    deployment = np.concatenate(dep_parts)
    n = len(tenant)
    ts = t0 + rng.random(n) * HOUR

    # Tokens: log-normal around each tenant's medians; embeddings produce no output tokens.
    med_in = np.array([t.input_tokens for t in fleet.tenants])[tenant]
    med_out = np.array([t.output_tokens for t in fleet.tenants])[tenant]
    cshare = np.array([t.cached_share for t in fleet.tenants])[tenant]
    server = np.array([d.server for d in fleet.deployments])[deployment]
    input_tokens = np.clip(np.rint(med_in * rng.lognormal(0, 0.6, n)), 1, 32_000).astype(np.int64)
    output_tokens = np.clip(np.rint(med_out * rng.lognormal(0, 0.5, n)), 1, 8_000).astype(np.int64)
    output_tokens[server == "triton"] = 0
    cached = np.minimum(np.floor(input_tokens * cshare * rng.uniform(0.5, 1.5, n)), input_tokens).astype(np.int64)
    cached[server == "triton"] = 0

    # Instances: uniform over the deployment's replicas; external models have none.
    inst_of = _instances_of(fleet)
    instance = np.full(n, -1, np.int32)
    for di, replicas in enumerate(inst_of):
        mask = deployment == di
        if len(replicas) and mask.any():
            instance[mask] = replicas[rng.integers(len(replicas), size=int(mask.sum()))]

    # Latency: queueing grows with utilisation; incidents multiply it or fail requests.
    cap = np.array([d.capacity_rps * max(d.instances, 1) for d in fleet.deployments])
    util = np.bincount(deployment, minlength=len(cap)) / HOUR / cap
    u = util[deployment]
    base_ttft = np.array([d.ttft_s for d in fleet.deployments])[deployment]
    itl = np.array([d.itl_s for d in fleet.deployments])[deployment]
    factor = np.ones(n)
    error_ratio = np.full(n, 0.002)
    for inc in incidents_on(fleet, day):
        start = day * DAY + inc.start_hour * HOUR
        active = (ts >= start) & (ts < start + inc.hours * HOUR)
        hit = active & (deployment == [d.name for d in fleet.deployments].index(inc.deployment))
        factor[hit] *= inc.latency_factor
        error_ratio[hit] = np.maximum(error_ratio[hit], inc.error_ratio)
    queue = rng.exponential(0.05, n) * np.maximum(0.0, u - 0.6) * 10 * factor
    ttft = base_ttft * rng.lognormal(0, 0.35, n) * (1 + 2 * np.maximum(0.0, u - 0.8)) * factor + queue
    duration = ttft + output_tokens * itl * rng.lognormal(0, 0.2, n) * factor

    status = np.full(n, 200, np.int16)
    draw = rng.random(n)
    failed = draw < error_ratio
    status[failed] = np.where(rng.random(int(failed.sum())) < 0.7, 500, 503)
    throttled = (~failed) & (u > 1.0) & (draw < error_ratio + 0.01)
    status[throttled] = 429
    duration[failed] = np.minimum(duration[failed], ttft[failed])
    output_tokens[failed | throttled] = 0

    order = np.argsort(ts, kind="stable")
    return Requests(
        ts=ts, tenant=tenant, deployment=deployment, instance=instance, seq=np.arange(n, dtype=np.int64),
        input_tokens=input_tokens, cached_tokens=cached, output_tokens=output_tokens,
        queue_s=queue, ttft_s=ttft, duration_s=duration, status=status,
    ).take(order)


def requests_between(fleet: FleetSpec, start: float, end: float) -> Requests:
    """Requests with start <= ts < end (epoch seconds)."""
    if end <= start:
        return empty()
    parts = []
    for hour in range(int(math.floor(start / HOUR)), int(math.ceil(end / HOUR))):
        r = hour_requests(fleet, hour)
        if len(r):
            mask = (r.ts >= start) & (r.ts < end)
            parts.append(r if mask.all() else r.take(np.nonzero(mask)[0]))
    return Requests.concat(parts)
