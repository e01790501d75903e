"""Plotly figures and small tables from query results (pure: DataFrame in, figure out).

Figures are plain plotly JSON (``{"data": [...], "layout": {...}}``), which Dash sends as they
are: building ``plotly.graph_objects`` figures validated every property and copied the template
on each call, a third of a callback's time over 1,000 tenants.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from dash import html

PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"]
TOP_N = 15
Figure = dict[str, Any]
_AXIS = {"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", "linecolor": "#cbd5e1", "automargin": True}


def _base(data: list[dict], title: str, empty: bool = False, **layout: Any) -> Figure:
    lay: dict[str, Any] = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "margin": {"l": 50, "r": 20, "t": 45, "b": 40},
        "height": 340,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "color": "#1f2937"},
        "colorway": PALETTE,
        "legend": {"orientation": "h", "y": -0.18},
        "xaxis": dict(_AXIS),
        "yaxis": dict(_AXIS),
    }
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(lay.get(key), dict):
            lay[key] = {**lay[key], **value}
        else:
            lay[key] = value
    if empty:
        lay["annotations"] = [{"text": "No data for this selection", "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}]
        lay["xaxis"] = {**lay["xaxis"], "visible": False}
        lay["yaxis"] = {**lay["yaxis"], "visible": False}
    return {"data": data, "layout": lay}


def empty(title: str) -> Figure:
    return _base([], title, empty=True)


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.map(lambda v: float(v) if isinstance(v, Decimal) else v), errors="coerce").fillna(0.0)


def _list(series: pd.Series) -> list:
    return [v.isoformat() if hasattr(v, "isoformat") else v for v in series.tolist()]


def top_n(df: pd.DataFrame, key: str, value: str, n: int = TOP_N, other: str = "(other)") -> pd.DataFrame:
    """The n largest rows by ``value``; the rest summed into one ``other`` row."""
    if df.empty or len(df) <= n:
        return df
    ordered = df.assign(_v=_num(df[value])).sort_values("_v", ascending=False, kind="stable")
    head, tail = ordered.head(n), ordered.iloc[n:]
    rest = {key: other, value: tail["_v"].sum()}
    return pd.concat([head.drop(columns="_v"), pd.DataFrame([rest])], ignore_index=True)


def _groups(df: pd.DataFrame, color: str | None):
    if color is None:
        return [(None, df)]
    return list(df.groupby(color, sort=True, observed=True))


def bar(df: pd.DataFrame, x: str, y: str, title: str, color: str | None = None, horizontal: bool = False) -> Figure:
    """A (stacked, when ``color`` is given) bar chart."""
    if df.empty:
        return empty(title)
    data = []
    for name, part in _groups(df, color):
        xs, ys = [str(v) for v in part[x].tolist()], _num(part[y]).round(4).tolist()
        data.append(
            {
                "type": "bar",
                "x": ys if horizontal else xs,
                "y": xs if horizontal else ys,
                "name": str(name) if name is not None else y,
                "orientation": "h" if horizontal else "v",
            }
        )
    layout: dict[str, Any] = {"barmode": "stack", "showlegend": color is not None}
    if horizontal:
        layout["yaxis"] = {"autorange": "reversed", "type": "category"}
    else:
        layout["xaxis"] = {"type": "category"}
    return _base(data, title, **layout)


def lines(df: pd.DataFrame, x: str, y: str, title: str, color: str | None = None, area: bool = False) -> Figure:
    if df.empty:
        return empty(title)
    data = []
    for name, part in _groups(df, color):
        part = part.sort_values(x)
        trace = {"type": "scatter", "mode": "lines+markers", "x": _list(part[x]), "y": _num(part[y]).round(4).tolist(),
                 "name": str(name) if name is not None else y}  # fmt: skip
        if area:
            trace["stackgroup"] = "one"
        data.append(trace)
    return _base(data, title, showlegend=color is not None)


def burn_down(df: pd.DataFrame, title: str) -> Figure:
    """Remaining error budget (%) by day, one line per SLO (and tenant)."""
    if df.empty:
        return empty(title)
    data = []
    for name, part in df.groupby("series", sort=True):
        part = part.sort_values("day")
        data.append({"type": "scatter", "mode": "lines", "x": _list(part["day"]), "y": _num(part["budget_remaining_pct"]).tolist(), "name": str(name)})
    zero = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0, "y1": 0, "line": {"dash": "dot", "color": "#dc2626"}}
    return _base(data, title, shapes=[zero], yaxis={"title": {"text": "budget left (%)"}})


def budget_bars(df: pd.DataFrame, title: str) -> Figure:
    if df.empty:
        return empty(title)
    df = df.head(40)
    tenants = df["tenant"].astype(str).tolist()
    spent, forecast = _num(df["spent"]), _num(df["forecast"])
    budget = [float(v) if v is not None and not pd.isna(v) else None for v in df["budget"].tolist()]
    data = [
        {"type": "bar", "x": tenants, "y": spent.round(2).tolist(), "name": "spent"},
        {"type": "bar", "x": tenants, "y": (forecast - spent).clip(lower=0).round(2).tolist(), "name": "forecast to month end", "opacity": 0.45},
        {"type": "scatter", "mode": "markers", "x": tenants, "y": budget, "name": "budget",
         "marker": {"symbol": "line-ew-open", "size": 24, "line": {"width": 3}}},  # fmt: skip
    ]
    return _base(data, title, barmode="stack", xaxis={"type": "category"})


# --------------------------------------------------------------------------- HTML helpers


def money(value, currency: str = "") -> str:
    if value is None:
        return "–"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}"
    return f"{text} {currency}".strip()


def number(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.{digits}f}"


def kpi(label: str, value: str, ident: str | None = None, note: str | None = None) -> html.Div:
    children = [html.Div(label, className="kpi-label"), html.Div(value, className="kpi-value", id=ident or "")]
    if note:
        children.append(html.Div(note, className="kpi-note"))
    return html.Div(children, className="kpi")


def table(df: pd.DataFrame, columns: list[tuple[str, str]], ident: str, links: dict[str, str] | None = None, max_rows: int = 200) -> html.Table:
    """A plain HTML table; ``links`` maps a column to an href template with ``{value}``."""
    head = html.Thead(html.Tr([html.Th(label) for _, label in columns]))
    rows = []
    for rec in df.head(max_rows).to_dict("records"):
        cells = []
        for col, _ in columns:
            value = rec.get(col)
            text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
            if links and col in links:
                from dash import dcc

                from urllib.parse import quote

                cells.append(html.Td(dcc.Link(text, href=links[col].format(value=quote(text, safe="")))))
            else:
                cells.append(html.Td(text))
        rows.append(html.Tr(cells))
    if not rows:
        rows = [html.Tr(html.Td("No data for this selection", colSpan=len(columns), className="muted"))]
    return html.Table([head, html.Tbody(rows)], id=ident, className="grid")
