"""Runs every query of a generated dashboard as Grafana would, without Grafana: variables are
resolved by running their own queries, then each panel target is interpolated (Grafana's template
service, the datasource's formats, the ClickHouse plugin's macros) and executed against a real
Prometheus (HTTP API) or a real ClickHouse (chdb or a server, through the Store)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.common import iter_targets
from infermeter.dashboards.grafana.macros import QueryContext, apply_conditional_all, expand_macros
from infermeter.dashboards.grafana.templating import (
    PanelContext, Selection, clickhouse_default, panel_interval, parse_interval_ms, prometheus_default, replace,
    resolve_time,
)
from infermeter.dashboards.grafana.variables import variable_query

_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*(\w+)\)$", re.S)
MAX_DATA_POINTS = 1000


class Prometheus:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.base_url}{path}?{query}", timeout=30) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise AssertionError(f"{path}: {body}")
        return body["data"]

    def post(self, path: str, **params: Any) -> Any:
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"Prometheus rejected the query: {exc.read().decode()[:500]}") from None
        if body.get("status") != "success":
            raise AssertionError(f"{path}: {body}")
        return body["data"]


@dataclass
class Outcome:
    """One executed target."""

    dashboard: str
    panel: str
    ref: str
    kind: str
    query: str
    rows: int
    error: str = ""
    result: Any = None

    def describe(self) -> str:
        why = self.error or "returned no data"
        return f"{self.dashboard} / {self.panel} / {self.ref} ({self.kind}): {why}\n    {self.query}"


@dataclass
class Harness:
    prometheus: Prometheus
    clickhouse: Callable[[str], Any]  # SQL -> pyarrow.Table
    now: dt.datetime
    scrape_interval: str = "60s"
    outcomes: list[Outcome] = field(default_factory=list)

    # --- variables ------------------------------------------------------------------------------

    def variable_options(self, var: Mapping[str, Any], selections: Mapping[str, Selection],
                         start: dt.datetime, end: dt.datetime) -> list[str]:
        query = variable_query(var)
        if var["datasource"]["type"] == c.PROMETHEUS_TYPE:
            match = _LABEL_VALUES.match(query.strip())
            assert match, f"variable {var['name']}: only label_values(...) is run here, got {query!r}"
            selector = replace(match.group(1), selections, prometheus_default)
            values = self.prometheus.get(f"/api/v1/label/{match.group(2)}/values", **{
                "match[]": selector, "start": int(start.timestamp()), "end": int(end.timestamp())})
        else:
            ctx = QueryContext(start, end, panel_interval(start, end))
            sql = expand_macros(replace(apply_conditional_all(query, lambda n: selections[n].is_all_or_empty()),
                                        selections, clickhouse_default), ctx)
            table = self.clickhouse(sql)
            values = [str(v) for v in table.column(0).to_pylist()]
        regex = var.get("regex") or ""
        if regex:
            pattern = re.compile(regex.strip("/"))
            values = [m.group(1) for v in values if (m := pattern.match(v))]
        return sorted(set(values))

    def resolve(self, dashboard: Mapping[str, Any], chosen: Mapping[str, Sequence[str]] | None,
                start: dt.datetime, end: dt.datetime) -> dict[str, Selection]:
        """Every query variable's options; All, or the ``chosen`` values (each must be an option)."""
        selections: dict[str, Selection] = {}
        for var in dashboard["templating"]["list"]:
            if var["type"] != "query":
                continue
            options = self.variable_options(var, selections, start, end)
            assert options, f"{dashboard['uid']}: variable {var['name']} has no values: {variable_query(var)}"
            want = (chosen or {}).get(var["name"])
            if want is None:
                selections[var["name"]] = Selection.of(var, options=options, all_=True)
                continue
            values = options[:1] if want == ["first"] else list(want)
            missing = [v for v in values if v not in options]
            assert not missing, f"{dashboard['uid']}: {var['name']}={missing} not among its values {options}"
            selections[var["name"]] = Selection.of(var, values=values, options=options)
        return selections

    # --- targets --------------------------------------------------------------------------------

    def run_dashboard(self, dashboard: Mapping[str, Any], chosen: Mapping[str, Sequence[str]] | None = None) -> None:
        start = resolve_time(dashboard["time"]["from"], self.now)
        end = resolve_time(dashboard["time"]["to"], self.now)
        selections = self.resolve(dashboard, chosen, start, end)
        label = dashboard["uid"] + ("" if chosen is None else " (chosen values)")
        for panel, target in iter_targets(dashboard):
            kind = target["datasource"]["type"]
            try:
                if kind == c.PROMETHEUS_TYPE:
                    query, result = self._prometheus(panel, target, selections, start, end)
                else:
                    query, result = self._clickhouse(panel, target, selections, start, end)
                rows, error = len(result), ""
            except AssertionError as exc:
                query, rows, error, result = target.get("expr") or target.get("rawSql"), 0, str(exc), None
            except Exception as exc:  # a SQL error from the store, a bad macro
                query, rows, result = target.get("expr") or target.get("rawSql"), 0, None
                error = f"{type(exc).__name__}: {exc}"
            self.outcomes.append(Outcome(label, panel["title"], target["refId"], kind, query, rows, error, result))

    def _prometheus(self, panel, target, selections, start, end) -> tuple[str, list]:
        low = panel.get("interval") or self.scrape_interval
        interval = panel_interval(start, end, max_data_points=MAX_DATA_POINTS, min_interval=low)
        ctx = PanelContext(start, end, interval, dt.timedelta(milliseconds=parse_interval_ms(self.scrape_interval)))
        expr = replace(target["expr"], selections, prometheus_default, ctx)
        if target.get("instant"):
            data = self.prometheus.post("/api/v1/query", query=expr, time=int(end.timestamp()))
            values = [s["value"] for s in data["result"]] if data["resultType"] == "vector" else []
        else:
            data = self.prometheus.post("/api/v1/query_range", query=expr, start=int(start.timestamp()),
                                        end=int(end.timestamp()), step=int(interval.total_seconds()))
            values = [v for s in data["result"] for v in s["values"]]
        finite = [v for v in values if math.isfinite(float(v[1]))]
        if not finite:
            raise AssertionError(f"no series with a finite value\n    {expr}")
        return expr, data["result"]

    def _clickhouse(self, panel, target, selections, start, end) -> tuple[str, list]:
        interval = panel_interval(start, end, max_data_points=MAX_DATA_POINTS, min_interval=panel.get("interval"))
        ctx = QueryContext(start, end, interval)
        sql = apply_conditional_all(target["rawSql"], lambda name: selections[name].is_all_or_empty())
        sql = expand_macros(replace(sql, selections, clickhouse_default), ctx)
        table = self.clickhouse(sql)
        if target.get("format") == 0:  # the plugin turns a time column and values into series
            first = self.clickhouse(f"DESCRIBE ({sql})").column("type")[0].as_py()
            if not first.startswith(("DateTime", "Date", "Nullable(DateTime")):
                raise AssertionError(f"a time-series query must return its time column first, got {first}")
        rows = [tuple(r.values()) for r in table.to_pylist()]
        if not rows:
            raise AssertionError(f"no rows\n    {sql}")
        if not any(v not in (None, 0) and not (isinstance(v, float) and math.isnan(v))
                   for row in rows for v in row if not isinstance(v, (dt.datetime, dt.date, str))):
            raise AssertionError(f"only empty or zero values: {rows[:3]}\n    {sql}")
        return sql, rows

    def result(self, panel_title: str, ref: str = "A") -> Any:
        found = [o for o in self.outcomes if o.panel == panel_title and o.ref == ref]
        assert len(found) == 1, f"{len(found)} results for {panel_title}/{ref}"
        return found[0].result

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error or o.rows == 0]
