"""SLO reports from the store: per SLO and per group (tenant), the SLI over a window, attainment
against the objective, and the error budget consumed and left.

``spec files -> SLOs`` (the loader), ``SLOs -> plan`` (:mod:`~infermeter.slo.report_plan`),
``plan -> SQL`` (:mod:`~infermeter.slo.report_sql`), ``rows -> report`` (:func:`compute`, pure).
:func:`load_slos` and :func:`run_report` are the I/O edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from infermeter.errors import ConfigError, StoreUnavailable
from infermeter.ingest import conventions as tables
from infermeter.ingest.store import Store
from infermeter.slo.issues import Issue, Level, raise_first
from infermeter.slo.loader import discover, load_path
from infermeter.slo.model import SLO
from infermeter.slo.report_plan import ReportPlan, Skipped, SLOPlan
from infermeter.slo.report_match import term_values
from infermeter.slo.report_sql import series_query, sums_query, usage_group_columns, usage_query
from infermeter.slo.service import Settings, load_options

MET = "met"
MISSED = "missed"
NO_DATA = "no data"

# Term values: (term index, group values) -> increase (samples) or (total, errors) (usage).
SampleValues = dict[tuple[int, tuple[str, ...]], float]
UsageValues = dict[tuple[int, tuple[str, ...]], tuple[float, float]]


@dataclass(frozen=True)
class ReportRow:
    """One SLO (or one group of a grouped SLO) over the report window."""

    slo_id: str
    service: str
    slo: str
    group: dict[str, str]
    source: str  # samples | usage
    objective: float  # percent
    total: float  # events
    errors: float  # error events
    status: str  # met | missed | no data

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.total if self.total > 0 else None

    @property
    def sli(self) -> float | None:
        """The good-event ratio (0..1)."""
        ratio = self.error_ratio
        return None if ratio is None else 1.0 - ratio

    @property
    def budget(self) -> float:
        """The error budget as a ratio of events (0.001 for 99.9%, computed in decimal)."""
        return float((100 - Decimal(repr(self.objective))) / 100)

    @property
    def budget_consumed(self) -> float | None:
        """The share of the budget spent (1.0 = all of it, above 1 overspent)."""
        ratio = self.error_ratio
        return None if ratio is None else ratio / self.budget

    @property
    def budget_remaining(self) -> float | None:
        consumed = self.budget_consumed
        return None if consumed is None else 1.0 - consumed

    @property
    def group_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.group.items())


@dataclass
class Report:
    window_start: str
    window_end: str
    window: str
    rows: list[ReportRow]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (file, SLO id, reason)

    @property
    def missed(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == MISSED]


# --- I/O edge: specs ------------------------------------------------------------------------------
def load_slos(src: Path, settings: Settings) -> tuple[list[tuple[SLO, str]], list[Issue]]:
    """Every SLO of the spec file or directory ``src``, with the file it came from; the first
    invalid document raises :class:`ConfigError`."""
    options = load_options(settings)
    if not src.exists():
        raise ConfigError(f"{src}: no such file or directory")
    files = discover(src)
    if not files:
        raise ConfigError(f"{src}: 0 SLO specs have been discovered")
    slos: list[tuple[SLO, str]] = []
    warnings: list[Issue] = []
    for file in files:
        for doc in load_path(file, options):
            raise_first(doc.issues)
            warnings.extend(i for i in doc.issues if i.level is Level.WARNING)
            assert doc.group is not None
            slos.extend((slo, doc.source) for slo in doc.group.slos)
    return slos, warnings


# --- pure: values -> rows -------------------------------------------------------------------------
def _status(objective: float, total: float, errors: float) -> str:
    if total <= 0:
        return NO_DATA
    budget = float((100 - Decimal(repr(objective))) / 100)
    return MET if errors / total <= budget * (1 + 1e-12) else MISSED


def _row(plan: SLOPlan, group: dict[str, str], total: float, errors: float) -> ReportRow:
    slo = plan.slo
    errors = min(max(errors, 0.0), max(total, 0.0))  # a bucket scraped ahead of its count
    total = max(total, 0.0)
    return ReportRow(slo.id, slo.service, slo.name, group, plan.source, slo.objective, total, errors,
                     _status(slo.objective, total, errors))


def _samples_rows(plan: SLOPlan, values: SampleValues, groups_by_term: dict[int, set]) -> list[ReportRow]:
    sli = plan.samples
    assert sli is not None
    groups: set[tuple[str, ...]] = set()
    for _, term in (*sli.errors, *sli.total):
        groups |= groups_by_term.get(term, set())
    if not groups:
        return [_row(plan, {}, 0.0, 0.0)]
    rows = []
    for group in sorted(groups):
        total = sum(sign * values.get((term, group), 0.0) for sign, term in sli.total)
        errors = sum(sign * values.get((term, group), 0.0) for sign, term in sli.errors)
        rows.append(_row(plan, dict(zip(sli.by, group)), total, errors))
    return rows


def _usage_rows(plan: SLOPlan, values: UsageValues, groups_by_term: dict[int, set]) -> list[ReportRow]:
    assert plan.usage is not None
    groups = sorted(groups_by_term.get(plan.usage, set()))
    if not groups:
        return [_row(plan, {}, 0.0, 0.0)]
    return [_row(plan, dict(zip(plan.by, g)), *values[(plan.usage, g)]) for g in groups]


def _groups(keys: Iterable[tuple[int, tuple[str, ...]]]) -> dict[int, set]:
    out: dict[int, set] = {}
    for term, group in keys:
        out.setdefault(term, set()).add(group)
    return out


def compute(plan: ReportPlan, samples: SampleValues, usage: UsageValues) -> list[ReportRow]:
    """Report rows, in the order of the SLOs and then of their groups."""
    sample_groups, usage_groups = _groups(samples), _groups(usage)
    rows: list[ReportRow] = []
    for slo_plan in plan.slos:
        if slo_plan.samples is not None:
            rows.extend(_samples_rows(slo_plan, samples, sample_groups))
        else:
            rows.extend(_usage_rows(slo_plan, usage, usage_groups))
    return rows


# --- I/O edge: the store --------------------------------------------------------------------------
def fetch_samples(store: Store, plan: ReportPlan) -> SampleValues:
    """Term values from stored samples: candidate series, their increases, matched in Python."""
    series_q, sums_q = series_query(plan), sums_query(plan)
    if series_q is None or sums_q is None:
        return {}
    table = store.query_arrow(series_q.sql, series_q.params)
    ids = table.column("series_id").to_pylist()
    metrics = table.column("series_metric").to_pylist()
    labels = [dict(x) for x in table.column("series_labels").to_pylist()]
    sums = store.query_arrow(sums_q.sql, sums_q.params)
    increases = dict(zip(sums.column("series_id").to_pylist(), sums.column("inc").to_pylist()))
    return term_values(plan.terms, zip(ids, metrics, labels), increases)


def fetch_usage(store: Store, plan: ReportPlan) -> UsageValues:
    """Usage term values: (term index, group values) -> (events, error events)."""
    query = usage_query(plan)
    if query is None:
        return {}
    table = store.query_arrow(query.sql, query.params)
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    group_cols = usage_group_columns(plan)
    out: UsageValues = {}
    for r in range(table.num_rows):
        row_group = {c: cols["group_" + c][r] for c in group_cols}
        for i, term in enumerate(plan.usage_terms):
            total, errors = cols[f"total_{i}"][r], cols[f"errors_{i}"][r]
            if not total:
                continue
            key = (i, tuple(row_group[c] for c in term.by))
            prev = out.get(key, (0.0, 0.0))
            out[key] = (prev[0] + total, prev[1] + errors)
    return out


def run_report(store: Store, plan: ReportPlan) -> list[ReportRow]:
    """Query the store (series, their increases, usage events) and compute the rows."""
    return compute(plan, fetch_samples(store, plan), fetch_usage(store, plan))


def check_schema(store: Store) -> None:
    """Raise :class:`StoreUnavailable` when the store has not been migrated (no tables to read)."""
    needed = (tables.SERIES, tables.SAMPLES, tables.SAMPLES_1M, tables.SAMPLES_1H, tables.USAGE)
    found = {
        r[0]
        for r in store.query_rows(
            "SELECT name FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}",
            {"db": store.database, "names": list(needed)},
        )
    }
    missing = [t for t in needed if t not in found]
    if missing:
        raise StoreUnavailable(
            f"{store.describe()}: no table {', '.join(missing)}; run 'infermeter db migrate' first"
        )


def build_report(store: Store, plan: ReportPlan, skipped: list[Skipped] | None = None) -> Report:
    """Check the schema, run the plan, and wrap the rows with the window."""
    check_schema(store)
    rows = run_report(store, plan)
    return Report(
        plan.window.start.isoformat().replace("+00:00", "Z"),
        plan.window.end.isoformat().replace("+00:00", "Z"),
        plan.window.label,
        rows,
        [(s.source, s.slo.id, s.reason) for s in skipped or []],
    )
