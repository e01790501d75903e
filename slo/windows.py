"""Multi-window multi-burn-rate alert window tables: the built-in 30d and 28d ones and custom
``sloth.slok.dev/v1`` ``AlertWindows`` files.

A table says, per severity, how much of the period's error budget may burn (``error_budget_percent``)
within a long window before alerting, with a short window that stops the alert once the burn is over.
The burn-rate factor of a window is ``percent/100 * period / long_window``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infermeter.errors import ConfigError
from infermeter.slo.durations import DAY_MS, DurationError, format_duration, hours, parse_duration

ALERT_WINDOWS_API_VERSION = "sloth.slok.dev/v1"
ALERT_WINDOWS_KIND = "AlertWindows"


@dataclass(frozen=True)
class Window:
    """One alert condition: burn ``error_budget_percent`` of the budget within ``long_ms``."""

    error_budget_percent: float
    short_ms: int
    long_ms: int


@dataclass(frozen=True)
class WindowTable:
    """The four alert conditions of one SLO period."""

    period_ms: int
    page_quick: Window
    page_slow: Window
    ticket_quick: Window
    ticket_slow: Window

    def burn_factor(self, window: Window) -> float:
        """Burn-rate factor, computed in the same order as Sloth so floats match to the last bit."""
        hours_required = window.error_budget_percent * hours(self.period_ms) / 100
        return hours_required / hours(window.long_ms)

    def alert_windows_ms(self) -> list[int]:
        """Distinct short and long windows, shortest first."""
        windows = {
            w
            for alert in (self.page_quick, self.page_slow, self.ticket_quick, self.ticket_slow)
            for w in (alert.short_ms, alert.long_ms)
        }
        return sorted(windows)


def _table(period_days: int, rows: tuple[tuple[float, str, str], ...]) -> WindowTable:
    ws = [Window(pct, parse_duration(short), parse_duration(long)) for pct, short, long in rows]
    return WindowTable(period_days * DAY_MS, *ws)


# The Google SRE workbook's recommended parameters ("Alerting on SLOs", table 5-8): page when 2% of
# the budget burns in 1h (5m short window) or 5% in 6h (30m); ticket when 10% burns in 1d (2h) or
# 10% in 3d (6h). The same percentages serve 30-day and 28-day periods.
_GOOGLE_ROWS: tuple[tuple[float, str, str], ...] = (
    (2, "5m", "1h"),
    (5, "30m", "6h"),
    (10, "2h", "1d"),
    (10, "6h", "3d"),
)
BUILTIN_TABLES: dict[int, WindowTable] = {
    30 * DAY_MS: _table(30, _GOOGLE_ROWS),
    28 * DAY_MS: _table(28, _GOOGLE_ROWS),
}


# --- AlertWindows files ---------------------------------------------------------------------------
class _WindowSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    error_budget_percent: float = Field(alias="errorBudgetPercent")
    short_window: str = Field(alias="shortWindow")
    long_window: str = Field(alias="longWindow")

    @field_validator("error_budget_percent")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("error budget is required (>0)")
        return value

    @field_validator("short_window", "long_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> str:
        text = str(value)
        try:
            if parse_duration(text) == 0:
                raise ValueError("window is required")
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return text


class _QuickSlow(BaseModel):
    quick: _WindowSpec
    slow: _WindowSpec


class _AlertWindowsSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    slo_period: str = Field(alias="sloPeriod")
    page: _QuickSlow
    ticket: _QuickSlow


class AlertWindowsFile(BaseModel):
    """A ``sloth.slok.dev/v1`` ``AlertWindows`` document."""

    model_config = ConfigDict(populate_by_name=True)
    api_version: str = Field(alias="apiVersion")
    kind: str
    spec: _AlertWindowsSpec

    def to_table(self) -> WindowTable:
        def w(spec: _WindowSpec) -> Window:
            return Window(spec.error_budget_percent, parse_duration(spec.short_window), parse_duration(spec.long_window))

        return WindowTable(
            parse_duration(self.spec.slo_period),
            w(self.spec.page.quick),
            w(self.spec.page.slow),
            w(self.spec.ticket.quick),
            w(self.spec.ticket.slow),
        )


def parse_windows_text(text: str, source: str) -> WindowTable:
    """One AlertWindows document to a table; errors name ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: an AlertWindows document must be a mapping")
    if data.get("apiVersion") != ALERT_WINDOWS_API_VERSION or data.get("kind") != ALERT_WINDOWS_KIND:
        raise ConfigError(f"{source}: apiVersion/kind must be {ALERT_WINDOWS_API_VERSION}/{ALERT_WINDOWS_KIND}")
    try:
        spec = AlertWindowsFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}: field {field}: {first['msg']}") from None
    try:
        table = spec.to_table()
    except DurationError as exc:
        raise ConfigError(f"{source}: field spec.sloPeriod: {exc}") from None
    if table.period_ms == 0:
        raise ConfigError(f"{source}: field spec.sloPeriod: slo period is required")
    return table


def load_windows_dir(path: Path) -> dict[int, WindowTable]:
    """Every ``*.yaml``/``*.yml`` AlertWindows file under ``path`` (recursively), by period.

    As in Sloth, a custom catalog replaces the built-in tables, and two different tables for the
    same period are an error (identical ones are tolerated).
    """
    if not path.is_dir():
        raise ConfigError(f"{path}: SLO period windows path is not a directory")
    tables: dict[int, WindowTable] = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{file}: not UTF-8 text") from None
        table = parse_windows_text(text, str(file))
        existing = tables.get(table.period_ms)
        if existing is not None and existing != table:
            raise ConfigError(f"{file}: {format_duration(table.period_ms)} slo period is already loaded")
        tables[table.period_ms] = table
    return tables


def missing_table_message(period_ms: int, tables: dict[int, WindowTable]) -> str:
    """Why a period cannot be alerted on: no table for it; lists the periods that have one."""
    known = ", ".join(format_duration(p) for p in sorted(tables)) or "none"
    return (
        f"the {format_duration(period_ms)} SLO period has no alert window table (periods with one: {known}; "
        "add one with --slo-period-windows-path)"
    )
