"""The read side of chargeback: typed queries over the ledger and telemetry, for reports and the portal.

Every function takes a store, a month (``"YYYY-MM"`` or a :class:`Period`) and, where it makes
sense, a tenant filter (``None`` = every tenant), and returns pydantic models with money as
:class:`~decimal.Decimal`. All aggregation runs in ClickHouse; Python only shapes the results.

What is read (docs/chargeback.md, "Ledger contract"):

- the ledger lines of the month's latest *complete* run (``run_id = {run:String}``); GPU-hours are
  the ``gpu`` and ``gpu_idle`` lines, tokens and requests the usage counters on the lines (set on
  one line per day, tenant, deployment and model, so sums never double count), cost the ``cost``
  column (already rounded so that lines add up to the cent). Adjustment lines (``method =
  'adjustment'``) belong to the month's bill but correct an earlier month's usage: they count in
  totals and are shown apart, never in the daily trend of this month.
- ``gpu_allocation`` (FINAL) and the utilisation telemetry in ``samples_1m``/``series`` for the
  efficiency view: GPU-seconds held against GPU-seconds busy.

Portal helpers may append functions in the marked section at the end of this file.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from infermeter.chargeback import conventions as cb
from infermeter.chargeback import runs
from infermeter.errors import ConfigError, InfermeterError, QueryError
from infermeter.exporters import conventions as xc
from infermeter.ingest import conventions as tables
from infermeter.ingest.store import Store

log = logging.getLogger("infermeter.chargeback.queries")

# Ledger vocabulary (docs/chargeback.md, "Ledger contract"), from the engine's conventions.
GPU_RESOURCES = (cb.GPU, cb.GPU_IDLE)
IDLE_TENANT = cb.IDLE_TENANT

# Utilisation telemetry, best first: (metric, factor to a 0..1 busy ratio). DCGM's profiling
# metric measures the graphics engine's active time; DEV_GPU_UTIL (percent) is the coarser
# "a kernel was running" sampled by the driver, as NVML's utilisation (the exporter's collector).
UTILISATION_METRICS: tuple[tuple[str, float], ...] = (
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", 1.0),
    ("DCGM_FI_DEV_GPU_UTIL", 0.01),
    (xc.GPU_UTILIZATION, 0.01),
)
# Series labels that carry the GPU's UUID (dcgm-exporter: UUID; the NVML collector: uuid).
GPU_UUID_LABELS = (xc.DCGM_UUID, "uuid", "gpu_uuid")

CENT = Decimal("0.01")
PER_MILLION = Decimal(1_000_000)
ZERO = Decimal(0)


class NoChargebackData(InfermeterError):
    """The month has no complete chargeback run (exit code 1)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(_Model):
    """A calendar month in UTC: ``start`` inclusive, ``end`` exclusive."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m}"

    @property
    def start_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.timezone.utc)

    @property
    def end_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), tzinfo=dt.timezone.utc)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days)]


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(month: str | Period) -> Period:
    """``YYYY-MM`` to its period; a :class:`Period` passes through. Bad text is a ConfigError."""
    if isinstance(month, Period):
        return month
    m = _MONTH.match(str(month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise ConfigError(f"--month: expected YYYY-MM (e.g. 2025-03), got {month!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    start = dt.date(year, mon, 1)
    end = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return Period(start=start, end=end)


class RunInfo(_Model):
    """The chargeback run whose ledger lines a report shows."""

    run_id: str
    version: int
    status: str
    period_start: dt.date
    period_end: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    usage_watermark: dt.datetime | None = None
    notes: dict[str, Any] = {}  # what the engine recorded (prices and tenancy digests, totals, ...)


class TokenCounts(_Model):
    """Tokens and requests; ``cached_input`` is the part of ``input`` served from cache."""

    input: int = 0
    cached_input: int = 0
    output: int = 0
    requests: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output


class CostLine(_Model):
    """One tenant's month on one deployment and model."""

    tenant: str
    deployment: str
    model: str
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    tokens: TokenCounts
    cost: Decimal
    idle_cost: Decimal
    adjustment_cost: Decimal
    cost_per_1m_tokens: Decimal | None
    issues: tuple[str, ...] = ()


class SloResult(_Model):
    """A tenant's SLO attainment for the month, as the SLO reports give it."""

    slo: str  # service/name
    objective: float | None = None  # percent (99.9)
    attainment: float | None = None  # the SLI over the month, 0..1; None without traffic
    met: bool | None = None  # None without traffic


class TenantSummary(_Model):
    tenant: str
    period: Period
    currency: str
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    idle_share: Decimal | None
    tokens: TokenCounts
    cost: Decimal
    idle_cost: Decimal
    adjustment_cost: Decimal
    cost_per_1m_tokens: Decimal | None
    lines: tuple[CostLine, ...]
    budget: Decimal | None = None
    budget_used: Decimal | None = None  # fraction of the budget spent (1 = all of it)
    slo: tuple[SloResult, ...] | None = None  # None: no SLO report ("n/a"); (): no SLO for the tenant
    issues: tuple[str, ...] = ()


class DailyPoint(_Model):
    day: dt.date
    cost: Decimal
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    tokens: TokenCounts


class ModelCost(_Model):
    model: str
    cost: Decimal
    gpu_hours: Decimal
    tokens: TokenCounts
    cost_per_1m_tokens: Decimal | None
    share: Decimal | None  # of the filtered total cost


class TenantCost(_Model):
    tenant: str
    cost: Decimal
    gpu_hours: Decimal
    tokens: int


class FleetTotals(_Model):
    period: Period
    currency: str
    cost: Decimal
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    idle_cost: Decimal
    separate_idle_cost: Decimal  # idle charged to tenant "(idle)" under policy `separate`
    adjustment_cost: Decimal
    tokens: TokenCounts
    tenants: int
    deployments: int
    top_tenants: tuple[TenantCost, ...]
    issue_lines: int


class LedgerLine(_Model):
    """A ledger line summed over the month's days (per price, so a mid-month price change shows)."""

    tenant: str
    deployment: str
    model: str
    resource: str
    gpu_model: str
    mig_profile: str
    method: str
    unit: str
    unit_price: Decimal
    currency: str
    quantity: Decimal
    cost: Decimal
    tokens: TokenCounts
    period_start: dt.date  # first day covered
    period_end: dt.date  # exclusive end of the last day covered
    adjusts_run_id: str = ""
    issue: str = ""


class IssueLine(_Model):
    issue: str
    tenant: str
    deployment: str
    model: str
    cost: Decimal
    gpu_hours: Decimal
    requests: int


class DeploymentEfficiency(_Model):
    """GPU time a deployment held against the time its GPUs were busy, and what the rest cost."""

    deployment: str
    gpu_models: tuple[str, ...]
    gpus: int
    held_gpu_seconds: float
    covered_gpu_seconds: float  # held seconds that have utilisation telemetry
    busy_gpu_seconds: float  # over the covered seconds
    busy_share: float | None  # busy / covered; None without telemetry
    telemetry: str  # the metric(s) used, or '' when none
    gpu_cost: Decimal | None  # GPU cost in the ledger (None: no complete run)
    idle_cost: Decimal | None  # gpu_cost x (1 - busy_share)
    ledger_idle_gpu_hours: Decimal | None  # held with no requests, as the ledger attributes it
    ledger_idle_cost: Decimal | None
    tokens: TokenCounts
    cost: Decimal | None  # all ledger cost of the deployment (GPU and token lines)
    cost_per_1m_tokens: Decimal | None

    @property
    def held_gpu_hours(self) -> float:
        return self.held_gpu_seconds / 3600

    @property
    def idle_gpu_seconds(self) -> float | None:
        if self.busy_share is None:
            return None
        return self.held_gpu_seconds * (1 - self.busy_share)


# ---------------------------------------------------------------------------------------------
# helpers


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def per_million(cost: Decimal, tokens: int) -> Decimal | None:
    """Cost per 1M tokens (input + output) to 1/10,000 of the currency unit; None without tokens."""
    if tokens <= 0:
        return None
    return (cost * PER_MILLION / Decimal(tokens)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _d(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _records(store: Store, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return store.query_arrow(sql, params).to_pylist()


def _tokens(row: Mapping[str, Any]) -> TokenCounts:
    return TokenCounts(
        input=int(row.get("n_input") or 0),
        cached_input=int(row.get("n_cached") or 0),
        output=int(row.get("n_output") or 0),
        requests=int(row.get("n_requests") or 0),
    )


def _tenant_clause(tenant: str | None) -> str:
    return "" if tenant is None else " AND tenant = {tenant:String}"


def _params(run: RunInfo, period: Period, tenant: str | None = None, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"run": run.run_id, "start": period.start, "end": period.end, **extra}
    if tenant is not None:
        params["tenant"] = tenant
    return params


def _lit(value: str) -> str:
    """A code-defined name (never user input) as an SQL string literal."""
    if not re.fullmatch(r"[A-Za-z0-9_()-]+", value):
        raise ValueError(f"not a plain name: {value!r}")
    return f"'{value}'"


_GPU_IN = f"resource IN ({_lit(cb.GPU)}, {_lit(cb.GPU_IDLE)})"
_IS_IDLE = f"resource = {_lit(cb.GPU_IDLE)}"
_IS_ADJ = f"method = {_lit(cb.METHOD_ADJUSTMENT)}"

# Sums shared by the ledger queries: GPU-hours, idle, tokens, cost, adjustments.
_SUMS = f"""
    sumIf(quantity, {_GPU_IN}) AS gpu_hours,
    sumIf(quantity, {_IS_IDLE}) AS idle_gpu_hours,
    sum(input_tokens) AS n_input,
    sum(cached_input_tokens) AS n_cached,
    sum(output_tokens) AS n_output,
    sum(requests) AS n_requests,
    sum(cost) AS total_cost,
    sumIf(cost, {_IS_IDLE}) AS idle_cost,
    sumIf(cost, {_IS_ADJ}) AS adjustment_cost"""


# ---------------------------------------------------------------------------------------------
# runs


def _run_info(run: "runs.RunInfo") -> RunInfo:
    return RunInfo(
        run_id=run.run_id,
        version=run.version,
        status=run.status,
        period_start=run.period_start,
        period_end=run.period_end,
        started_at=run.started_at,
        finished_at=run.finished_at,
        usage_watermark=run.usage_watermark,
        notes=run.notes,
    )


def list_runs(store: Store, month: str | Period) -> list[RunInfo]:
    """Every run recorded for the month (:func:`infermeter.chargeback.runs.list_runs`), newest version first."""
    period = parse_month(month)
    found = [_run_info(r) for r in runs.list_runs(store, period.label)]
    return sorted(found, key=lambda r: (r.version, r.started_at), reverse=True)


def run_info(store: Store, month: str | Period) -> RunInfo | None:
    """The month's latest complete run (:func:`infermeter.chargeback.runs.latest_run`), or None."""
    run = runs.latest_run(store, parse_month(month).label)
    return _run_info(run) if run is not None else None


def require_run(store: Store, month: str | Period) -> RunInfo:
    """The month's latest complete run, or :class:`NoChargebackData` saying what to do."""
    period = parse_month(month)
    run = run_info(store, period)
    if run is None:
        others = list_runs(store, period)
        hint = ""
        if others:
            hint = f" (runs recorded: {', '.join(f'{r.run_id} v{r.version} {r.status}' for r in others[:3])})"
        raise NoChargebackData(
            f"no complete chargeback run for {period.label}{hint}: "
            f"run `infermeter chargeback run --month {period.label}` first"
        )
    return run


def months(store: Store) -> list[str]:
    """Months that have a complete run, newest first."""
    sql = f"""
        SELECT r_start FROM (
            SELECT run_id, any(period_start) AS r_start,
                   argMax(status, ifNull(finished_at, started_at)) AS r_status
            FROM {tables.CHARGEBACK_RUNS} GROUP BY run_id)
        WHERE r_status = {{complete:String}}
        GROUP BY r_start ORDER BY r_start DESC"""
    return [f"{r[0]:%Y-%m}" for r in store.query_rows(sql, {"complete": cb.STATUS_COMPLETE})]


def _run(store: Store, period: Period, run: RunInfo | None) -> RunInfo:
    return run if run is not None else require_run(store, period)


def currency_of(store: Store, month: str | Period, *, run: RunInfo | None = None) -> str:
    """The run's currency; a run that mixes currencies cannot be summed and is an error."""
    period = parse_month(month)
    run = _run(store, period, run)
    rows = store.query_rows(
        f"SELECT DISTINCT currency FROM {tables.LEDGER} WHERE run_id = {{run:String}} ORDER BY currency",
        {"run": run.run_id},
    )
    found = [r[0] for r in rows if r[0]]
    if len(found) > 1:
        raise QueryError(f"run {run.run_id} for {period.label} mixes currencies {', '.join(found)}; totals cannot be added")
    return found[0] if found else ""


# ---------------------------------------------------------------------------------------------
# tenants


def tenants(store: Store, month: str | Period, *, run: RunInfo | None = None) -> list[str]:
    """Tenants with ledger lines in the month's run, by name."""
    period = parse_month(month)
    run = _run(store, period, run)
    rows = store.query_rows(
        f"SELECT DISTINCT tenant FROM {tables.LEDGER} WHERE run_id = {{run:String}} ORDER BY tenant", {"run": run.run_id}
    )
    return [r[0] for r in rows]


def cost_lines(
    store: Store, month: str | Period, tenant: str | None = None, *, run: RunInfo | None = None
) -> list[CostLine]:
    """Per tenant, deployment and model: GPU-hours, tokens, cost (adjustments included)."""
    period = parse_month(month)
    run = _run(store, period, run)
    sql = f"""
        SELECT tenant, deployment, model, {_SUMS},
               arraySort(groupUniqArrayIf(issue, issue != '')) AS issues
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}}{_tenant_clause(tenant)}
        GROUP BY tenant, deployment, model
        ORDER BY tenant, total_cost DESC, deployment, model"""
    out = []
    for r in _records(store, sql, _params(run, period, tenant)):
        tokens = _tokens(r)
        cost = _d(r["total_cost"])
        out.append(
            CostLine(
                tenant=r["tenant"],
                deployment=r["deployment"],
                model=r["model"],
                gpu_hours=_d(r["gpu_hours"]),
                idle_gpu_hours=_d(r["idle_gpu_hours"]),
                tokens=tokens,
                cost=cost,
                idle_cost=_d(r["idle_cost"]),
                adjustment_cost=_d(r["adjustment_cost"]),
                cost_per_1m_tokens=per_million(cost, tokens.total),
                issues=tuple(r["issues"]),
            )
        )
    return out


def _sum_lines(lines: Iterable[CostLine]) -> dict[str, Any]:
    acc: dict[str, Any] = {k: ZERO for k in ("gpu_hours", "idle_gpu_hours", "cost", "idle_cost", "adjustment_cost")}
    counts = {"input": 0, "cached_input": 0, "output": 0, "requests": 0}
    issues: set[str] = set()
    for line in lines:
        for k in acc:
            acc[k] += getattr(line, k)
        for k in counts:
            counts[k] += getattr(line.tokens, k)
        issues.update(line.issues)
    acc["tokens"] = TokenCounts(**counts)
    acc["issues"] = tuple(sorted(issues))
    return acc


def tenant_summaries(
    store: Store,
    month: str | Period,
    tenant: str | None = None,
    *,
    budgets: Mapping[str, Decimal | None] | None = None,
    slo: Mapping[str, tuple[SloResult, ...]] | None = None,
    run: RunInfo | None = None,
) -> list[TenantSummary]:
    """One summary per tenant of the month (or the one tenant asked for), by name.

    ``budgets`` maps tenants to their monthly budget (from the tenancy configuration), ``slo``
    tenants to their SLO results (:func:`slo_by_tenant`); without it the SLO column is "n/a".
    """
    period = parse_month(month)
    run = _run(store, period, run)
    currency = currency_of(store, period, run=run)
    by_tenant: dict[str, list[CostLine]] = {}
    for line in cost_lines(store, period, tenant, run=run):
        by_tenant.setdefault(line.tenant, []).append(line)
    out = []
    for name in sorted(by_tenant):
        lines = by_tenant[name]
        acc = _sum_lines(lines)
        budget = budgets.get(name) if budgets else None
        budget = _d(budget) if budget is not None else None
        out.append(
            TenantSummary(
                tenant=name,
                period=period,
                currency=currency,
                gpu_hours=acc["gpu_hours"],
                idle_gpu_hours=acc["idle_gpu_hours"],
                idle_share=_ratio(acc["idle_gpu_hours"], acc["gpu_hours"]),
                tokens=acc["tokens"],
                cost=acc["cost"],
                idle_cost=acc["idle_cost"],
                adjustment_cost=acc["adjustment_cost"],
                cost_per_1m_tokens=per_million(acc["cost"], acc["tokens"].total),
                lines=tuple(lines),
                budget=budget,
                budget_used=_ratio(acc["cost"], budget) if budget else None,
                slo=None if slo is None or name == IDLE_TENANT else slo.get(name, ()),
                issues=acc["issues"],
            )
        )
    return out


def tenant_summary(
    store: Store,
    month: str | Period,
    tenant: str,
    *,
    budget: Decimal | None = None,
    slo: Mapping[str, tuple[SloResult, ...]] | None = None,
    run: RunInfo | None = None,
) -> TenantSummary | None:
    """One tenant's month, or None when the run has no line for that tenant."""
    found = tenant_summaries(
        store, month, tenant, budgets={tenant: budget} if budget is not None else None, slo=slo, run=run
    )
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------
# trend, models, fleet


def daily_trend(
    store: Store, month: str | Period, tenant: str | None = None, *, run: RunInfo | None = None
) -> list[DailyPoint]:
    """Cost, GPU-hours and tokens per day of the month (every day, zeros included).

    Adjustment lines correct earlier months and are left out here (see ``adjustment_cost``).
    """
    period = parse_month(month)
    run = _run(store, period, run)
    sql = f"""
        SELECT period_start AS day, {_SUMS}
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}} AND NOT {_IS_ADJ}
          AND period_start >= {{start:Date}} AND period_start < {{end:Date}}{_tenant_clause(tenant)}
        GROUP BY day ORDER BY day"""
    rows = {r["day"]: r for r in _records(store, sql, _params(run, period, tenant))}
    out = []
    for day in period.days():
        r = rows.get(day, {})
        out.append(
            DailyPoint(
                day=day,
                cost=_d(r.get("total_cost")),
                gpu_hours=_d(r.get("gpu_hours")),
                idle_gpu_hours=_d(r.get("idle_gpu_hours")),
                tokens=_tokens(r),
            )
        )
    return out


def model_breakdown(
    store: Store, month: str | Period, tenant: str | None = None, *, run: RunInfo | None = None
) -> list[ModelCost]:
    """Cost, GPU-hours and tokens per model (most expensive first), with each model's share."""
    period = parse_month(month)
    run = _run(store, period, run)
    sql = f"""
        SELECT model, {_SUMS}
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}}{_tenant_clause(tenant)}
        GROUP BY model ORDER BY total_cost DESC, model"""
    rows = _records(store, sql, _params(run, period, tenant))
    total = sum((_d(r["total_cost"]) for r in rows), ZERO)
    out = []
    for r in rows:
        tokens, cost = _tokens(r), _d(r["total_cost"])
        out.append(
            ModelCost(
                model=r["model"],
                cost=cost,
                gpu_hours=_d(r["gpu_hours"]),
                tokens=tokens,
                cost_per_1m_tokens=per_million(cost, tokens.total),
                share=_ratio(cost, total),
            )
        )
    return out


def fleet_totals(store: Store, month: str | Period, *, top: int = 10, run: RunInfo | None = None) -> FleetTotals:
    """The whole fleet's month: what the run attributed, the idle part, and the top tenants."""
    period = parse_month(month)
    run = _run(store, period, run)
    currency = currency_of(store, period, run=run)
    sql = f"""
        SELECT {_SUMS},
               sumIf(cost, tenant = {{idle:String}}) AS separate_idle_cost,
               uniqExactIf(tenant, tenant != {{idle:String}}) AS tenants, uniqExact(deployment) AS deployments,
               countIf(issue != '') AS issue_lines
        FROM {tables.LEDGER} WHERE run_id = {{run:String}}"""
    r = _records(store, sql, _params(run, period, idle=IDLE_TENANT))[0]
    top_sql = f"""
        SELECT tenant, sum(cost) AS t_cost, sumIf(quantity, {_GPU_IN}) AS gpu_hours,
               sum(input_tokens) + sum(output_tokens) AS n_tokens
        FROM {tables.LEDGER} WHERE run_id = {{run:String}}
        GROUP BY tenant ORDER BY t_cost DESC, tenant LIMIT {{top:UInt32}}"""
    top_rows = _records(store, top_sql, _params(run, period, top=top))
    return FleetTotals(
        period=period,
        currency=currency,
        cost=_d(r["total_cost"]),
        gpu_hours=_d(r["gpu_hours"]),
        idle_gpu_hours=_d(r["idle_gpu_hours"]),
        idle_cost=_d(r["idle_cost"]),
        separate_idle_cost=_d(r["separate_idle_cost"]),
        adjustment_cost=_d(r["adjustment_cost"]),
        tokens=_tokens(r),
        tenants=int(r["tenants"]),
        deployments=int(r["deployments"]),
        top_tenants=tuple(
            TenantCost(tenant=t["tenant"], cost=_d(t["t_cost"]), gpu_hours=_d(t["gpu_hours"]), tokens=int(t["n_tokens"]))
            for t in top_rows
        ),
        issue_lines=int(r["issue_lines"]),
    )


def ledger_lines(
    store: Store, month: str | Period, tenant: str | None = None, *, run: RunInfo | None = None, daily: bool = False
) -> list[LedgerLine]:
    """The run's lines summed over days, per (tenant, deployment, model, resource, GPU, method, price).

    A price change in the middle of the month keeps two lines (one per unit price), each with the
    days it covers; adjustment lines stay apart with the run they correct. ``daily`` keeps the
    ledger's own days (one line per day).
    """
    period = parse_month(month)
    run = _run(store, period, run)
    day_key = ", period_start, period_end" if daily else ""
    sql = f"""
        SELECT tenant, deployment, model, resource, gpu_model, mig_profile, method, unit, unit_price, currency,
               adjusts_run_id, issue,
               sum(quantity) AS l_quantity, sum(cost) AS total_cost,
               sum(input_tokens) AS n_input, sum(cached_input_tokens) AS n_cached,
               sum(output_tokens) AS n_output, sum(requests) AS n_requests,
               min(period_start) AS first_day, max(period_end) AS last_end
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}}{_tenant_clause(tenant)}
        GROUP BY tenant, deployment, model, resource, gpu_model, mig_profile, method, unit, unit_price, currency,
                 adjusts_run_id, issue{day_key}
        ORDER BY tenant, deployment, model, resource, first_day, unit_price, method"""
    return [
        LedgerLine(
            tenant=r["tenant"],
            deployment=r["deployment"],
            model=r["model"],
            resource=r["resource"],
            gpu_model=r["gpu_model"],
            mig_profile=r["mig_profile"],
            method=r["method"],
            unit=r["unit"],
            unit_price=_d(r["unit_price"]),
            currency=r["currency"],
            quantity=_d(r["l_quantity"]),
            cost=_d(r["total_cost"]),
            tokens=_tokens(r),
            period_start=r["first_day"],
            period_end=r["last_end"],
            adjusts_run_id=r["adjusts_run_id"],
            issue=r["issue"],
        )
        for r in _records(store, sql, _params(run, period, tenant))
    ]


def issues(store: Store, month: str | Period, tenant: str | None = None, *, run: RunInfo | None = None) -> list[IssueLine]:
    """Lines the engine flagged (unknown tenant or deployment, no allocation, ...), grouped."""
    period = parse_month(month)
    run = _run(store, period, run)
    sql = f"""
        SELECT issue, tenant, deployment, model, sum(cost) AS total_cost,
               sumIf(quantity, {_GPU_IN}) AS gpu_hours, sum(requests) AS n_requests
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}} AND issue != ''{_tenant_clause(tenant)}
        GROUP BY issue, tenant, deployment, model ORDER BY issue, tenant, deployment, model"""
    return [
        IssueLine(
            issue=r["issue"], tenant=r["tenant"], deployment=r["deployment"], model=r["model"],
            cost=_d(r["total_cost"]), gpu_hours=_d(r["gpu_hours"]), requests=int(r["n_requests"]),
        )  # fmt: skip
        for r in _records(store, sql, _params(run, period, tenant))
    ]


# ---------------------------------------------------------------------------------------------
# efficiency


def _util_sql() -> tuple[str, dict[str, Any]]:
    """Per GPU and minute: the busy ratio from the best utilisation metric that GPU reports."""
    metrics = [m for m, _ in UTILISATION_METRICS]
    prio = "multiIf(" + ", ".join(f"s.s_metric = {{um{i}:String}}, {i}" for i in range(len(metrics))) + f", {len(metrics)})"
    scale = "multiIf(" + ", ".join(f"s.s_metric = {{um{i}:String}}, {f!r}" for i, (_, f) in enumerate(UTILISATION_METRICS)) + ", 1.0)"
    uuid = "multiIf(" + ", ".join(f"s.s_labels[{{ul{i}:String}}] != '', s.s_labels[{{ul{i}:String}}]" for i in range(len(GPU_UUID_LABELS))) + ", '')"
    params: dict[str, Any] = {f"um{i}": m for i, m in enumerate(metrics)}
    params.update({f"ul{i}": label for i, label in enumerate(GPU_UUID_LABELS)})
    params["metrics"] = metrics
    sql = f"""
        SELECT gpu_uuid, minute, argMin(ratio, prio) AS busy, argMin(u_metric, prio) AS metric_used, 1 AS present
        FROM (
            SELECT {uuid} AS gpu_uuid, m.ts AS minute, {prio} AS prio, any(s.s_metric) AS u_metric,
                   least(greatest(sum(m.sum) / sum(m.count) * {scale}, 0), 1) AS ratio
            FROM {tables.SAMPLES_1M} AS m
            INNER JOIN (
                SELECT series_id, any(metric) AS s_metric, any(labels) AS s_labels
                FROM {tables.SERIES} WHERE metric IN {{metrics:Array(String)}} GROUP BY series_id
            ) AS s ON m.series_id = s.series_id
            WHERE m.ts >= {{start_ts:DateTime64(3, 'UTC')}} AND m.ts < {{end_ts:DateTime64(3, 'UTC')}}
            GROUP BY gpu_uuid, minute, prio, s.s_metric
            HAVING gpu_uuid != '' AND sum(m.count) > 0
        )
        GROUP BY gpu_uuid, minute"""
    return sql, params


def efficiency(
    store: Store, month: str | Period, deployment: str | None = None, *, run: RunInfo | None | bool = None
) -> list[DeploymentEfficiency]:
    """Per deployment: GPU-seconds held (allocation heartbeats) against busy (utilisation telemetry).

    Busy GPU-seconds = held seconds x the GPU's busy ratio in that minute (DCGM's graphics-engine
    activity when present, else GPU utilisation), summed over the minutes that have telemetry
    (``covered_gpu_seconds``). Idle cost = the deployment's GPU cost in the ledger x (1 - busy
    share). Works without a chargeback run (costs are then None); pass ``run=False`` to skip the
    ledger.
    """
    period = parse_month(month)
    if run is None:
        run = run_info(store, period)
    elif run is False:
        run = None
    util_sql, params = _util_sql()
    dep_clause = "" if deployment is None else " AND deployment = {deployment:String}"
    sql = f"""
        WITH util AS ({util_sql}),
        held AS (
            SELECT deployment, gpu_uuid, any(gpu_model) AS h_model, toStartOfMinute(ts) AS minute,
                   sum(interval_s * fraction) AS held_s
            FROM {tables.GPU_ALLOCATION} FINAL
            WHERE ts >= {{start_ts:DateTime64(3, 'UTC')}} AND ts < {{end_ts:DateTime64(3, 'UTC')}}{dep_clause}
            GROUP BY deployment, gpu_uuid, minute
        )
        SELECT h.deployment AS deployment,
               arraySort(groupUniqArray(h.h_model)) AS gpu_models,
               uniqExact(h.gpu_uuid) AS gpus,
               sum(h.held_s) AS held,
               sumIf(h.held_s, u.present = 1) AS covered,
               sumIf(h.held_s * u.busy, u.present = 1) AS busy,
               arraySort(groupUniqArrayIf(u.metric_used, u.present = 1)) AS metrics
        FROM held AS h
        LEFT JOIN util AS u ON h.gpu_uuid = u.gpu_uuid AND h.minute = u.minute
        GROUP BY h.deployment
        ORDER BY h.deployment"""
    params.update(start_ts=period.start_ts, end_ts=period.end_ts)
    if deployment is not None:
        params["deployment"] = deployment
    rows = _records(store, sql, params)
    ledger: dict[str, dict[str, Any]] = {}
    if run is not None:
        lsql = f"""
            SELECT deployment, {_SUMS},
                   sumIf(cost, {_GPU_IN}) AS gpu_cost
            FROM {tables.LEDGER}
            WHERE run_id = {{run:String}} AND NOT {_IS_ADJ}{dep_clause}
            GROUP BY deployment"""
        lparams: dict[str, Any] = {"run": run.run_id}
        if deployment is not None:
            lparams["deployment"] = deployment
        ledger = {r["deployment"]: r for r in _records(store, lsql, lparams)}
    out = []
    names = sorted({r["deployment"] for r in rows} | set(ledger))
    by_dep = {r["deployment"]: r for r in rows}
    for name in names:
        r = by_dep.get(name, {})
        held, covered, busy = float(r.get("held") or 0), float(r.get("covered") or 0), float(r.get("busy") or 0)
        share = busy / covered if covered > 0 else None
        lr = ledger.get(name)
        gpu_cost = _d(lr["gpu_cost"]) if lr else (ZERO if run is not None else None)
        tokens = _tokens(lr) if lr else TokenCounts()
        cost = _d(lr["total_cost"]) if lr else (ZERO if run is not None else None)
        idle_cost = None
        if gpu_cost is not None and share is not None:
            idle_cost = money(gpu_cost * (Decimal(1) - Decimal(repr(share))))
        out.append(
            DeploymentEfficiency(
                deployment=name,
                gpu_models=tuple(r.get("gpu_models") or ()),
                gpus=int(r.get("gpus") or 0),
                held_gpu_seconds=held,
                covered_gpu_seconds=covered,
                busy_gpu_seconds=busy,
                busy_share=share,
                telemetry=", ".join(r.get("metrics") or ()),
                gpu_cost=gpu_cost,
                idle_cost=idle_cost,
                ledger_idle_gpu_hours=_d(lr["idle_gpu_hours"]) if lr else (ZERO if run is not None else None),
                ledger_idle_cost=_d(lr["idle_cost"]) if lr else (ZERO if run is not None else None),
                tokens=tokens,
                cost=cost,
                cost_per_1m_tokens=per_million(cost, tokens.total) if cost is not None else None,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# SLO attainment (optional)


def slo_by_tenant(store: Store, month: str | Period, specs: Path | None) -> dict[str, tuple[SloResult, ...]] | None:
    """Each tenant's SLO attainment for the month, from the SLO reports (:mod:`infermeter.slo.report`).

    ``specs`` is the SLO spec file or directory; the SLOs grouped by ``tenant`` give one result per
    tenant (an SLO without a tenant group is the fleet's, not a tenant's). Returns None ("n/a")
    without specs, or when the SLO report cannot be computed (the reason is logged as a warning):
    a bill never fails because of its SLO column. SLOs the report cannot compute are skipped.
    """
    if specs is None:
        return None
    period = parse_month(month)
    try:
        from infermeter.slo.report import MET, NO_DATA, build_report, load_slos
        from infermeter.slo.report_plan import month_window, plan_report
        from infermeter.slo.service import Settings as SloSettings

        slos, _ = load_slos(Path(specs), SloSettings())
        window = month_window(period.label, dt.datetime.now(dt.timezone.utc))
        plan, _ = plan_report(slos, window, skip_unsupported=True)
        report = build_report(store, plan)
    except Exception as exc:  # optional column: its failure must not break a bill
        log.warning("SLO attainment for %s unavailable: %s", period.label, exc)
        return None
    out: dict[str, list[SloResult]] = {}
    for row in report.rows:
        tenant = row.group.get("tenant")
        if not tenant:
            continue
        out.setdefault(tenant, []).append(
            SloResult(
                slo=f"{row.service}/{row.slo}",
                objective=row.objective,
                attainment=row.sli,
                met=None if row.status == NO_DATA else row.status == MET,
            )
        )
    return {tenant: tuple(results) for tenant, results in out.items()}


# ---------------------------------------------------------------------------------------------
# Portal additions: functions appended by the portal (dashboards/portal) go below this line.

# --- portal queries ---
# The portal scopes every read to the tenants the viewer may see: a list of tenants (``None`` =
# every tenant, for admins), filtered in ClickHouse with has({tenants:Array(String)}, tenant).

PORTAL_DIMENSIONS = ("tenant", "deployment", "model", "resource")


class ScopeTotal(_Model):
    """Sums over the run's lines of a set of tenants, for one combination of ``dims``."""

    key: dict[str, str]
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    tokens: TokenCounts
    cost: Decimal
    idle_cost: Decimal
    adjustment_cost: Decimal
    tenants: int


class ScopeDay(_Model):
    day: dt.date
    tenant: str  # '' when not split by tenant
    cost: Decimal
    gpu_hours: Decimal
    tokens: TokenCounts


def _scope_clause(tenants: Iterable[str] | None, params: dict[str, Any]) -> str:
    if tenants is None:
        return ""
    params["tenants"] = [str(t) for t in tenants]
    return " AND has({tenants:Array(String)}, tenant)"


def scope_totals(
    store: Store,
    month: str | Period,
    tenants: Iterable[str] | None,
    dims: Iterable[str] = (),
    *,
    run: RunInfo | None = None,
) -> list[ScopeTotal]:
    """Cost, GPU-hours and tokens of these tenants (None: all), grouped by ``dims`` (most expensive first).

    ``dims`` are names from :data:`PORTAL_DIMENSIONS`; with none, one row holds the totals.
    """
    period = parse_month(month)
    run = _run(store, period, run)
    dims = tuple(dims)
    for d in dims:
        if d not in PORTAL_DIMENSIONS:
            raise ConfigError(f"unknown breakdown {d!r}: expected one of {', '.join(PORTAL_DIMENSIONS)}")
    params = _params(run, period)
    scope = _scope_clause(tenants, params)
    select = "".join(f"{d}, " for d in dims)
    group = f" GROUP BY {', '.join(dims)} ORDER BY total_cost DESC, {', '.join(dims)}" if dims else ""
    sql = f"""
        SELECT {select}{_SUMS}, uniqExact(tenant) AS tenants
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}}{scope}{group}"""
    return [
        ScopeTotal(
            key={d: str(r[d]) for d in dims},
            gpu_hours=_d(r["gpu_hours"]),
            idle_gpu_hours=_d(r["idle_gpu_hours"]),
            tokens=_tokens(r),
            cost=_d(r["total_cost"]),
            idle_cost=_d(r["idle_cost"]),
            adjustment_cost=_d(r["adjustment_cost"]),
            tenants=int(r["tenants"]),
        )
        for r in _records(store, sql, params)
    ]


def scope_daily(
    store: Store,
    month: str | Period,
    tenants: Iterable[str] | None,
    *,
    by_tenant: bool = False,
    run: RunInfo | None = None,
) -> list[ScopeDay]:
    """Cost per day of the month for these tenants (None: all), optionally per tenant.

    Days without lines are absent; adjustment lines (earlier months) are left out, as in
    :func:`daily_trend`.
    """
    period = parse_month(month)
    run = _run(store, period, run)
    params = _params(run, period)
    scope = _scope_clause(tenants, params)
    key = "day, who" if by_tenant else "day"
    tenant_col = "tenant" if by_tenant else "''"  # aliased apart: an alias `tenant` would shadow the column
    sql = f"""
        SELECT period_start AS day, {tenant_col} AS who, {_SUMS}
        FROM {tables.LEDGER}
        WHERE run_id = {{run:String}} AND NOT {_IS_ADJ}
          AND period_start >= {{start:Date}} AND period_start < {{end:Date}}{scope}
        GROUP BY {key} ORDER BY {key}"""
    return [
        ScopeDay(day=r["day"], tenant=r["who"], cost=_d(r["total_cost"]), gpu_hours=_d(r["gpu_hours"]), tokens=_tokens(r))
        for r in _records(store, sql, params)
    ]


class AlertInterval(_Model):
    """A stretch of minutes in which Prometheus' ``ALERTS`` series (scraped into the store) fired."""

    alertname: str
    slo: str
    tenant: str
    severity: str
    start: dt.datetime
    end: dt.datetime  # exclusive: the minute after the last firing minute


def alert_history(
    store: Store, start: dt.datetime, end: dt.datetime, tenants: Iterable[str] | None, *, limit: int = 500
) -> list[AlertInterval]:
    """Firing alerts in ``[start, end)`` from the ``ALERTS`` series, newest first.

    The store holds them when Prometheus' ``/federate?match[]=ALERTS`` is a scrape target of the
    exporter (a generic target). ``tenants`` keeps the alerts whose ``tenant`` label is one of them
    (None: every alert, tenant-less ones included).
    """
    params: dict[str, Any] = {"start": start, "end": end}
    scope = ""
    if tenants is not None:
        params["tenants"] = [str(t) for t in tenants]
        scope = " AND has({tenants:Array(String)}, labels['tenant'])"
    sql = f"""
        SELECT s.alertname AS alertname, s.slo AS slo, s.tenant AS tenant, s.severity AS severity,
               arraySort(groupArray(toUnixTimestamp(m.ts))) AS minutes
        FROM {tables.SAMPLES_1M} AS m
        INNER JOIN (
            SELECT series_id, any(labels)['alertname'] AS alertname,
                   any(labels)['sloth_slo'] AS slo, any(labels)['tenant'] AS tenant,
                   if(any(labels)['sloth_severity'] != '', any(labels)['sloth_severity'],
                      any(labels)['severity']) AS severity
            FROM {tables.SERIES}
            WHERE metric = 'ALERTS' AND labels['alertstate'] = 'firing'{scope}
            GROUP BY series_id
        ) AS s ON m.series_id = s.series_id
        WHERE m.ts >= {{start:DateTime64(3, 'UTC')}} AND m.ts < {{end:DateTime64(3, 'UTC')}} AND m.max > 0
        GROUP BY alertname, slo, tenant, severity"""
    out: list[AlertInterval] = []
    step = dt.timedelta(minutes=1)
    for r in _records(store, sql, params):
        minutes = [dt.datetime.fromtimestamp(int(t), dt.timezone.utc) for t in r["minutes"]]
        first = prev = None
        for t in minutes + [None]:
            if t is not None and prev is not None and t - prev <= step:
                prev = t
                continue
            if first is not None:
                out.append(AlertInterval(alertname=r["alertname"], slo=r["slo"], tenant=r["tenant"],
                                         severity=r["severity"], start=first, end=prev + step))  # fmt: skip
            first = prev = t
    out.sort(key=lambda a: a.start, reverse=True)
    return out[:limit]
