"""Names the alerting area relies on: alert labels used for routing, annotation keys, the Grafana
SLO dashboard, and the tenant budget metric contract between chargeback and the alert rules.

Routing keys match the labels the SLO rules put on their alerts (Sloth's names, from
``infermeter.slo.conventions``), so a route on ``service`` matches ``sloth_service``.
"""

from __future__ import annotations

from typing import Final

from infermeter.slo import conventions as slo

# --- Alert labels that routes match on -------------------------------------------------------------
LABEL_SEVERITY: Final = slo.LABEL_SEVERITY  # "sloth_severity": page | ticket, on every infermeter alert
LABEL_SERVICE: Final = slo.LABEL_SERVICE  # "sloth_service"
LABEL_SLO: Final = slo.LABEL_SLO  # "sloth_slo"
LABEL_SLO_ID: Final = slo.LABEL_ID  # "sloth_id": one per SLO; the inhibition key
LABEL_TEAM: Final = "team"  # an SLO spec's `labels: {team: NAME}` routes to that team
LABEL_TENANT: Final = "tenant"  # per-tenant SLOs (group_by: [tenant]) and budget alerts
LABEL_ALERTNAME: Final = "alertname"

SEVERITY_PAGE: Final = slo.SEVERITY_PAGE
SEVERITY_TICKET: Final = slo.SEVERITY_TICKET
SEVERITIES: Final = (SEVERITY_PAGE, SEVERITY_TICKET)

# Friendly keys of a routing spec's `match:` -> alert label names.
MATCH_KEYS: Final = {
    "service": LABEL_SERVICE,
    "severity": LABEL_SEVERITY,
    "team": LABEL_TEAM,
    "tenant": LABEL_TENANT,
    "slo": LABEL_SLO,
    "alertname": LABEL_ALERTNAME,
}

# Default grouping: one notification per alert, SLO and tenant.
DEFAULT_GROUP_BY: Final = (LABEL_ALERTNAME, LABEL_SLO_ID, LABEL_TENANT)
# A firing page silences the ticket with the same values of these labels (missing = empty, equal).
DEFAULT_INHIBIT_EQUAL: Final = (LABEL_SLO_ID, LABEL_TENANT)

# --- Annotations on SLO alerts -------------------------------------------------------------------
ANNOTATION_SUMMARY: Final = "summary"
ANNOTATION_RUNBOOK: Final = "runbook_url"
ANNOTATION_DASHBOARD: Final = "dashboard_url"

# The generated Grafana SLO dashboard (dashboards area) and its template variables.
SLO_DASHBOARD_UID: Final = "infermeter-slos"
DASHBOARD_VAR_SERVICE: Final = "var-service"
DASHBOARD_VAR_SLO: Final = "var-slo"
DEFAULT_GRAFANA_URL: Final = "http://localhost:3000"

# Placeholders a --runbook-url may hold (replaced, URL-quoted, per SLO at generation time).
RUNBOOK_PLACEHOLDERS: Final = ("{service}", "{slo}", "{id}", "{severity}")

# --- Tenant budget: the metric contract ----------------------------------------------------------
# Exposed (gauges, current calendar month, UTC) by whoever holds the chargeback data — the owner
# process registers :class:`infermeter.alerts.budget.TenantBudgetCollector` with a spend source.
BUDGET_USED_RATIO: Final = "infermeter_tenant_budget_used_ratio"  # {tenant}: spent / budget
BUDGET_SPENT: Final = "infermeter_tenant_budget_spent"  # {tenant, currency}: month to date
BUDGET_AMOUNT: Final = "infermeter_tenant_budget_amount"  # {tenant, currency}: the month's budget
BUDGET_LABEL_CURRENCY: Final = "currency"
BUDGET_ALERT_NAME: Final = "TenantBudgetThreshold"
BUDGET_LABEL_THRESHOLD: Final = "budget_threshold"  # "0.8": which configured share was passed
BUDGET_RULE_GROUP: Final = "infermeter-tenant-budgets"

# --- Alertmanager ----------------------------------------------------------------------------------
ALERTMANAGER_BINARIES: Final = ("alertmanager", "prometheus-alertmanager")  # upstream, Debian name
ALERTS_API_PATH: Final = "/api/v2/alerts"
