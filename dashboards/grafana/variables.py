"""Template variables: datasource pickers and query variables for Prometheus and ClickHouse.

Prometheus query variables use ``label_values(...)`` and a custom All value ``.*`` (they are used
in regex matchers, ``label=~"$var"``). ClickHouse query variables return one column and keep
Grafana's own All value, which the plugin's ``$__conditionalAll(condition, $var)`` turns into
``1=1``.
"""

from __future__ import annotations

from typing import Any

import attr

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.panels import CLICKHOUSE_DS, PROMETHEUS_DS

REFRESH_ON_LOAD = 1
REFRESH_ON_TIME_RANGE = 2
SORT_ALPHA_ASC = 1


@attr.s(frozen=True)
class Variable:
    """One entry of ``templating.list`` in Grafana's dashboard model."""

    name: str = attr.ib()
    label: str = attr.ib()
    type: str = attr.ib()  # datasource | query
    query: Any = attr.ib()
    datasource: dict[str, str] | None = attr.ib(default=None)
    definition: str = attr.ib(default="")
    multi: bool = attr.ib(default=False)
    include_all: bool = attr.ib(default=False)
    all_value: str | None = attr.ib(default=None)
    regex: str = attr.ib(default="")
    refresh: int = attr.ib(default=REFRESH_ON_LOAD)
    hide: int = attr.ib(default=0)
    default: str | None = attr.ib(default=None)
    default_text: str | None = attr.ib(default=None)

    def to_json_data(self) -> dict[str, Any]:
        if self.include_all:
            current: dict[str, Any] = {"selected": True, "text": ["All"], "value": ["$__all"]}
            if not self.multi:
                current = {"selected": True, "text": "All", "value": "$__all"}
        elif self.default is not None:
            current = {"selected": True, "text": self.default_text or self.default, "value": self.default}
        else:
            current = {}
        data: dict[str, Any] = {
            "current": current,
            "hide": self.hide,
            "includeAll": self.include_all,
            "label": self.label,
            "multi": self.multi,
            "name": self.name,
            "options": [],
            "query": self.query,
            "refresh": self.refresh,
            "regex": self.regex,
            "skipUrlSync": False,
            "type": self.type,
        }
        if self.type == "query":
            data.update(
                allValue=self.all_value,
                datasource=self.datasource,
                definition=self.definition,
                sort=SORT_ALPHA_ASC,
            )
        return data


def prometheus_datasource() -> Variable:
    return Variable(
        name=c.VAR_PROMETHEUS, label="Prometheus", type="datasource", query=c.PROMETHEUS_TYPE,
        default=c.PROMETHEUS_UID, default_text=c.PROMETHEUS_NAME,
    )


def clickhouse_datasource() -> Variable:
    return Variable(
        name=c.VAR_CLICKHOUSE, label="ClickHouse", type="datasource", query=c.CLICKHOUSE_TYPE,
        default=c.CLICKHOUSE_UID, default_text=c.CLICKHOUSE_NAME,
    )


def prom_label_values(
    name: str, label: str, metric_selector: str, label_name: str, *, multi: bool = True, include_all: bool = True,
    regex: str = "",
) -> Variable:
    """``label_values(<metric_selector>, <label_name>)`` on the Prometheus datasource."""
    query = f"label_values({metric_selector}, {label_name})"
    return Variable(
        name=name,
        label=label,
        type="query",
        query=query,
        datasource=dict(PROMETHEUS_DS),
        definition=query,
        multi=multi,
        include_all=include_all,
        all_value=c.PROMETHEUS_ALL if include_all else None,
        regex=regex,
        refresh=REFRESH_ON_TIME_RANGE,
    )


def clickhouse_values(name: str, label: str, sql: str, *, multi: bool = True, include_all: bool = True) -> Variable:
    """A one-column SQL query on the ClickHouse datasource (value = text)."""
    return Variable(
        name=name,
        label=label,
        type="query",
        query={"editorType": "sql", "rawSql": sql},
        datasource=dict(CLICKHOUSE_DS),
        definition=sql,
        multi=multi,
        include_all=include_all,
        all_value=None,
        refresh=REFRESH_ON_TIME_RANGE,
    )


def variable_query(var: dict[str, Any]) -> str:
    """The query text of a variable in dashboard JSON (PromQL ``label_values`` or SQL)."""
    query = var.get("query")
    if isinstance(query, dict):
        return query.get("query") or query.get("rawSql") or ""
    return str(query or "")
