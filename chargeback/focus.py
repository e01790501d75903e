"""FOCUS 1.2 CSV export of a month's ledger: one row per ledger line and day.

How the ledger maps onto FOCUS (the rules themselves live in :mod:`focus_spec`):

- every line is a ``Usage`` charge, ``Usage-Based``, priced ``Standard`` at the catalog's list
  price: ListUnitPrice = ContractedUnitPrice = the line's unit price, ListCost = ContractedCost =
  unit price x quantity (exact), BilledCost = EffectiveCost = the ledger's cost (rounded so lines
  sum to the cent);
- adjustment lines (late usage of an earlier month) are corrections of a previously billed period:
  ChargeClass ``Correction``, their charge period is the day they correct;
- the tenant is the sub account (SubAccountType ``Tenant``; unattributed idle under the
  ``separate`` policy is the sub account ``(idle)`` of type ``Unattributed Idle``), the deployment
  the resource (``Inference Deployment``);
- GPU lines price ``GPU-Hours``; token lines price ``1000000 Tokens`` and are consumed in
  ``Tokens``; SkuId names the GPU model (and MIG profile) or the model and token kind, SkuPriceId
  adds the unit price;
- the ledger's own dimensions ride in ``x_`` columns after the FOCUS columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from infermeter.chargeback import conventions as cb
from infermeter.chargeback import queries as q
from infermeter.chargeback.focus_spec import COLUMNS, FOCUS_VERSION
from infermeter.chargeback.reports.fmt import dec, money
from infermeter.chargeback.reports.model import MonthlyReport


@dataclass(frozen=True)
class FocusOptions:
    """Who bills: the platform team running the shared fleet."""

    provider_name: str = "infermeter GPU platform"
    publisher_name: str = "infermeter GPU platform"
    invoice_issuer_name: str = "infermeter GPU platform"
    billing_account_id: str = "infermeter"
    billing_account_name: str = "Shared GPU inference fleet"
    billing_account_type: str = "Platform"
    service_category: str = "AI and Machine Learning"
    service_subcategory: str = "Generative AI"


FOCUS_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName",
    "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
    "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceId", "SubAccountId", "SubAccountName",
    "SubAccountType", "Tags",
)  # fmt: skip
EXTRA_COLUMNS = (
    "x_Tenant", "x_Deployment", "x_Model", "x_Resource", "x_Method", "x_GpuModel", "x_MigProfile",
    "x_Requests", "x_InputTokens", "x_CachedInputTokens", "x_OutputTokens", "x_RunId", "x_RunVersion",
    "x_AdjustsRunId", "x_Issue", "x_FocusVersion",
)  # fmt: skip
HEADER = FOCUS_COLUMNS + EXTRA_COLUMNS
assert all(c in COLUMNS for c in FOCUS_COLUMNS)

_TOKEN_METERS = {cb.INPUT_TOKENS: "Input Tokens", cb.CACHED_INPUT_TOKENS: "Cached Input Tokens", cb.OUTPUT_TOKENS: "Output Tokens"}
_PRODUCT_PLACES = Decimal("1e-12")


def _ts(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}T00:00:00Z"


def _is_gpu(line: q.LedgerLine) -> bool:
    return line.resource in q.GPU_RESOURCES


def _pricing_unit(line: q.LedgerLine) -> tuple[str, str, Decimal]:
    """(PricingUnit, ConsumedUnit, consumed quantity) of a line."""
    if _is_gpu(line):
        return "GPU-Hours", "GPU-Hours", line.quantity
    unit = line.unit.strip().lower().replace(" ", "")
    if line.unit == cb.UNIT_1M_TOKENS or unit in ("1mtokens", "1000000tokens"):
        return "1000000 Tokens", "Tokens", line.quantity * q.PER_MILLION
    if unit in ("1ktokens", "1000tokens"):
        return "1000 Tokens", "Tokens", line.quantity * 1000
    if unit in ("token", "tokens"):
        return "Tokens", "Tokens", line.quantity
    return line.unit, line.unit, line.quantity


def _sku(line: q.LedgerLine) -> tuple[str, str]:
    if _is_gpu(line):
        gpu = line.gpu_model or "unknown-gpu"
        return f"gpu-hour/{gpu}" + (f"/{line.mig_profile}" if line.mig_profile else ""), "GPU Time"
    return f"tokens/{line.model or 'unknown-model'}/{line.resource}", _TOKEN_METERS.get(line.resource, line.resource)


def _description(line: q.LedgerLine, currency: str, pricing_unit: str) -> str:
    where = f"deployment {line.deployment}" if line.deployment else "no deployment"
    if _is_gpu(line):
        what = "idle GPU time" if line.resource == cb.GPU_IDLE else "GPU time"
        gpu = line.gpu_model + (f" {line.mig_profile}" if line.mig_profile else "")
        text = f"{what} on {gpu or 'unknown GPU'}, {where}, model {line.model or '(none)'}"
    else:
        text = f"{_TOKEN_METERS.get(line.resource, line.resource)} of model {line.model or '(none)'}, {where}"
    text += f" ({line.method}) at {dec(line.unit_price)} {currency} per {line.unit or pricing_unit}"
    if line.method == cb.METHOD_ADJUSTMENT and line.adjusts_run_id:
        text += f"; corrects run {line.adjusts_run_id}"
    return text


def focus_rows(report: MonthlyReport, options: FocusOptions = FocusOptions()) -> list[dict[str, str]]:
    """The report's ledger lines as FOCUS rows (text cells; '' is null)."""
    rows = []
    for line in report.lines:
        currency = line.currency or report.currency
        pricing_unit, consumed_unit, consumed = _pricing_unit(line)
        sku_id, meter = _sku(line)
        product = (line.unit_price * line.quantity).quantize(_PRODUCT_PLACES, rounding=ROUND_HALF_EVEN)
        idle_tenant = line.tenant == cb.IDLE_TENANT
        row = {
            "BilledCost": money(line.cost),
            "BillingAccountId": options.billing_account_id,
            "BillingAccountName": options.billing_account_name,
            "BillingAccountType": options.billing_account_type,
            "BillingCurrency": currency,
            "BillingPeriodEnd": _ts(report.period.end),
            "BillingPeriodStart": _ts(report.period.start),
            "ChargeCategory": "Usage",
            "ChargeClass": "Correction" if line.method == cb.METHOD_ADJUSTMENT else "",
            "ChargeDescription": _description(line, currency, pricing_unit),
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": _ts(line.period_end),
            "ChargePeriodStart": _ts(line.period_start),
            "ConsumedQuantity": dec(consumed),
            "ConsumedUnit": consumed_unit,
            "ContractedCost": dec(product),
            "ContractedUnitPrice": dec(line.unit_price),
            "EffectiveCost": money(line.cost),
            "InvoiceIssuerName": options.invoice_issuer_name,
            "ListCost": dec(product),
            "ListUnitPrice": dec(line.unit_price),
            "PricingCategory": "Standard",
            "PricingQuantity": dec(line.quantity),
            "PricingUnit": pricing_unit,
            "ProviderName": options.provider_name,
            "PublisherName": options.publisher_name,
            "ResourceId": f"deployment/{line.deployment}" if line.deployment else "",
            "ResourceName": line.deployment,
            "ResourceType": "Inference Deployment" if line.deployment else "",
            "ServiceCategory": options.service_category,
            "ServiceName": "GPU Inference" if _is_gpu(line) else "Model API",
            "ServiceSubcategory": options.service_subcategory,
            "SkuId": sku_id,
            "SkuMeter": meter,
            "SkuPriceId": f"{sku_id}@{dec(line.unit_price)}",
            "SubAccountId": line.tenant,
            "SubAccountName": line.tenant,
            "SubAccountType": "Unattributed Idle" if idle_tenant else "Tenant",
            "x_Tenant": line.tenant,
            "x_Deployment": line.deployment,
            "x_Model": line.model,
            "x_Resource": line.resource,
            "x_Method": line.method,
            "x_GpuModel": line.gpu_model,
            "x_MigProfile": line.mig_profile,
            "x_Requests": str(line.tokens.requests),
            "x_InputTokens": str(line.tokens.input),
            "x_CachedInputTokens": str(line.tokens.cached_input),
            "x_OutputTokens": str(line.tokens.output),
            "x_RunId": report.run.run_id,
            "x_RunVersion": str(report.run.version),
            "x_AdjustsRunId": line.adjusts_run_id,
            "x_Issue": line.issue,
            "x_FocusVersion": FOCUS_VERSION,
        }
        rows.append({col: row.get(col, "") for col in HEADER})
    return rows


def render_focus(report: MonthlyReport, options: FocusOptions = FocusOptions()) -> bytes:
    """FOCUS 1.2 CSV: UTF-8, a header row, FOCUS columns (alphabetical) then x_ columns; empty = null."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(HEADER), lineterminator="\n")
    w.writeheader()
    w.writerows(focus_rows(report, options))
    return buf.getvalue().encode("utf-8")

