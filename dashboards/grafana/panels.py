"""Panel and target building blocks on top of grafanalib.

Every panel gets its datasource from its targets (Prometheus or ClickHouse, each through the
dashboard's datasource variable), refIds A, B, C... in order, and a place on the 24-column grid
from :class:`Grid`. The ClickHouse targets follow the grafana-clickhouse-datasource query model:
``editorType: sql``, ``rawSql``, ``format`` (0 time series, 1 table) and ``queryType``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import attr
from grafanalib import core as g

from infermeter.dashboards.grafana import conventions as c

PROMETHEUS_DS = {"type": c.PROMETHEUS_TYPE, "uid": "${%s}" % c.VAR_PROMETHEUS}
CLICKHOUSE_DS = {"type": c.CLICKHOUSE_TYPE, "uid": "${%s}" % c.VAR_CLICKHOUSE}

# grafana-clickhouse-datasource formats (sqlds): 0 time series, 1 table.
CH_FORMAT_TIME_SERIES = 0
CH_FORMAT_TABLE = 1


@attr.s(frozen=True)
class PromTarget:
    """A PromQL query: a range query, or an instant one (``instant=True``) for stats and tables."""

    expr: str = attr.ib()
    legend: str = attr.ib(default="")
    instant: bool = attr.ib(default=False)
    table: bool = attr.ib(default=False)
    refId: str = attr.ib(default="")

    datasource = PROMETHEUS_DS

    def to_json_data(self) -> dict[str, Any]:
        return {
            "datasource": self.datasource,
            "editorMode": "code",
            "expr": self.expr,
            "format": "table" if self.table else "time_series",
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": self.refId,
        }


@attr.s(frozen=True)
class ClickHouseTarget:
    """A raw SQL query for grafana-clickhouse-datasource; macros are expanded by the plugin."""

    sql: str = attr.ib()
    table: bool = attr.ib(default=False)
    refId: str = attr.ib(default="")

    datasource = CLICKHOUSE_DS

    def to_json_data(self) -> dict[str, Any]:
        return {
            "datasource": self.datasource,
            "editorType": "sql",
            "format": CH_FORMAT_TABLE if self.table else CH_FORMAT_TIME_SERIES,
            "pluginVersion": "",
            "queryType": "table" if self.table else "timeseries",
            "rawSql": self.sql,
            "refId": self.refId,
        }


Target = PromTarget | ClickHouseTarget


def prom(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> PromTarget:
    return PromTarget(expr=" ".join(expr.split()), legend=legend, instant=instant or table, table=table)


def ch(sql: str, *, table: bool | None = None) -> ClickHouseTarget:
    """A ClickHouse target: a time series when the query selects a ``time`` column, else a table."""
    if table is None:
        table = " AS time" not in sql
    lines = [line.rstrip() for line in sql.strip("\n").splitlines()]
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return ClickHouseTarget(sql="\n".join(line[indent:] for line in lines), table=table)


def _with_ref_ids(targets: Sequence[Target]) -> list[Target]:
    if not targets:
        raise ValueError("a panel needs at least one target")
    return [attr.evolve(t, refId=string.ascii_uppercase[i]) for i, t in enumerate(targets)]


MIXED_DS = {"type": "datasource", "uid": "-- Mixed --"}


def _datasource(targets: Sequence[Target]) -> dict[str, str]:
    """The targets' datasource, or Grafana's Mixed datasource when a panel queries both."""
    kinds = {t.datasource["type"] for t in targets}
    return dict(targets[0].datasource) if len(kinds) == 1 else dict(MIXED_DS)


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> list[dict[str, Any]]:
    """fieldConfig threshold steps; the first step's value is null (the base colour)."""
    return [{"color": color, "value": None if i == 0 else value} for i, (value, color) in enumerate(steps)]




@attr.s
class Placed:
    """A panel and its size on the grid (24 columns wide)."""

    panel: Any = attr.ib()
    w: int = attr.ib(default=12)
    h: int = attr.ib(default=8)


def timeseries(
    title: str,
    targets: Sequence[Target],
    *,
    unit: str = "short",
    description: str = "",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    min_value: int | None = None,
    max_value: int | None = None,
    interval: str | None = None,
    draw: str = "line",
) -> Placed:
    refs = _with_ref_ids(targets)
    panel = g.TimeSeries(
        title=title,
        description=description or None,
        dataSource=_datasource(refs),
        targets=refs,
        unit=unit,
        drawStyle=draw,
        fillOpacity=25 if stack or draw == "bars" else 10,
        stacking={"mode": "normal", "group": "A"} if stack else {},
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi",
        tooltipSort="desc",
        valueMin=min_value,
        valueMax=max_value,
        interval=interval,
    )
    return Placed(panel, w, h)


def stat(
    title: str,
    targets: Sequence[Target],
    *,
    unit: str = "short",
    description: str = "",
    w: int = 4,
    h: int = 4,
    decimals: int | None = None,
    reduce: str = "lastNotNull",
    thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
    graph: bool = True,
    no_value: str = "0",
) -> Placed:
    refs = _with_ref_ids(targets)
    panel = g.Stat(
        title=title,
        description=description or None,
        dataSource=_datasource(refs),
        targets=refs,
        format=unit,
        decimals=decimals,
        reduceCalc=reduce,
        graphMode="area" if graph else "none",
        colorMode="value",
        color={"mode": "thresholds"},
        noValue=no_value,
        thresholds=_thresholds(thresholds),
    )
    return Placed(panel, w, h)


def bargauge(
    title: str,
    targets: Sequence[Target],
    *,
    unit: str = "short",
    description: str = "",
    w: int = 12,
    h: int = 8,
    max_value: float | None = None,
    thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
) -> Placed:
    refs = _with_ref_ids(targets)
    panel = g.Stat(
        title=title,
        description=description or None,
        dataSource=_datasource(refs),
        targets=refs,
        format=unit,
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=_thresholds(thresholds),
        extraJson={
            "type": "bargauge",
            "fieldConfig": {"defaults": {"min": 0, "max": max_value}},
            "options": {"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
        },
    )
    return Placed(panel, w, h)


def table(
    title: str,
    targets: Sequence[Target],
    *,
    description: str = "",
    w: int = 12,
    h: int = 8,
    unit: str = "short",
    overrides: Sequence[dict[str, Any]] = (),
    transformations: Sequence[dict[str, Any]] = (),
) -> Placed:
    refs = _with_ref_ids(targets)
    panel = g.Table(
        title=title,
        description=description or None,
        dataSource=_datasource(refs),
        targets=refs,
        unit=unit,
        overrides=list(overrides),
        transformations=list(transformations),
        showHeader=True,
        filterable=False,
    )
    return Placed(panel, w, h)


def column_link(column: str, title: str, url: str) -> dict[str, Any]:
    """A table override turning the cells of ``column`` into a link (``${__data.fields.x}`` works)."""
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "links", "value": [{"title": title, "url": url}]}],
    }


def column_unit(column: str, unit: str) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": unit}]}


def hide_columns(*names: str) -> dict[str, Any]:
    """An `organize` transformation that hides columns (Prometheus table queries add `Time`)."""
    return {"id": "organize", "options": {"excludeByName": {n: True for n in names}}}


def merge_tables() -> dict[str, Any]:
    return {"id": "merge", "options": {}}


@attr.s
class Row:
    title: str = attr.ib()


class Grid:
    """Lays panels out left to right in rows of 24 columns; a :class:`Row` starts a new section."""

    WIDTH = 24

    def __init__(self) -> None:
        self.panels: list[Any] = []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def add(self, *items: Placed | Row) -> Grid:
        for item in items:
            if isinstance(item, Row):
                self._newline()
                self.panels.append(g.RowPanel(title=item.title, gridPos=g.GridPos(h=1, w=self.WIDTH, x=0, y=self._y)))
                self._y += 1
                continue
            if self._x + item.w > self.WIDTH:
                self._newline()
            item.panel.gridPos = g.GridPos(h=item.h, w=item.w, x=self._x, y=self._y)
            self.panels.append(item.panel)
            self._x += item.w
            self._row_h = max(self._row_h, item.h)
        return self

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_h
        self._x = 0
        self._row_h = 0
