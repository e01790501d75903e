"""Hand-made requests to Dash's callback endpoint, as a browser (or an attacker) would send them."""

from __future__ import annotations

from typing import Any

import requests

from tests.portal.seed import MONTH

# callback key -> (an output id that names it, default input values by "id.property")
CALLBACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "route": ("page", {"url.pathname": "/"}),
    "overview": ("ov-kpis", {"ov-month.value": MONTH}),
    "tenants": ("tn-breakdown", {"tn-month.value": MONTH, "tn-tenants.value": None, "tn-dim.value": "model"}),
    "tenant_detail": ("td-kpis", {"td-month.value": MONTH, "td-tenant.data": "acme"}),
    "slos": ("slo-attainment", {"slo-month.value": MONTH, "slo-tenant.value": None}),
    "reports": ("rp-csv", {"rp-month.value": MONTH, "rp-tenant.value": None}),
    "budgets": ("bg-chart", {"bg-month.value": MONTH}),
}


def dependencies(base_url: str, session: requests.Session) -> list[dict[str, Any]]:
    resp = session.get(base_url + "_dash-dependencies")
    resp.raise_for_status()
    return resp.json()


def _outputs(output: str) -> list[dict[str, str]]:
    """``..a.b...c.d..`` (several outputs) or ``a.b`` into Dash's outputs list."""
    if output.startswith(".."):
        parts = [p for p in output.strip(".").split("...") if p]
    else:
        parts = [output]
    out = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        out.append({"id": ident, "property": prop})
    return out


def body_for(dep: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    outputs = _outputs(dep["output"])
    inputs = [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]]
    return {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]],
        "state": [],
    }


def find(deps: list[dict[str, Any]], output_id: str) -> dict[str, Any]:
    for dep in deps:
        if any(o["id"] == output_id for o in _outputs(dep["output"])):
            return dep
    raise KeyError(output_id)


def call(base_url: str, session: requests.Session, deps, key: str, values: dict[str, Any] | None = None) -> requests.Response:
    """POST the callback ``key`` with its default inputs, some replaced (``{"td-tenant.data": "x"}``)."""
    output_id, defaults = CALLBACKS[key]
    body = body_for(find(deps, output_id), {**defaults, **(values or {})})
    return session.post(base_url + "_dash-update-component", json=body)
