"""FOCUS 1.2: the export passes the column-by-column validator, and broken exports fail it with the
rule they break."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import pytest

from infermeter.chargeback import focus_spec as spec
from infermeter.chargeback.focus import EXTRA_COLUMNS, FOCUS_COLUMNS, render_focus
from infermeter.chargeback.reports import build_report
from tests.chargeback import test_report_seed as seed

# The 21 Mandatory columns of FOCUS 1.2 (specification/columns/*.md, tag v1.2).
MANDATORY_1_2 = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}  # fmt: skip


def test_spec_tables():
    assert len(spec.COLUMNS) == 57
    assert set(spec.MANDATORY) == MANDATORY_1_2
    assert not spec.COLUMNS["BilledCost"].nullable and spec.COLUMNS["BilledCost"].data_type == "Decimal"
    assert spec.COLUMNS["ChargeClass"].nullable and spec.COLUMNS["ChargeClass"].allowed == ("Correction",)
    assert spec.COLUMNS["ChargeCategory"].allowed == ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
    assert spec.SERVICE_SUBCATEGORIES["Generative AI"] == "AI and Machine Learning"
    assert len(spec.SERVICE_SUBCATEGORIES) == 82
    assert all(c.startswith("x_") for c in EXTRA_COLUMNS)
    assert all(c in spec.COLUMNS for c in FOCUS_COLUMNS)


def test_numeric_and_datetime_formats():
    for good in ("-100.2", "-3", "4", "35.2E-7", "1.234", "0"):
        assert spec.parse_decimal(good) is not None, good
    for bad in ("1 1/2", "35.2E+7", "35.24 x 10^7", "[3,5,8]", "sqrt(2)", "32 GiB", "$32", "3,432,342", "+333", ""):
        assert spec.parse_decimal(bad) is None, bad
    assert spec.parse_datetime("2024-01-01T00:00:00Z") is not None
    for bad in ("2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00+00:00", "2024-02-30T00:00:00Z"):
        assert spec.parse_datetime(bad) is None, bad


@pytest.fixture(scope="module")
def export(chdb_path) -> bytes:
    """The seeded month's FOCUS export, built once (the broken-export cases only edit its text)."""
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    db = "t_focus_" + uuid.uuid4().hex[:8]
    st = open_store_url(f"chdb://{chdb_path}", db)
    try:
        migrate(st, RenderOptions(database=db))
        seed.seed_ledger(st)
        return render_focus(build_report(st, seed.MONTH, daily_lines=True))
    finally:
        st.command(f"DROP DATABASE IF EXISTS `{db}`")
        st.close()


def test_export_on_every_store(store):
    seed.seed_ledger(store)
    result = spec.validate_csv(render_focus(build_report(store, seed.MONTH, daily_lines=True)))
    assert result.ok and result.rows == len(seed.LINES)


def _table(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _csv(header: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def test_export_passes_the_validator(export):
    result = spec.validate_csv(export)
    assert result.ok, "\n".join(str(v) for v in result.errors)
    assert result.warnings == [], "\n".join(str(v) for v in result.warnings)
    header, rows = _table(export)
    assert result.rows == len(rows) == len(seed.LINES)
    assert set(spec.MANDATORY) <= set(header)
    # FOCUS columns first, then the x_ columns
    first_custom = next(i for i, c in enumerate(header) if c.startswith("x_"))
    assert all(not c.startswith("x_") for c in header[:first_custom]) and all(c.startswith("x_") for c in header[first_custom:])
    assert sum(Decimal(r["BilledCost"]) for r in rows) == seed.FLEET_TOTAL
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == seed.FLEET_TOTAL
    assert {r["BillingPeriodStart"] for r in rows} == {f"{seed.MONTH_START:%Y-%m-%d}T00:00:00Z"}
    assert {r["BillingPeriodEnd"] for r in rows} == {f"{seed.MONTH_END:%Y-%m-%d}T00:00:00Z"}
    assert {r["ChargeCategory"] for r in rows} == {"Usage"}
    corrections = [r for r in rows if r["ChargeClass"]]
    assert len(corrections) == 1 and corrections[0]["x_Method"] == "adjustment"
    assert corrections[0]["ChargePeriodStart"] < corrections[0]["BillingPeriodStart"]  # corrects last month
    tokens = [r for r in rows if r["x_Resource"] == "output_tokens"][0]
    assert (tokens["PricingUnit"], tokens["PricingQuantity"], tokens["ConsumedUnit"], tokens["ConsumedQuantity"]) == (
        "1000000 Tokens", "0.3", "Tokens", "300000")  # fmt: skip
    assert tokens["ListCost"] == "3" and tokens["BilledCost"] == "3.00"
    gpu = [r for r in rows if r["x_Tenant"] == "acme" and r["x_Deployment"] == "acme-dedicated" and r["x_Resource"] == "gpu"]
    assert sorted(r["SkuPriceId"] for r in gpu) == ["gpu-hour/A100@1.2", "gpu-hour/A100@1.5"]
    assert {r["SubAccountType"] for r in rows if r["SubAccountId"] == "(idle)"} == {"Unattributed Idle"}


def test_tenant_export_holds_one_tenant(store):
    seed.seed_ledger(store)
    data = render_focus(build_report(store, seed.MONTH, "globex", daily_lines=True))
    assert spec.validate_csv(data).ok
    _, rows = _table(data)
    assert {r["SubAccountId"] for r in rows} == {"globex"}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == seed.TOTAL["globex"]
    for other in ("acme", "mystery", "(idle)", "initech"):
        assert other not in data.decode()


def _mutate(export: bytes, fn) -> spec.ValidationResult:
    header, rows = _table(export)
    header, rows = fn(header, [dict(r) for r in rows]) or (header, rows)
    return spec.validate_csv(_csv(header, rows))


def _set(column: str, value: str, row: int = 0):
    def fn(header, rows):
        rows[row][column] = value
        return header, rows

    return fn


def _drop(column: str):
    def fn(header, rows):
        for r in rows:
            r.pop(column)
        return [c for c in header if c != column], rows

    return fn


def _add(column: str, value: str):
    def fn(header, rows):
        for r in rows:
            r[column] = value
        return header + [column], rows

    return fn


BROKEN = [
    ("missing BilledCost", _drop("BilledCost"), "BilledCost.Presence"),
    ("missing ChargeClass", _drop("ChargeClass"), "ChargeClass.Presence"),
    ("missing SubAccountName", _drop("SubAccountName"), "SubAccountName.Presence"),
    ("BilledCost null", _set("BilledCost", ""), "BilledCost.NotNull"),
    ("BilledCost with a comma", _set("BilledCost", "1,000.00"), "NumericFormat"),
    ("BilledCost with a currency sign", _set("BilledCost", "$5.00"), "NumericFormat"),
    ("positive sign", _set("ListCost", "+5"), "NumericFormat"),
    ("ChargePeriodStart not ISO 8601 UTC", _set("ChargePeriodStart", "2025-03-01 00:00:00"), "DateTimeFormat"),
    ("ChargePeriodEnd with an offset", _set("ChargePeriodEnd", "2025-03-02T00:00:00+01:00"), "DateTimeFormat"),
    ("charge period ends before it starts", _set("ChargePeriodEnd", "2000-01-01T00:00:00Z"), "ChargePeriod.Bounds"),
    ("ChargeCategory not allowed", _set("ChargeCategory", "Consumption"), "ChargeCategory.AllowedValues"),
    ("ChargeClass not allowed", _set("ChargeClass", "Refund"), "ChargeClass.AllowedValues"),
    ("ChargeFrequency not allowed", _set("ChargeFrequency", "Daily"), "ChargeFrequency.AllowedValues"),
    ("ServiceCategory not allowed", _set("ServiceCategory", "GPU"), "ServiceCategory.AllowedValues"),
    ("subcategory of another category", _set("ServiceSubcategory", "Object Storage"), "ServiceSubcategory.Parent"),
    ("lower-case currency", _set("BillingCurrency", "usd"), "CurrencyFormat"),
    ("currency not in ISO 4217", _set("BillingCurrency", "ABC"), "BillingCurrency.NationalCurrency"),
    ("PricingUnit null with a quantity", _set("PricingUnit", ""), "PricingUnit.Nullability"),
    ("ConsumedUnit null with a quantity", _set("ConsumedUnit", ""), "ConsumedUnit.Nullability"),
    ("ListUnitPrice null on usage", _set("ListUnitPrice", ""), "ListUnitPrice.Nullability"),
    ("negative unit price", _set("ContractedUnitPrice", "-1"), "ContractedUnitPrice.NonNegative"),
    ("ListCost is not price x quantity", _set("ListCost", "999.99"), "ListCost.Product"),
    ("SubAccountType without SubAccountId", _set("SubAccountId", ""), "SubAccountType.Nullability"),
    ("ResourceType without ResourceId", _set("ResourceId", ""), "ResourceType.Nullability"),
    ("placeholder for null", _set("InvoiceIssuerName", "N/A"), "NullHandling"),
    ("custom column without x_", _add("TenantName", "acme"), "ColumnHandling.CustomPrefix"),
    ("duplicate column", lambda h, r: (h + ["BilledCost"], r), "ColumnHandling.Unique"),
    ("Purchase billed per use", lambda h, r: (_set("ChargeCategory", "Purchase")(h, r)), "ConsumedQuantity.Nullability"),
]


@pytest.mark.parametrize("name, mutate, rule", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_export_fails(export, name, mutate, rule):
    result = _mutate(export, mutate)
    assert not result.ok, name
    assert rule in result.failing_rules(), f"{name}: {sorted(result.failing_rules())}"


def test_cell_rules_beyond_the_export(export):
    # Tags is a key-value JSON object whose values are scalars
    header, rows = _table(export)
    rows[0]["Tags"] = '{"team": {"nested": 1}}'
    assert "KeyValueFormat" in spec.validate_csv(_csv(header, rows)).failing_rules()
    rows[0]["Tags"] = '{"team": "ops", "env": "prod"}'
    assert spec.validate_csv(_csv(header, rows)).ok
    # a Tax charge must not carry usage quantities or SKU prices
    rows[0]["ChargeCategory"] = "Tax"
    failing = spec.validate_csv(_csv(header, rows)).failing_rules()
    assert {"PricingQuantity.Nullability", "SkuPriceId.Nullability", "ConsumedQuantity.Nullability"} <= failing
    # a credit's list cost is its billed cost
    header, rows = _table(export)
    rows[0].update(ChargeCategory="Credit", ConsumedQuantity="", ConsumedUnit="", ListUnitPrice="", ListCost="1")
    assert "ListCost.Credit" in spec.validate_csv(_csv(header, rows)).failing_rules()


def test_empty_file_and_ragged_rows():
    assert not spec.validate_csv("").ok
    result = spec.validate_csv("BilledCost\n1,2\n")
    assert "CSV.Width" in result.failing_rules()
