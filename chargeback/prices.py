"""The versioned price catalog (YAML): GPU-hour prices by GPU model and MIG profile, token prices.

A catalog is a list of price *periods*, each a complete price list with an effective date range
``[effective_from, effective_to)`` (UTC days; ``effective_to`` omitted = open-ended). Periods must
not overlap. A price change in the middle of a month is a new period from that day: the month's
days are priced by the period that covers each day (:func:`PriceCatalog.split`).

GPU prices are per GPU-hour of a whole GPU (time-sliced shares pay their ``fraction``). A MIG
profile may have its own price per instance-hour (``mig_hour``); without one, a MIG instance pays
the whole GPU's price times its ``fraction``. Token prices are per 1M tokens; ``cached_input``
defaults to the ``input`` price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infermeter.chargeback.yamlfile import digest, read_yaml, validate, where
from infermeter.errors import ConfigError

Price = Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=12)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenPrice(_Model):
    """Per 1M tokens."""

    input: Price
    output: Price
    cached_input: Price | None = None

    @property
    def cached(self) -> Decimal:
        return self.input if self.cached_input is None else self.cached_input


class PricePeriod(_Model):
    effective_from: dt.date
    effective_to: dt.date | None = Field(default=None, description="Exclusive; omitted = open-ended.")
    gpu_hour: dict[Name, Price] = Field(default_factory=dict, description="GPU model -> price per GPU-hour.")
    mig_hour: dict[Name, dict[Name, Price]] = Field(
        default_factory=dict, description="GPU model -> MIG profile -> price per instance-hour."
    )
    tokens: dict[Name, TokenPrice] = Field(default_factory=dict, description="Model -> prices per 1M tokens.")

    @model_validator(mode="after")
    def _ordered(self) -> "PricePeriod":
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} must be after effective_from {self.effective_from}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def label(self) -> str:
        return f"{self.effective_from}..{self.effective_to or ''}"


class CatalogFile(_Model):
    version: str = Field(min_length=1, description="A label for this catalog version, recorded with every run.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    periods: list[PricePeriod] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, value):
        return str(value) if isinstance(value, (int, float, dt.date)) else value


@dataclass(frozen=True)
class GpuPrice:
    """The price of one sku on one day: per GPU-hour (``basis='gpu'``) or per MIG instance-hour (``'mig'``)."""

    price: Decimal
    basis: str
    period_index: int


@dataclass(frozen=True)
class Segment:
    """Days ``[start, end)`` priced by ``periods[period_index]`` (None: no period covers them)."""

    start: dt.date
    end: dt.date
    period_index: int | None


class PriceCatalog:
    """A loaded, validated catalog with lookups that fail loudly."""

    def __init__(self, model: CatalogFile, source: Path | str = "prices", text: str = "") -> None:
        self.model = model
        self.source = Path(source)
        self.text = text
        self.digest = digest(text) if text else ""
        self.periods = sorted(enumerate(model.periods), key=lambda p: p[1].effective_from)
        for (ia, a), (ib, b) in zip(self.periods, self.periods[1:]):
            if a.effective_to is None or a.effective_to > b.effective_from:
                raise ConfigError(
                    f"{where(self.source, text, ['periods', ib, 'effective_from'])}: periods[{ib}]: "
                    f"{b.label()} overlaps periods[{ia}] ({a.label()})"
                )
        self.token_models = frozenset(m for p in model.periods for m in p.tokens)

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def currency(self) -> str:
        return self.model.currency

    def _period(self, day: dt.date) -> tuple[int, PricePeriod]:
        for index, period in self.periods:
            if period.covers(day):
                return index, period
        spans = ", ".join(p.label() for _, p in self.periods)
        raise ConfigError(f"{self.source}: periods: no price period covers {day} (periods: {spans})")

    def gpu_price(self, day: dt.date, gpu_model: str, mig_profile: str = "") -> GpuPrice:
        """The price of a GPU model (or MIG profile) on ``day``; missing -> ConfigError naming the field."""
        index, period = self._period(day)
        if mig_profile:
            mig = period.mig_hour.get(gpu_model, {}).get(mig_profile)
            if mig is not None:
                return GpuPrice(mig, "mig", index)
        price = period.gpu_hour.get(gpu_model)
        if price is None:
            known = ", ".join(sorted(period.gpu_hour)) or "none"
            what = f"GPU model {gpu_model!r}" + (f" (MIG profile {mig_profile!r})" if mig_profile else "")
            raise ConfigError(
                f"{where(self.source, self.text, ['periods', index, 'gpu_hour'])}: periods[{index}].gpu_hour: "
                f"no price for {what} on {day} (priced: {known})"
            )
        return GpuPrice(price, "gpu", index)

    def token_price(self, day: dt.date, model: str) -> tuple[TokenPrice, int]:
        index, period = self._period(day)
        price = period.tokens.get(model)
        if price is None:
            raise ConfigError(
                f"{where(self.source, self.text, ['periods', index, 'tokens'])}: periods[{index}].tokens: "
                f"no token price for model {model!r} on {day} (it is token-priced"
                + (" in another period)" if model in self.token_models else ")")
            )
        return price, index

    def split(self, start: dt.date, end: dt.date) -> list[Segment]:
        """``[start, end)`` cut where the price period changes; uncovered stretches have ``period_index=None``."""
        segments: list[Segment] = []
        day = start
        while day < end:
            index = next((i for i, p in self.periods if p.covers(day)), None)
            if index is not None:
                stop = self.model.periods[index].effective_to or end
            else:
                later = [p.effective_from for _, p in self.periods if p.effective_from > day]
                stop = min(later) if later else end
            stop = min(stop, end)
            segments.append(Segment(day, stop, index))
            day = stop
        return segments


def load_prices(path: str | Path) -> PriceCatalog:
    """Read and validate a price catalog YAML file."""
    path = Path(path)
    data, text = read_yaml(path, "price catalog")
    model = validate(CatalogFile, data, path, text)
    return PriceCatalog(model, path, text)
