"""Attribution, the pure part: the engine's small aggregated result to exact ledger lines.

Everything here is integer or Decimal arithmetic on a few thousand rows (one per day, tenant,
deployment and model): GPU-hours in units of 1e-9 GPU-hour, tokens in units of 1e-9 of 1M
tokens, money in cents. Per (deployment, day, sku):

- held GPU-hours = busy + idle, exactly (idle = held in minutes without work);
- busy GPU-hours are split over (tenant, model) by the GPU-milliseconds the SQL attributed to
  them (their work times the minute's rate), by largest remainder: the split adds up exactly;
- idle GPU-hours go where the idle policy says (the dedicated tenant, the tenants in proportion
  to their busy share that day, the deployment's owner, or the ``(idle)`` line);
- the cost of the held GPU-hours at that day's list price is rounded to the cent once, then split
  over the lines by largest remainder, so tenant lines sum to the deployment's cost to the cent.

Token-priced models are billed at list price per (model, day, resource), rounded once and split
over tenants the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, NamedTuple, Sequence

from infermeter.chargeback import conventions as c
from infermeter.chargeback.money import (
    float_weights,
    gpu_cost_cents,
    largest_remainder,
    ms_to_nano_hours,
    quantize,
    token_cost_cents,
)
from infermeter.chargeback.prices import PriceCatalog
from infermeter.chargeback.tenancy import Tenancy

TOKEN_NANO = 1000  # one token in units of 1e-9 of 1M tokens


class UsageGroup(NamedTuple):
    """One row of the engine's SQL: a (day, tenant, deployment, model) and its GPU-ms per sku slot."""

    day: dt.date
    tenant: str
    deployment: str
    model: str
    gpu_ms: tuple[float, ...]
    requests: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int

    @property
    def uncached_input_tokens(self) -> int:
        return max(0, self.input_tokens - self.cached_input_tokens)

    @property
    def cached_tokens(self) -> int:
        return min(self.cached_input_tokens, self.input_tokens)


@dataclass(frozen=True)
class Held:
    """GPU-milliseconds a deployment held on one sku on one day, exact."""

    held_ms: int
    inst_ms: int  # instance-milliseconds (interval, without the fraction): the MIG price basis
    idle_ms: int


class Line(NamedTuple):
    """One ledger line; ``quantity`` in units of 1e-9 ``unit``, ``cost`` in cents. Immutable."""

    day: dt.date
    tenant: str
    deployment: str
    model: str
    resource: str
    gpu_model: str
    mig_profile: str
    quantity: int
    unit: str
    unit_price: Decimal
    cost: int
    method: str
    issue: str = ""
    requests: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    adjusts_run_id: str = ""

    def key(self) -> tuple:
        return (self.day, self.tenant, self.deployment, self.model, self.resource, self.gpu_model, self.mig_profile)


@dataclass
class EngineInput:
    """What :func:`attribute` needs from the SQL."""

    skus: dict[str, list[tuple[str, str]]]
    held: dict[tuple[str, dt.date, int], Held]
    usage: list[UsageGroup] = field(default_factory=list)


def usage_groups(table, slots: int, start: dt.date) -> list[UsageGroup]:
    """The engine's Arrow result as :class:`UsageGroup` rows (``day_index`` counts days from ``start``)."""
    if table is None or table.num_rows == 0:
        return []
    col = {name: table.column(name).to_pylist() for name in table.column_names}
    n_days = max(col["day_index"]) + 1
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    gpu = list(zip(*(col[f"g{s}"] for s in range(slots)))) if slots else [()] * table.num_rows
    return list(
        map(
            UsageGroup._make,
            zip(
                map(days.__getitem__, col["day_index"]), col["tenant"], col["deployment"], col["model"], gpu,
                col["requests"], col["input_tokens"], col["cached_input_tokens"], col["output_tokens"],
            ),
        )
    )


def _split(total: int, weights: Sequence[int]) -> list[int]:
    """Largest remainder, with an even split when every weight is zero (nothing is lost)."""
    if not weights:
        return []
    if sum(weights) == 0:
        weights = [1] * len(weights)
    return largest_remainder(total, weights)


def attribute(data: EngineInput, prices: PriceCatalog, tenancy: Tenancy) -> list[Line]:
    """Ledger lines for the engine's output (see the module docstring)."""
    token_deps = tenancy.token_deployments()
    gpu_groups: dict[tuple[str, dt.date], list[UsageGroup]] = defaultdict(list)
    token_groups: dict[tuple[str, dt.date, str], list[UsageGroup]] = defaultdict(list)
    for g in data.usage:
        if g.model in prices.token_models or g.deployment in token_deps:
            token_groups[(g.deployment, g.day, g.model)].append(g)
        else:
            gpu_groups[(g.deployment, g.day)].append(g)
    keys = set(gpu_groups) | {(dep, day) for (dep, day, _slot) in data.held}
    lines: list[Line] = []
    for dep, day in sorted(keys):
        lines.extend(_gpu_lines(dep, day, gpu_groups.get((dep, day), []), data, prices, tenancy))
    for (dep, day, model), groups in sorted(token_groups.items()):
        lines.extend(_token_lines(dep, day, model, groups, prices, tenancy))
    known = set(tenancy.tenants) | {c.IDLE_TENANT}
    for i, line in enumerate(lines):
        if line.tenant not in known and not line.issue:
            lines[i] = line._replace(issue=c.ISSUE_UNKNOWN_TENANT)
    return lines


def _gpu_lines(
    dep: str, day: dt.date, groups: list[UsageGroup], data: EngineInput, prices: PriceCatalog, tenancy: Tenancy
) -> list[Line]:
    cfg = tenancy.deployments.get(dep)
    dep_issue = "" if cfg is not None else c.ISSUE_UNKNOWN_DEPLOYMENT
    dedicated = cfg.tenant if cfg is not None and cfg.mode == "dedicated" else None
    busy_method = c.METHOD_DEDICATED if dedicated else c.METHOD_SHARED
    idle_model = cfg.model if cfg is not None else ""
    # (tenant, model, resource, gpu_model, mig) -> [quantity, unit_price, cost, method, issue, req, in, cached, out]
    out: dict[tuple, list] = {}
    first_sku: tuple[str, str, Decimal] | None = None

    for slot, (gpu_model, mig) in enumerate(data.skus.get(dep, [])):
        held = data.held.get((dep, day, slot))
        if held is None or held.held_ms <= 0:
            continue
        price = prices.gpu_price(day, gpu_model, mig)
        if price.basis == "mig":
            cents = gpu_cost_cents(held.inst_ms, price.price)
            unit_price = quantize(price.price * held.inst_ms / held.held_ms, c.UNIT_PRICE_PLACES)
        else:
            cents = gpu_cost_cents(held.held_ms, price.price)
            unit_price = price.price
        if first_sku is None:
            first_sku = (gpu_model, mig, unit_price)
        total = ms_to_nano_hours(held.held_ms)
        idle = ms_to_nano_hours(held.idle_ms)
        busy = total - idle

        weights: dict[tuple[str, str], int] = defaultdict(int)
        for g, w in zip(groups, float_weights([g.gpu_ms[slot] if slot < len(g.gpu_ms) else 0.0 for g in groups])):
            if w:
                weights[(dedicated or g.tenant, g.model)] += w
        if busy and not weights:  # work too small to weigh: nobody to charge the busy time to
            idle, busy = total, 0
        busy_keys = sorted(weights)
        busy_parts = largest_remainder(busy, [weights[k] for k in busy_keys]) if busy_keys else []

        entries: list[tuple[str, str, str, int, str]] = [  # tenant, model, resource, quantity, method
            (t, m, c.GPU, q, busy_method) for (t, m), q in zip(busy_keys, busy_parts)
        ]
        if idle:
            for tenant, q, method in _place_idle(idle, dedicated, cfg, tenancy, busy_keys, busy_parts):
                entries.append((tenant, idle_model, c.GPU_IDLE, q, method))
        costs = _split(cents, [e[3] for e in entries])
        for (tenant, model, resource, q, method), cost in zip(entries, costs):
            out[(tenant, model, resource, gpu_model, mig)] = [q, unit_price, cost, method, dep_issue, 0, 0, 0, 0]

    # Usage counters: on the tenant's `gpu` line of the first sku (a zero line when it has none).
    gpu_model, mig, unit_price = first_sku or ("", "", Decimal(0))
    for g in groups:
        issue = dep_issue
        if not issue and dedicated and g.tenant != dedicated:
            issue = c.ISSUE_NOT_DEDICATED_TENANT
        elif not issue and not any(g.gpu_ms) and (g.input_tokens or g.output_tokens):
            issue = c.ISSUE_NO_ALLOCATION
        key = (g.tenant, g.model, c.GPU, gpu_model, mig)
        acc = out.get(key)
        if acc is None:
            acc = out[key] = [0, unit_price, 0, busy_method, issue, 0, 0, 0, 0]
        elif issue and not acc[4]:
            acc[4] = issue
        acc[5] += g.requests
        acc[6] += g.input_tokens
        acc[7] += g.cached_input_tokens
        acc[8] += g.output_tokens
    make, unit = Line._make, c.UNIT_GPU_HOUR  # _make skips argument parsing: lines are made by the 100,000
    return [
        make((day, tenant, dep, model, resource, gm, mp, q, unit, up, cost, method, issue, req, inp, cached, outp, ""))
        for (tenant, model, resource, gm, mp), (q, up, cost, method, issue, req, inp, cached, outp) in out.items()
    ]


def _place_idle(
    idle: int, dedicated: str | None, cfg, tenancy: Tenancy, busy_keys: list[tuple[str, str]], busy_parts: list[int]
) -> Iterable[tuple[str, int, str]]:
    """(tenant, quantity, method) for the idle GPU-hours of one deployment-day-sku."""
    if dedicated:
        return [(dedicated, idle, c.METHOD_IDLE_DEDICATED)]
    policy = tenancy.idle_policy
    owner = cfg.owner if cfg is not None else None
    if policy == "proportional":
        per_tenant: dict[str, int] = defaultdict(int)
        for (tenant, _model), q in zip(busy_keys, busy_parts):
            per_tenant[tenant] += q
        tenants = sorted(t for t, q in per_tenant.items() if q > 0)
        if tenants:
            parts = largest_remainder(idle, [per_tenant[t] for t in tenants])
            return [(t, q, c.METHOD_IDLE["proportional"]) for t, q in zip(tenants, parts)]
        # Nobody worked on it that day: the owner takes it, or it stays visible as idle.
    if policy in ("proportional", "owner") and owner:
        return [(owner, idle, c.METHOD_IDLE["owner"])]
    return [(c.IDLE_TENANT, idle, c.METHOD_IDLE["separate"])]


def _token_lines(
    dep: str, day: dt.date, model: str, groups: list[UsageGroup], prices: PriceCatalog, tenancy: Tenancy
) -> list[Line]:
    price, _index = prices.token_price(day, model)
    dep_issue = "" if dep in tenancy.deployments or not dep else c.ISSUE_UNKNOWN_DEPLOYMENT
    lines: list[Line] = []
    make = Line._make
    unit = c.UNIT_1M_TOKENS
    method = c.METHOD_LIST_PRICE
    uncached = [max(0, g.input_tokens - g.cached_input_tokens) for g in groups]
    cached = [min(g.cached_input_tokens, g.input_tokens) for g in groups]
    output = [g.output_tokens for g in groups]
    for resource, counts, unit_price in (
        (c.INPUT_TOKENS, uncached, price.input),
        (c.CACHED_INPUT_TOKENS, cached, price.cached),
        (c.OUTPUT_TOKENS, output, price.output),
    ):
        costs = _split(token_cost_cents(sum(counts), unit_price), counts)
        if resource == c.INPUT_TOKENS:  # carries the usage counters, even at zero tokens
            lines.extend(
                make((day, g.tenant, dep, model, resource, "", "", n * TOKEN_NANO, unit, unit_price, cost, method, dep_issue,
                      g.requests, g.input_tokens, g.cached_input_tokens, g.output_tokens, ""))
                for g, n, cost in zip(groups, counts, costs)
            )
        else:
            lines.extend(
                make((day, g.tenant, dep, model, resource, "", "", n * TOKEN_NANO, unit, unit_price, cost, method, dep_issue,
                      0, 0, 0, 0, ""))
                for g, n, cost in zip(groups, counts, costs)
                if n
            )
    return lines
