"""Monthly reports: CSV/JSON totals to the cent, a tenant report holds that tenant only, HTML with
inline plotly charts, PDF printed by headless Chromium and checked page by page as images, and
the `infermeter chargeback report|efficiency` commands with their exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from infermeter.chargeback import reports
from infermeter.chargeback.queries import NoChargebackData, slo_by_tenant
from tests.chargeback import test_report_seed as seed
from tests.support import REPO, require_binary, run_cli

D = Decimal
FIXED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
OTHERS_THAN_ACME = ("globex", "mystery", "(idle)", "initech", "gpt-4o", "gpt-api")


@pytest.fixture
def seeded(store):
    seed.seed_ledger(store)
    seed.seed_telemetry(store)
    return store


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_csv_lines_add_up_to_the_cent(seeded):
    report = reports.build_report(seeded, seed.MONTH, generated_at=FIXED)
    rows = _csv_rows(reports.render(report, "csv"))
    assert sum(D(r["cost"]) for r in rows) == seed.FLEET_TOTAL == report.total_cost
    by_tenant: dict[str, Decimal] = {}
    for r in rows:
        by_tenant[r["tenant"]] = by_tenant.get(r["tenant"], D(0)) + D(r["cost"])
    assert by_tenant == seed.TOTAL
    assert {r["run_id"] for r in rows} == {seed.RUN} and {r["run_version"] for r in rows} == {"2"}
    assert all(r["cost"].count(".") == 1 and len(r["cost"].split(".")[1]) == 2 for r in rows)
    price_change = [r for r in rows if r["deployment"] == "acme-dedicated" and r["resource"] == "gpu"]
    assert [(r["unit_price"], r["quantity"], r["cost"]) for r in price_change] == [("1.2", "20", "24.00"), ("1.5", "10", "15.00")]


def test_json_report(seeded):
    report = reports.build_report(seeded, seed.MONTH, budgets={"acme": D("150.00")}, generated_at=FIXED)
    data = json.loads(reports.render(report, "json"))
    assert data["month"] == seed.MONTH
    assert data["run"]["run_id"] == seed.RUN and data["run"]["version"] == 2
    assert data["generated_at"] == "2026-01-02T03:04:05.000Z"
    assert data["total_cost"] == "100.55"
    assert data["fleet"]["cost"] == "100.55" and data["fleet"]["tenants"] == 3
    acme = next(t for t in data["tenants"] if t["tenant"] == "acme")
    assert (acme["cost"], acme["idle_share"], acme["cost_per_1m_tokens"]) == ("79.30", "0.1141", "268.3587")
    assert (acme["budget"], acme["budget_used"]) == ("150.00", "0.5287")
    assert acme["tokens"] == {**seed.ACME_TOKENS, "total": 295500}
    assert acme["slo"] == "n/a"
    assert [d["cost"] for d in data["daily"][:3]] == ["74.05", "11.00", "0"]
    assert len(data["daily"]) == len(reports.build_report(seeded, seed.MONTH).period.days())
    assert [m["model"] for m in data["models"]] == ["llama-70b", "mistral-7b", "gpt-4o"]
    assert data["issues"][0]["issue"] == "unknown-tenant"
    assert {e["deployment"] for e in data["efficiency"]} == {"llama-shared", "acme-dedicated", "gpt-api"}


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "focus"])
def test_tenant_report_holds_only_that_tenant(seeded, fmt):
    report = reports.build_report(seeded, seed.MONTH, "acme", daily_lines=(fmt == "focus"))
    assert report.fleet is None and report.efficiency == ()
    assert [s.tenant for s in report.tenants] == ["acme"]
    assert report.total_cost == seed.TOTAL["acme"]
    text = reports.render(report, fmt).decode("utf-8")
    if fmt == "html":  # plotly.js itself is inline; look at the report's own markup and data
        text = text.split("</script></head>", 1)[1]
    for other in OTHERS_THAN_ACME:
        assert other not in text, f"{fmt} report for acme mentions {other!r}"
    if fmt == "csv":
        rows = _csv_rows(text.encode())
        assert {r["tenant"] for r in rows} == {"acme"}
        assert sum(D(r["cost"]) for r in rows) == seed.TOTAL["acme"]
    if fmt == "json":
        data = json.loads(text)
        assert data["fleet"] is None and data["total_cost"] == "79.30"
        assert sum(D(d["cost"]) for d in data["daily"]) + D(data["tenants"][0]["adjustment_cost"]) == seed.TOTAL["acme"]


SLO_SPEC = """\
version: infermeter/v1
service: gw
slos:
  - {name: availability, objective: 99, template: gateway-availability, group_by: [tenant], alerting: {name: A}}
"""


def test_slo_attainment_from_the_slo_reports(seeded, tmp_path):
    import pyarrow as pa

    from infermeter.ingest import schemas

    t = dt.datetime.combine(seed.MONTH_START, dt.time(12), tzinfo=dt.timezone.utc)
    events = [
        {"event_id": f"e{i}", "ts": (t + dt.timedelta(minutes=i)).replace(tzinfo=None), "tenant": tenant,
         "api_key_id": "", "model": "llama-70b", "deployment": "llama-shared", "instance": "i", "input_tokens": 1,
         "cached_input_tokens": 0, "output_tokens": 1, "ttft_ms": 50.0, "duration_ms": 100.0, "status_code": code,
         "error_type": "", "attributes": [], "source": "test"}
        for i, (tenant, code) in enumerate([("acme", 200)] * 3 + [("acme", 503), ("globex", 200)])
    ]  # fmt: skip
    seeded.insert_arrow("usage", pa.Table.from_pylist(events, schema=schemas.USAGE))
    spec = tmp_path / "slo.yaml"
    spec.write_text(SLO_SPEC)
    by_tenant = slo_by_tenant(seeded, seed.MONTH, spec)
    assert by_tenant is not None
    (acme,) = by_tenant["acme"]
    assert (acme.slo, acme.objective, acme.attainment, acme.met) == ("gw/availability", 99.0, 0.75, False)
    assert by_tenant["globex"][0].met is True
    report = reports.build_report(seeded, seed.MONTH, "acme", slo_specs=spec)
    assert report.tenants[0].slo == (acme,)
    assert "gw/availability: 75.0% (objective 99%)" in reports.render(report, "html").decode()
    data = json.loads(reports.render(report, "json"))
    assert data["tenants"][0]["slo"][0]["attainment"] == 0.75
    # a broken spec never breaks the bill: the column reads n/a
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: infermeter/v1\nservice: [\n")
    report = reports.build_report(seeded, seed.MONTH, "acme", slo_specs=bad)
    assert report.tenants[0].slo is None and report.total_cost == seed.TOTAL["acme"]


def test_unknown_tenant_and_month_without_data(seeded):
    with pytest.raises(reports.NoTenantData, match=r"tenant 'nobody' has no chargeback lines in .*tenants with lines: \(idle\), acme"):
        reports.build_report(seeded, seed.MONTH, "nobody")
    with pytest.raises(NoChargebackData, match="no complete chargeback run for 2019-01"):
        reports.build_report(seeded, "2019-01")


def test_html_is_self_contained_with_charts(seeded):
    html = reports.render(reports.build_report(seeded, seed.MONTH), "html").decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script src" not in html and "cdn.plot.ly" not in html.split("</script></head>", 1)[1]
    assert "plotly.js" in html.split("</script></head>", 1)[0][:2000].lower()  # the bundle is inline
    body = html.split("</script></head>", 1)[1]
    for div in ("chart-daily", "chart-models", "chart-tenants"):
        assert f'id="{div}"' in body and body.count(f'"{div}"') >= 2  # the div and its Plotly.newPlot call
    assert "Daily trend" in body and "Cost by model" in body
    assert "100.55 USD" in body and "GPU efficiency by deployment" in body
    assert "unknown-tenant" in body  # lines that need a look


def test_html_escapes_names(store):
    seed.add_run(store, "x", 1, "complete", dt.datetime(2019, 2, 1, tzinfo=dt.timezone.utc), dt.date(2019, 1, 1),
                 dt.date(2019, 2, 1), finished=dt.datetime(2019, 2, 1, 1, tzinfo=dt.timezone.utc))  # fmt: skip
    line = ("<img src=x onerror=alert(1)>",) + seed.LINES[0][2:]
    store.insert_arrow("ledger", seed.ledger_table("x", [seed.LINES[0][:1] + line], dt.date(2019, 1, 1)))
    html = reports.render(reports.build_report(store, "2019-01"), "html").decode("utf-8")
    body = html.split("</script></head>", 1)[1]
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def _pages_as_images(pdf: bytes) -> list:
    import pymupdf

    doc = pymupdf.open(stream=pdf, filetype="pdf")
    return [page.get_pixmap(dpi=40) for page in doc], doc


def _ink(pix) -> float:
    """Share of pixels that are not (near) white."""
    samples, n = pix.samples, pix.n
    total = pix.width * pix.height
    dark = sum(1 for i in range(0, len(samples), n * 3) if min(samples[i : i + 3]) < 235)
    return dark / (total / 3)


def _has_colour(pix, rgb: tuple[int, int, int], tol: int = 40) -> bool:
    samples, n = pix.samples, pix.n
    for i in range(0, len(samples), n):
        if all(abs(samples[i + k] - rgb[k]) <= tol for k in range(3)):
            return True
    return False


@pytest.mark.system
def test_pdf_pages_render(seeded, tmp_path):
    require_binary("chromium", "chromium")
    report = reports.build_report(seeded, seed.MONTH, "acme")
    pdf = reports.render(report, "pdf")
    assert pdf.startswith(b"%PDF-")
    pixmaps, doc = _pages_as_images(pdf)
    assert len(pixmaps) >= 2
    for number, pix in enumerate(pixmaps, start=1):
        (tmp_path / f"page{number}.png").write_bytes(pix.tobytes("png"))  # kept as test artifacts
        assert _ink(pix) > 0.005, f"page {number} is blank"
    # the charts were drawn before printing: the daily bars (blue) and the model bars (purple)
    assert any(_has_colour(p, (0x09, 0x69, 0xDA)) for p in pixmaps), "no daily-trend bars in the PDF"
    assert any(_has_colour(p, (0x82, 0x50, 0xDF)) for p in pixmaps), "no model bars in the PDF"
    text = "".join(page.get_text() for page in doc)
    assert "79.30" in text and "tenant acme" in text
    for other in ("globex", "mystery", "initech"):
        assert other not in text


# --- the engine, then the report ------------------------------------------------------------------

PRICES = """\
version: test-1
currency: USD
periods:
  - effective_from: 2020-01-01
    gpu_hour: {H100-80GB: 4.00}
    tokens:
      gpt-4o: {input: 2.50, cached_input: 1.25, output: 10.00}
"""
TENANCY = """\
idle_policy: separate
tenants:
  alpha: {monthly_budget: 10.00}
  beta: {}
deployments:
  shared-llm: {mode: shared, owner: alpha, model: llama}
  api: {billing: tokens}
"""


def test_engine_run_then_report(store, tmp_path):
    """`chargeback run`'s engine writes the ledger; the report shows that run, to the cent."""
    import pyarrow as pa

    from infermeter.chargeback.focus_spec import validate_csv
    from infermeter.chargeback.prices import load_prices
    from infermeter.chargeback.runs import run_month
    from infermeter.chargeback.tenancy import load_tenancy
    from infermeter.ingest import schemas

    t0 = dt.datetime.combine(seed.MONTH_START, dt.time(8), tzinfo=dt.timezone.utc)
    heartbeats = [
        {"ts": (t0 + dt.timedelta(minutes=m)).replace(tzinfo=None), "interval_s": 60.0, "deployment": "shared-llm",
         "instance": "pod-0", "gpu_uuid": "GPU-1", "gpu_model": "H100-80GB", "mig_profile": "", "fraction": 1.0,
         "source": "test"}
        for m in range(60)
    ]  # fmt: skip
    store.insert_arrow("gpu_allocation", pa.Table.from_pylist(heartbeats, schema=schemas.GPU_ALLOCATION))

    def event(i: int, tenant: str, deployment: str, model: str, inp: int, cached: int, out: int, minute: int) -> dict:
        return {"event_id": f"ev-{i}", "ts": (t0 + dt.timedelta(minutes=minute, seconds=5)).replace(tzinfo=None),
                "tenant": tenant, "api_key_id": "", "model": model, "deployment": deployment, "instance": "pod-0",
                "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out, "ttft_ms": 40.0,
                "duration_ms": 900.0, "status_code": 200, "error_type": "", "attributes": [], "source": "test"}  # fmt: skip

    events = [event(i, "alpha" if i % 3 else "beta", "shared-llm", "llama", 1000, 100, 300, i) for i in range(40)]
    events += [event(100 + i, "alpha", "api", "gpt-4o", 20000, 5000, 4000, i) for i in range(10)]
    store.insert_arrow("usage", pa.Table.from_pylist(events, schema=schemas.USAGE))
    (tmp_path / "prices.yaml").write_text(PRICES)
    (tmp_path / "tenancy.yaml").write_text(TENANCY)
    tenancy = load_tenancy(tmp_path / "tenancy.yaml")
    result = run_month(store, seed.MONTH, load_prices(tmp_path / "prices.yaml"), tenancy)

    report = reports.build_report(store, seed.MONTH, budgets=tenancy.budgets())
    assert report.run.run_id == result.run_id and report.run.version == result.version == 1
    assert report.total_cost == result.total
    # one GPU-hour at 4.00, plus gpt-4o: 150k uncached input x 2.50 + 50k cached x 1.25 + 40k output x 10
    # per 1M = 0.375 + 0.0625 + 0.40 = 0.8375, billed 0.84
    assert result.total == D("4.84")
    gpu = sum((line.cost for line in report.lines if line.deployment == "shared-llm"), D(0))
    assert gpu == D("4.00")
    assert sum((s.gpu_hours for s in report.tenants), D(0)) == D("1")  # held = attributed + idle
    api = sum((line.cost for line in report.lines if line.deployment == "api"), D(0))
    assert api == D("0.84")
    alpha = next(s for s in report.tenants if s.tenant == "alpha")
    assert alpha.budget == D("10.00") and alpha.budget_used == (alpha.cost / D("10")).quantize(D("0.0001"))
    assert alpha.tokens.input == 26 * 1000 + 10 * 20000 and alpha.tokens.cached_input == 26 * 100 + 10 * 5000
    assert {s.tenant for s in report.tenants} <= {"alpha", "beta", "(idle)"}
    assert sum(D(r["cost"]) for r in _csv_rows(reports.render(report, "csv"))) == result.total
    focus = reports.render(reports.build_report(store, seed.MONTH, daily_lines=True), "focus")
    assert validate_csv(focus).ok
    (eff,) = [e for e in report.efficiency if e.deployment == "shared-llm"]
    assert eff.held_gpu_seconds == 3600 and eff.gpu_cost == D("4.00")
    # a second run supersedes the first: the report follows it
    second = run_month(store, seed.MONTH, load_prices(tmp_path / "prices.yaml"), tenancy)
    again = reports.build_report(store, seed.MONTH)
    assert (again.run.run_id, again.run.version) == (second.run_id, 2) and again.total_cost == result.total


# --- the command line (a subprocess on a store of its own) ----------------------------------------


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory) -> str:
    url = f"chdb://{tmp_path_factory.mktemp('cli-chdb')}"
    code = f"from tests.chargeback.test_report_seed import seed_path; seed_path({url!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return url


def test_cli_report_formats(cli_store, tmp_path):
    out = tmp_path / "acme.csv"
    r = run_cli("chargeback", "report", "--month", seed.MONTH, "--tenant", "acme", "--format", "csv", "-o", str(out),
                "--store", cli_store, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = _csv_rows(out.read_bytes())
    assert sum(D(x["cost"]) for x in rows) == seed.TOTAL["acme"] and {x["tenant"] for x in rows} == {"acme"}
    r = run_cli("chargeback", "report", "--month", seed.MONTH, "--format", "focus", "--store", cli_store, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from infermeter.chargeback.focus_spec import validate_csv

    assert validate_csv(r.stdout).ok
    r = run_cli("chargeback", "report", "--month", seed.MONTH, "--format", "html", "--store", cli_store, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / f"chargeback-{seed.MONTH}.html").stat().st_size > 100_000


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (bad input fails before any store is opened)."""
    from infermeter.cli.app import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return exit_.value.code or 0, out.out, out.err


def test_cli_report_exit_codes(cli_store, tmp_path, capsys):
    no_run = run_cli("chargeback", "report", "--month", "2019-01", "--store", cli_store, cwd=tmp_path)
    assert no_run.returncode == 1
    assert "no complete chargeback run for 2019-01" in no_run.stderr and "Traceback" not in no_run.stderr
    nobody = run_cli("chargeback", "report", "--month", seed.MONTH, "--tenant", "nobody", "--store", cli_store)
    assert nobody.returncode == 1 and "tenant 'nobody' has no chargeback lines" in nobody.stderr
    code, _, err = _main(capsys, "chargeback", "report", "--month", "2025-13", "--store", cli_store)
    assert code == 2 and "YYYY-MM" in err
    code, _, err = _main(capsys, "chargeback", "report", "--month", seed.MONTH, "--format", "xlsx", "--store", cli_store)
    assert code == 2 and "--format" in err
    code, _, err = _main(capsys, "chargeback", "report", "--month", seed.MONTH, "--tenancy", str(tmp_path / "no.yaml"),
                         "--store", cli_store)  # fmt: skip
    assert code == 2 and "no.yaml" in err
    code, _, err = _main(capsys, "chargeback", "efficiency", "--month", seed.MONTH, "--format", "xml")
    assert code == 2 and "--format" in err
    for cmd in ("report", "efficiency"):
        code, out, _ = _main(capsys, "chargeback", cmd, "--help")
        assert code == 0 and "Exit codes" in out


def test_cli_efficiency(cli_store):
    r = run_cli("chargeback", "efficiency", "--month", seed.MONTH, "--format", "json", "--store", cli_store)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    shared = next(d for d in data["deployments"] if d["deployment"] == "llama-shared")
    assert shared["held_gpu_seconds"] == 7200 and shared["idle_cost"] == "29.75"
    table = run_cli("chargeback", "efficiency", "--month", seed.MONTH, "--store", cli_store)
    assert table.returncode == 0 and "llama-shared" in table.stdout
    empty = run_cli("chargeback", "efficiency", "--month", "2019-01", "--store", cli_store)
    assert empty.returncode == 1 and "no GPU allocation heartbeats" in empty.stderr
