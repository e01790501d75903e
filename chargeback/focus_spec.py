"""The FOCUS 1.2 column rules as data, and a validator that checks a CSV column by column.

FOCUS (FinOps Open Cost and Usage Specification) 1.2 defines 57 columns. Each has a feature level
(Mandatory, Conditional, Recommended), whether it allows nulls, a data type (String, Decimal,
Date/Time, JSON) and a value format (numeric, currency, date/time, unit, key-value, allowed
values). Beside those per-column constraints the columns' requirement lists hold rules that tie
columns together ("PricingUnit MUST be null when PricingQuantity is null", "ListCost MUST match
ListUnitPrice x PricingQuantity", ...). Both kinds are encoded here, each violation naming the rule
it breaks, the row (1-based data row) and the column.

Scope of the checks, and what a CSV cannot tell: an empty CSV field is read as null (so "MUST NOT
use empty strings" cannot be told apart from null); a rule that depends on facts outside the file
("the provider supports sub accounts", "the invoice has the same currency") is checked only for its
part that the file shows, and the dataset declares which conditional features it claims
(:class:`Claims`). MUST rules give errors, SHOULD rules warnings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, Literal, Sequence

FOCUS_VERSION = "1.2"

FeatureLevel = Literal["Mandatory", "Conditional", "Recommended"]
DataType = Literal["String", "Decimal", "DateTime", "JSON"]
ValueFormat = Literal["", "numeric", "currency", "datetime", "unit", "allowed", "keyvalue"]


@dataclass(frozen=True)
class Column:
    """One FOCUS column's content constraints (the spec's "Content constraints" table)."""

    name: str
    feature_level: FeatureLevel
    nullable: bool
    data_type: DataType
    value_format: ValueFormat = ""
    allowed: tuple[str, ...] = ()
    non_negative: bool = False


def _s(name: str, level: FeatureLevel, nullable: bool, fmt: ValueFormat = "", allowed: tuple[str, ...] = ()) -> Column:
    return Column(name, level, nullable, "String", fmt or ("allowed" if allowed else ""), allowed)


def _d(name: str, level: FeatureLevel, nullable: bool, non_negative: bool = False) -> Column:
    return Column(name, level, nullable, "Decimal", "numeric", non_negative=non_negative)


def _t(name: str, level: FeatureLevel, nullable: bool) -> Column:
    return Column(name, level, nullable, "DateTime", "datetime")


def _j(name: str, level: FeatureLevel, nullable: bool) -> Column:
    return Column(name, level, nullable, "JSON", "keyvalue")


CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
)  # fmt: skip

# ServiceSubcategory -> its one parent ServiceCategory (the spec's allowed-values table).
SERVICE_SUBCATEGORIES: dict[str, str] = {
    **{s: "AI and Machine Learning" for s in (
        "AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing",
        "Other (AI and Machine Learning)")},
    **{s: "Analytics" for s in (
        "Analytics Platforms", "Business Intelligence", "Data Processing", "Search", "Streaming Analytics",
        "Other (Analytics)")},
    **{s: "Business Applications" for s in ("Productivity and Collaboration", "Other (Business Applications)")},
    **{s: "Compute" for s in (
        "Containers", "End User Computing", "Quantum Compute", "Serverless Compute", "Virtual Machines",
        "Other (Compute)")},
    **{s: "Databases" for s in (
        "Caching", "Data Warehouses", "Ledger Databases", "NoSQL Databases", "Relational Databases",
        "Time Series Databases", "Other (Databases)")},
    **{s: "Developer Tools" for s in (
        "Developer Platforms", "Continuous Integration and Deployment", "Development Environments",
        "Source Code Management", "Quality Assurance", "Other (Developer Tools)")},
    **{s: "Identity" for s in ("Identity and Access Management", "Other (Identity)")},
    **{s: "Integration" for s in ("API Management", "Messaging", "Workflow Orchestration", "Other (Integration)")},
    **{s: "Internet of Things" for s in ("IoT Analytics", "IoT Platforms", "Other (Internet of Things)")},
    **{s: "Management and Governance" for s in (
        "Architecture", "Compliance", "Cost Management", "Data Governance", "Disaster Recovery",
        "Endpoint Management", "Observability", "Support", "Other (Management and Governance)")},
    **{s: "Media" for s in ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality", "Other (Media)")},
    **{s: "Migration" for s in ("Data Migration", "Resource Migration", "Other (Migration)")},
    **{s: "Mobile" for s in ("Other (Mobile)",)},
    **{s: "Multicloud" for s in ("Multicloud Integration", "Other (Multicloud)")},
    **{s: "Networking" for s in (
        "Application Networking", "Content Delivery", "Network Connectivity", "Network Infrastructure",
        "Network Routing", "Network Security", "Other (Networking)")},
    **{s: "Security" for s in (
        "Secret Management", "Security Posture Management", "Threat Detection and Response", "Other (Security)")},
    **{s: "Storage" for s in (
        "Backup Storage", "Block Storage", "File Storage", "Object Storage", "Storage Platforms", "Other (Storage)")},
    **{s: "Web" for s in ("Application Platforms", "Other (Web)")},
    "Other (Other)": "Other",
}  # fmt: skip

_M, _C, _R = "Mandatory", "Conditional", "Recommended"

# The 57 columns of FOCUS 1.2 (specification/columns/*.md at tag v1.2), alphabetical as the spec lists them.
COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        _s("AvailabilityZone", _R, True),
        _d("BilledCost", _M, False),
        _s("BillingAccountId", _M, False),
        _s("BillingAccountName", _M, True),
        _s("BillingAccountType", _C, False),
        _s("BillingCurrency", _M, False, "currency"),
        _t("BillingPeriodEnd", _M, False),
        _t("BillingPeriodStart", _M, False),
        _s("CapacityReservationId", _C, True),
        _s("CapacityReservationStatus", _C, True, allowed=("Used", "Unused")),
        _s("ChargeCategory", _M, False, allowed=CHARGE_CATEGORIES),
        _s("ChargeClass", _M, True, allowed=("Correction",)),
        _s("ChargeDescription", _M, True),
        _s("ChargeFrequency", _R, False, allowed=("One-Time", "Recurring", "Usage-Based")),
        _t("ChargePeriodEnd", _M, False),
        _t("ChargePeriodStart", _M, False),
        _s("CommitmentDiscountCategory", _C, True, allowed=("Spend", "Usage")),
        _s("CommitmentDiscountId", _C, True),
        _s("CommitmentDiscountName", _C, True),
        _d("CommitmentDiscountQuantity", _C, True),
        _s("CommitmentDiscountStatus", _C, True, allowed=("Used", "Unused")),
        _s("CommitmentDiscountType", _C, True),
        _s("CommitmentDiscountUnit", _C, True, "unit"),
        _d("ConsumedQuantity", _C, True),
        _s("ConsumedUnit", _C, True, "unit"),
        _d("ContractedCost", _M, False),
        _d("ContractedUnitPrice", _C, True, non_negative=True),
        _d("EffectiveCost", _M, False),
        _s("InvoiceId", _R, True),
        _s("InvoiceIssuerName", _M, False),
        _d("ListCost", _M, False),
        _d("ListUnitPrice", _C, True, non_negative=True),
        _s("PricingCategory", _C, True, allowed=("Standard", "Dynamic", "Committed", "Other")),
        _s("PricingCurrency", _C, True, "currency"),
        _d("PricingCurrencyContractedUnitPrice", _C, True, non_negative=True),
        _d("PricingCurrencyEffectiveCost", _C, True),
        _d("PricingCurrencyListUnitPrice", _C, True, non_negative=True),
        _d("PricingQuantity", _M, True),
        _s("PricingUnit", _M, True, "unit"),
        _s("ProviderName", _M, False),
        _s("PublisherName", _M, False),
        _s("RegionId", _C, True),
        _s("RegionName", _C, True),
        _s("ResourceId", _C, True),
        _s("ResourceName", _C, True),
        _s("ResourceType", _C, True),
        _s("ServiceCategory", _M, False, allowed=SERVICE_CATEGORIES),
        _s("ServiceName", _M, False),
        _s("ServiceSubcategory", _R, False, allowed=tuple(SERVICE_SUBCATEGORIES)),
        _s("SkuId", _C, True),
        _s("SkuMeter", _C, True),
        _j("SkuPriceDetails", _C, True),
        _s("SkuPriceId", _C, True),
        _s("SubAccountId", _C, True),
        _s("SubAccountName", _C, True),
        _s("SubAccountType", _C, True),
        _j("Tags", _C, True),
    )
}

MANDATORY = tuple(name for name, c in COLUMNS.items() if c.feature_level == "Mandatory")

# ISO 4217 active alphabetic codes (national currencies, plus precious metals and funds codes that
# the standard lists); the currency format requires one of these for national currency.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
    BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP
    SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW
    ZWG ZWL""".split()
)

# Numeric format: an integer, a decimal, or E notation "mEn"; no '+' sign, commas, units or symbols.
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?(E-?\d+)?$")
# Date/time format: extended ISO 8601 in UTC, 'YYYY-MM-DDTHH:mm:ssZ'.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Unit format: "<plural-units>", "<singular-unit>-<plural-time-units>", "<plural-units>/<singular-time-unit>",
# optionally "<quantity> <plural-units>" or "<plural-units>/<interval> <plural-time-units>" (whole numbers).
_UNIT_WORD = r"[A-Za-z][A-Za-z0-9]*"
_TIME_PLURAL = r"(Years|Months|Days|Hours|Minutes|Seconds)"
_TIME_SINGULAR = r"(Year|Month|Day|Hour|Minute|Second)"
_UNIT = re.compile(
    rf"^((\d+ )?{_UNIT_WORD}(-{_TIME_PLURAL}|/{_TIME_SINGULAR}|/\d+ {_TIME_PLURAL})?)$"
)
# Column IDs: Pascal case, alphanumeric; custom columns carry the x_ prefix.
_PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_PLACEHOLDERS = frozenset({"n/a", "na", "not applicable", "null", "none", "-"})


@dataclass(frozen=True)
class Claims:
    """What the dataset's provider supports; it decides which Conditional columns MUST be present.

    The defaults describe infermeter's export: usage is measured, list and contracted unit prices
    are published, charges are tied to resources (deployments), sub accounts (tenants) and SKUs.
    """

    measures_usage: bool = True
    publishes_unit_prices: bool = True
    negotiated_pricing: bool = True
    resources: bool = True
    sub_accounts: bool = True
    skus: bool = True

    def required_columns(self) -> tuple[str, ...]:
        cols: list[str] = list(MANDATORY)
        if self.measures_usage:
            cols += ["ConsumedQuantity", "ConsumedUnit"]
        if self.publishes_unit_prices:
            cols += ["ListUnitPrice", "PricingCategory"]
        if self.negotiated_pricing:
            cols += ["ContractedUnitPrice"]
        if self.resources:
            cols += ["ResourceId", "ResourceName", "ResourceType"]
        if self.sub_accounts:
            cols += ["SubAccountId", "SubAccountName", "SubAccountType"]
        if self.skus:
            cols += ["SkuId", "SkuPriceId"]
        return tuple(cols)


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``row`` is the 1-based data row (None for the header), ``column`` its column."""

    rule: str
    message: str
    column: str | None = None
    row: int | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = "header" if self.row is None else f"row {self.row}"
        col = f" {self.column}" if self.column else ""
        return f"{self.severity}: {where}{col}: {self.message} [{self.rule}]"


@dataclass
class ValidationResult:
    violations: list[Violation] = field(default_factory=list)
    rows: int = 0

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def failing_rules(self) -> set[str]:
        return {v.rule for v in self.errors}


def parse_decimal(text: str) -> Decimal | None:
    """A FOCUS numeric value as Decimal, or None when it breaks the numeric format."""
    if not _NUMERIC.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def parse_datetime(text: str) -> dt.datetime | None:
    if not _DATETIME.match(text):
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _cell_violations(col: Column, value: str, row: int) -> list[Violation]:
    """Type, format and allowed-value checks of one non-null cell."""
    out: list[Violation] = []
    name = col.name

    def err(rule: str, msg: str, severity: Literal["error", "warning"] = "error") -> None:
        out.append(Violation(rule, msg, name, row, severity))

    if value.strip().lower() in _PLACEHOLDERS:
        err("NullHandling", f"placeholder {value!r} used for a missing value (use null)")
        return out
    if not value.strip():
        err("StringHandling", "a string of spaces only", "warning")
    if col.data_type == "Decimal":
        number = parse_decimal(value)
        if number is None:
            err("NumericFormat", f"{value!r} is not a decimal in FOCUS numeric format")
        elif col.non_negative and number < 0:
            err(f"{name}.NonNegative", f"{value} is negative")
    elif col.data_type == "DateTime":
        if parse_datetime(value) is None:
            err("DateTimeFormat", f"{value!r} is not ISO 8601 UTC 'YYYY-MM-DDTHH:mm:ssZ'")
    elif col.data_type == "JSON":
        try:
            obj = json.loads(value)
        except ValueError:
            err("KeyValueFormat", "not a JSON document")
        else:
            if not isinstance(obj, dict):
                err("KeyValueFormat", "not a JSON object")
            elif any(isinstance(v, (dict, list)) for v in obj.values()):
                err("KeyValueFormat", "values must be numbers, strings, true, false or null")
            else:
                keys = [k for k, _ in json.loads(value, object_pairs_hook=lambda pairs: pairs)]
                if len(keys) != len(set(keys)):
                    err("KeyValueFormat", "keys must be unique")
    if col.value_format == "allowed" and value not in col.allowed:
        err(f"{name}.AllowedValues", f"{value!r} is not one of the allowed values")
    elif col.value_format == "currency":
        if not re.fullmatch(r"[A-Z]{3}", value):
            err("CurrencyFormat", f"{value!r} is not a three-letter ISO 4217 code")
        elif name == "BillingCurrency" and value not in ISO_4217:
            err("BillingCurrency.NationalCurrency", f"{value!r} is not an ISO 4217 national currency")
    elif col.value_format == "unit" and not _UNIT.match(value):
        err("UnitFormat", f"{value!r} does not follow the unit format", "warning")
    return out


def _null(value: str | None) -> bool:
    return value is None or value == ""


class _Row:
    """One data row with typed accessors; absent columns read as null."""

    def __init__(self, values: dict[str, str]) -> None:
        self.v = values

    def null(self, name: str) -> bool:
        return _null(self.v.get(name))

    def get(self, name: str) -> str | None:
        value = self.v.get(name)
        return None if _null(value) else value

    def dec(self, name: str) -> Decimal | None:
        value = self.get(name)
        return parse_decimal(value) if value is not None else None


def _row_violations(r: _Row, row: int, present: set[str], tolerance: Decimal) -> list[Violation]:
    """The requirements that tie columns of one row together."""
    out: list[Violation] = []

    def err(rule: str, column: str, msg: str, severity: Literal["error", "warning"] = "error") -> None:
        out.append(Violation(rule, msg, column, row, severity))

    category = r.get("ChargeCategory")
    correction = r.get("ChargeClass") == "Correction"
    usage_or_purchase = category in ("Usage", "Purchase")

    # Columns that MUST be null for Tax and MUST NOT be null for Usage/Purchase that is no correction.
    for name in ("PricingQuantity", "ListUnitPrice", "ContractedUnitPrice", "PricingCategory", "SkuId", "SkuPriceId",
                 "PricingCurrencyListUnitPrice", "PricingCurrencyContractedUnitPrice"):  # fmt: skip
        if name not in present:
            continue
        if category == "Tax" and not r.null(name):
            err(f"{name}.Nullability", name, "must be null when ChargeCategory is Tax")
        if usage_or_purchase and not correction and r.null(name):
            err(f"{name}.Nullability", name, f"must not be null for a {category} charge that is no correction")

    # Pairs where one column MUST be null exactly when the other is.
    for dependent, parent in (
        ("PricingUnit", "PricingQuantity"),
        ("ConsumedUnit", "ConsumedQuantity"),
        ("CommitmentDiscountUnit", "CommitmentDiscountQuantity"),
        ("ResourceType", "ResourceId"),
        ("RegionName", "RegionId"),
        ("SubAccountName", "SubAccountId"),
        ("SubAccountType", "SubAccountId"),
        ("CommitmentDiscountCategory", "CommitmentDiscountId"),
        ("CommitmentDiscountType", "CommitmentDiscountId"),
        ("BillingAccountType", "BillingAccountId"),
    ):
        if dependent in present and r.null(dependent) != r.null(parent):
            state = "null" if r.null(parent) else "not null"
            err(f"{dependent}.Nullability", dependent, f"must be {'null' if r.null(parent) else 'set'} when {parent} is {state}")
    # One-way: MUST be null when the other is null.
    for dependent, parent in (
        ("ResourceName", "ResourceId"),
        ("CommitmentDiscountName", "CommitmentDiscountId"),
        ("CommitmentDiscountStatus", "CommitmentDiscountId"),
        ("CommitmentDiscountQuantity", "CommitmentDiscountId"),
        ("CapacityReservationStatus", "CapacityReservationId"),
        ("SkuMeter", "SkuId"),
        ("SkuPriceDetails", "SkuPriceId"),
    ):
        if dependent in present and r.null(parent) and not r.null(dependent):
            err(f"{dependent}.Nullability", dependent, f"must be null when {parent} is null")
    if "CommitmentDiscountStatus" in present and category == "Usage" and not r.null("CommitmentDiscountId"):
        if r.null("CommitmentDiscountStatus"):
            err("CommitmentDiscountStatus.Nullability", "CommitmentDiscountStatus", "must be set for usage of a commitment discount")

    # ConsumedQuantity: null unless Usage (and not an unused commitment); set for Usage that is no correction.
    if "ConsumedQuantity" in present:
        unused = r.get("CommitmentDiscountStatus") == "Unused"
        if (category != "Usage" or unused) and not r.null("ConsumedQuantity"):
            err("ConsumedQuantity.Nullability", "ConsumedQuantity", "must be null unless ChargeCategory is Usage (and not an unused commitment)")
        if category == "Usage" and not unused and not correction and r.null("ConsumedQuantity"):
            err("ConsumedQuantity.Nullability", "ConsumedQuantity", "must be set for a Usage charge that is no correction")

    if category == "Purchase" and r.get("ChargeFrequency") == "Usage-Based":
        err("ChargeFrequency.Purchase", "ChargeFrequency", "must not be Usage-Based for a Purchase")

    sub = r.get("ServiceSubcategory")
    if sub is not None and sub in SERVICE_SUBCATEGORIES and SERVICE_SUBCATEGORIES[sub] != r.get("ServiceCategory"):
        err("ServiceSubcategory.Parent", "ServiceSubcategory", f"{sub!r} belongs to {SERVICE_SUBCATEGORIES[sub]!r}, not {r.get('ServiceCategory')!r}")

    # Cost = unit price x pricing quantity (to the billing currency's precision), unless a correction.
    quantity = r.dec("PricingQuantity")
    for cost_col, price_col in (("ListCost", "ListUnitPrice"), ("ContractedCost", "ContractedUnitPrice")):
        cost, price = r.dec(cost_col), r.dec(price_col)
        if cost is None:
            continue
        if price is not None and quantity is not None and not correction:
            if abs(price * quantity - cost) > tolerance:
                err(f"{cost_col}.Product", cost_col, f"{cost} does not match {price_col} x PricingQuantity = {price * quantity}")
        elif price is None and category == "Credit" and r.dec("BilledCost") is not None and cost != r.dec("BilledCost"):
            err(f"{cost_col}.Credit", cost_col, "must match BilledCost for a charge unrelated to others")
    if category == "Credit" and r.dec("EffectiveCost") is not None and r.dec("EffectiveCost") != r.dec("BilledCost"):
        err("EffectiveCost.Credit", "EffectiveCost", "must match BilledCost for a charge unrelated to others")

    # Inclusive start, exclusive end: the start comes first.
    for prefix in ("ChargePeriod", "BillingPeriod"):
        start, end = r.get(prefix + "Start"), r.get(prefix + "End")
        ts, te = (parse_datetime(start) if start else None), (parse_datetime(end) if end else None)
        if ts and te and not ts < te:
            err(f"{prefix}.Bounds", prefix + "End", f"exclusive end {end} is not after the inclusive start {start}")
    return out


def _header_violations(header: Sequence[str], claims: Claims) -> list[Violation]:
    out: list[Violation] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            out.append(Violation("ColumnHandling.Unique", f"column {name!r} appears twice", name))
        seen.add(name)
        if name in COLUMNS:
            continue
        if name.startswith("x_"):
            if not _PASCAL.match(name[2:]):
                out.append(Violation("ColumnHandling.CustomNaming", f"custom column {name!r} should be x_ + Pascal case", name, severity="warning"))
        else:
            out.append(Violation("ColumnHandling.CustomPrefix", f"{name!r} is no FOCUS {FOCUS_VERSION} column and lacks the x_ prefix", name))
    for name in claims.required_columns():
        if name not in seen:
            level = COLUMNS[name].feature_level
            out.append(Violation(f"{name}.Presence", f"{level} column {name} is missing", name))
    for name in ("ChargeFrequency", "ServiceSubcategory", "InvoiceId"):
        if name not in seen:
            out.append(Violation(f"{name}.Presence", f"Recommended column {name} is missing", name, severity="warning"))
    first_custom = next((i for i, n in enumerate(header) if n.startswith("x_")), None)
    if first_custom is not None and any(n in COLUMNS for n in header[first_custom:]):
        out.append(Violation("ColumnHandling.Order", "FOCUS columns should come before custom x_ columns", severity="warning"))
    return out


def validate_rows(header: Sequence[str], rows: Iterable[Sequence[str]], *, claims: Claims = Claims(),
                  tolerance: Decimal = Decimal("0.01")) -> ValidationResult:  # fmt: skip
    """Validate a table given as a header and rows of text cells ('' is null)."""
    result = ValidationResult()
    result.violations += _header_violations(header, claims)
    present = set(header)
    focus_cols = [(i, COLUMNS[n]) for i, n in enumerate(header) if n in COLUMNS]
    for number, cells in enumerate(rows, start=1):
        result.rows = number
        if len(cells) != len(header):
            result.violations.append(Violation("CSV.Width", f"{len(cells)} fields, the header has {len(header)}", row=number))
            continue
        for i, col in focus_cols:
            value = cells[i]
            if _null(value):
                if not col.nullable:
                    result.violations.append(Violation(f"{col.name}.NotNull", "must not be null", col.name, number))
                continue
            result.violations += _cell_violations(col, value, number)
        values = {name: cells[i] for i, name in enumerate(header)}
        result.violations += _row_violations(_Row(values), number, present, tolerance)
    return result


def validate_csv(source: str | Path | bytes, *, claims: Claims = Claims(), tolerance: Decimal = Decimal("0.01")) -> ValidationResult:
    """Validate a FOCUS CSV (a path, or its text/bytes). UTF-8, header row first, empty field = null."""
    if isinstance(source, Path):
        text = source.read_text(encoding="utf-8")
    elif isinstance(source, bytes):
        text = source.decode("utf-8")
    else:
        text = source
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return ValidationResult([Violation("CSV.Header", "the file is empty: no header row")])
    return validate_rows(header, reader, claims=claims, tolerance=tolerance)
