"""Portal benchmark: p95 latency of every page and callback over a month of data for 1,000 tenants.

    python bench/bench_portal.py                  # 5 million usage events, 20 requests per endpoint
    python bench/bench_portal.py --events 1M -n 10

The data is generated INSIDE chdb (INSERT ... SELECT FROM numbers()) for the last complete month:
a complete chargeback run whose ledger has, per day, 1,000 tenants on three of 50 deployments
(busy and idle GPU lines) plus a token-priced API for one tenant in five (~190k lines); usage
events for the SLO reports (1 % server errors, a few tenants much worse); Prometheus ``ALERTS``
series for 100 tenants; SLO specs with a per-tenant and a fleet availability SLO.

The portal runs as it does in production: a real server on loopback, bearer-token auth, every
request answered from ClickHouse (the result cache is off, ``cache_ttl_s: 0``). Each page (the
router callback) and each data callback is requested ``-n`` times as an admin (all tenants) and
as a viewer (one tenant); printed: p50 and p95 per endpoint. Baseline, in the same process: the
cost explorer's aggregations done in pandas on the month's ledger lines fetched from the same
store (what a portal without the query layer's in-database aggregation would do), against the
explorer's callback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from benchlib import emit  # noqa: E402

DB = "bench_portal"
N_TENANTS = 1000
N_DEPLOYMENTS = 50
ADMIN = "bench-admin-token-000000001"
VIEWER = "bench-viewer-token-00000002"
VIEWER_TENANT = "tenant-0001"

SLO_SPEC = """version: infermeter/v1
service: llm-gateway
period: calendar-month
slos:
  - name: tenant-availability
    objective: 99
    template: gateway-availability
    group_by: [tenant]
    alerting: {name: TenantAvailability}
  - name: fleet-availability
    objective: 99.5
    template: gateway-availability
    alerting: {name: FleetAvailability}
"""


def parse_count(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    mult = {"K": 10**3, "M": 10**6}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "KM" else text) * mult)


def last_month() -> tuple[str, dt.date, int]:
    this = dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    first = (this - dt.timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}", first, (this - first).days


def generate(st, events: int) -> dict:
    month, first, days = last_month()
    run_id = f"bench-{month}-v1"
    t0 = time.perf_counter()
    tenant = "concat('tenant-', leftPad(toString(t), 4, '0'))"
    dep = f"(t * 7 + k * 13) % {N_DEPLOYMENTS}"
    st.command(
        f"""INSERT INTO ledger (run_id, billing_period, period_start, period_end, tenant, deployment, model, resource,
            gpu_model, mig_profile, quantity, unit, unit_price, cost, currency, method, requests, input_tokens,
            cached_input_tokens, output_tokens, issue, adjusts_run_id)
        SELECT {{run:String}}, {{first:Date}}, day, day + 1, {tenant},
               concat('dep-', leftPad(toString({dep}), 2, '0')), concat('model-', toString({dep} % 12)),
               if(r = 0, 'gpu', 'gpu_idle'), 'H100-80GB', '',
               toDecimal128(hours, 9), 'GPU-hour', toDecimal128(4, 12), toDecimal128(hours * 4, 2), 'USD',
               if(r = 0, 'shared', 'idle-proportional'),
               if(r = 0, toUInt64(w * 40), 0), if(r = 0, toUInt64(w * 30000), 0), if(r = 0, toUInt64(w * 5000), 0),
               if(r = 0, toUInt64(w * 9000), 0), '', ''
        FROM (
            SELECT intDiv(number, 6) % {N_TENANTS} AS t, intDiv(number, 6 * {N_TENANTS}) AS dn,
                   number % 3 AS k, intDiv(number % 6, 3) AS r,
                   toDate({{first:Date}}) + toIntervalDay(dn) AS day,
                   (1 + (t * t) % 97) / 10. AS w,
                   round(if(r = 0, w, w / 10), 6) AS hours
            FROM numbers({6 * N_TENANTS * days}))""",
        {"run": run_id, "first": first},
    )
    st.command(
        f"""INSERT INTO ledger (run_id, billing_period, period_start, period_end, tenant, deployment, model, resource,
            gpu_model, mig_profile, quantity, unit, unit_price, cost, currency, method, requests, input_tokens,
            cached_input_tokens, output_tokens, issue, adjusts_run_id)
        SELECT {{run:String}}, {{first:Date}}, day, day + 1, {tenant}, 'api-ext', 'gpt-4o-mini', 'input_tokens', '', '',
               toDecimal128(mtok, 9), '1M tokens', toDecimal128(0.15, 12), toDecimal128(mtok * 0.15, 2), 'USD',
               'list-price', 100, toUInt64(mtok * 1e6), 0, toUInt64(mtok * 2e5), '', ''
        FROM (SELECT (number % 200) * 5 AS t, intDiv(number, 200) AS dn, toDate({{first:Date}}) + toIntervalDay(dn) AS day,
                     round(1 + t % 13, 6) AS mtok
              FROM numbers({200 * days}))""",
        {"run": run_id, "first": first},
    )
    started = dt.datetime.combine(first, dt.time(), dt.timezone.utc) + dt.timedelta(days=days, hours=2)
    st.command(
        """INSERT INTO chargeback_runs (run_id, period_start, period_end, version, status, started_at, finished_at,
            usage_watermark, notes)
        VALUES ({run:String}, {first:Date}, {end:Date}, 1, 'complete', {s:DateTime64(3, 'UTC')},
                {f:DateTime64(3, 'UTC')}, {w:DateTime64(3, 'UTC')}, 'bench')""",
        {"run": run_id, "first": first, "end": first + dt.timedelta(days=days), "s": started,
         "f": started + dt.timedelta(minutes=5), "w": started - dt.timedelta(hours=2)},
    )
    t1 = time.perf_counter()
    seconds = days * 86400
    st.command(
        f"""INSERT INTO usage (event_id, ts, tenant, api_key_id, model, deployment, instance, input_tokens,
            cached_input_tokens, output_tokens, ttft_ms, duration_ms, status_code, error_type, attributes, source)
        SELECT toString(number), toDateTime64({{start:DateTime64(3, 'UTC')}}, 3, 'UTC') + toIntervalMillisecond(intDiv(number * {seconds * 1000}, {events})),
               {tenant}, 'key', concat('model-', toString(t % 12)), concat('dep-', leftPad(toString(t % 50), 2, '0')), 'i-0',
               600, 100, 200, 120., 900.,
               if(cityHash64(number) % 100 < if(t % 97 = 0, 5, 1), 503, 200), '', map(), 'bench'
        FROM (SELECT number, toUInt32(floor(pow((cityHash64(number, 1) % 1000000) / 1000000., 2) * {N_TENANTS})) AS t
              FROM numbers({events}))""",
        {"start": dt.datetime.combine(first, dt.time(), dt.timezone.utc)},
    )
    t2 = time.perf_counter()
    # Prometheus ALERTS as scraped into the store: 100 tenants, each firing 45 minutes one day.
    st.command(
        """INSERT INTO series (series_id, metric, labels, source, target, first_seen, last_seen)
        SELECT 700000 + number, 'ALERTS',
               map('alertname', 'TenantAvailability', 'alertstate', 'firing', 'severity', 'page',
                   'sloth_slo', 'tenant-availability', 'tenant', concat('tenant-', leftPad(toString(number * 10), 4, '0'))),
               'generic', 'prometheus', now64(3), now64(3)
        FROM numbers(100)"""
    )
    st.command(
        f"""INSERT INTO samples (series_id, ts, value, delta)
        SELECT 700000 + intDiv(number, 45), toDateTime64({{start:DateTime64(3, 'UTC')}}, 3, 'UTC')
               + toIntervalDay(intDiv(number, 45) % {days}) + toIntervalHour(9) + toIntervalMinute(number % 45), 1., 0.
        FROM numbers(4500)""",
        {"start": dt.datetime.combine(first, dt.time(), dt.timezone.utc)},
    )
    lines = st.query_scalar("SELECT count() FROM ledger")
    return {"month": month, "ledger_lines": lines, "usage": events, "ledger_s": t1 - t0, "usage_s": t2 - t1}


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="5M", help="usage events in the month (default 5M)")
    ap.add_argument("-n", type=int, default=20, help="requests per endpoint and role (default 20)")
    args = ap.parse_args()
    events = parse_count(args.events)

    import requests

    from infermeter.config import load_settings
    from infermeter.dashboards.portal.server import PortalServer
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url
    from tests.portal import dashreq  # the hand-made callback requests the access tests use

    tmp = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    st = open_store_url(f"chdb://{tmp / 'chdb'}", DB)
    migrate(st, RenderOptions(database=DB))
    info = generate(st, events)
    month = info["month"]
    print(f"data: {info['ledger_lines']:,} ledger lines for {N_TENANTS} tenants in {month} "
          f"({info['ledger_s']:.1f} s), {events:,} usage events ({info['usage_s']:.1f} s)")
    specs = tmp / "slo.yaml"
    specs.write_text(SLO_SPEC)
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    endpoints: list[tuple[str, str, dict]] = []
    for path in ("/", "/tenants", f"/tenants/{VIEWER_TENANT}", "/slos", "/reports", "/budgets"):
        endpoints.append((f"page {path}", "route", {"url.pathname": path}))
    month_inputs = {k: month for k in ("ov-month.value", "tn-month.value", "td-month.value", "slo-month.value",
                                       "rp-month.value", "bg-month.value")}
    for key in ("overview", "tenants", "tenant_detail", "slos", "reports", "budgets"):
        endpoints.append((f"callback {key}", key, {**month_inputs, "td-tenant.data": VIEWER_TENANT}))

    def measure(slo_cache_s: float) -> dict[tuple[str, str], list[float]]:
        settings = load_settings(
            None,
            store={"url": f"chdb://{tmp / 'chdb'}", "database": DB},
            data_dir=str(tmp / "data"),
            portal={"port": 0, "cache_ttl_s": 0, "slo_cache_ttl_s": slo_cache_s, "slo_specs": str(specs),
                    "auth": {"tokens": [{"name": "admin", "sha256": sha(ADMIN), "admin": True},
                                        {"name": "viewer", "sha256": sha(VIEWER), "tenants": [VIEWER_TENANT]}]}},
        )
        server = PortalServer(settings, st)
        if slo_cache_s:
            t = time.perf_counter()
            server.data.warm()  # what the background refresher does when the portal starts
            print(f"background refresh of {month}'s SLO reports (all tenants): {time.perf_counter() - t:.2f} s")
        server.start(warm=False)
        results: dict[tuple[str, str], list[float]] = {}
        try:
            for role, token in (("admin", ADMIN), ("viewer", VIEWER)):
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {token}"
                deps = dashreq.dependencies(server.url, session)
                for name, key, values in endpoints:
                    times = []
                    for i in range(args.n + 1):
                        t = time.perf_counter()
                        resp = dashreq.call(server.url, session, deps, key, values)
                        elapsed = time.perf_counter() - t
                        if resp.status_code != 200:
                            raise SystemExit(f"{role} {name}: HTTP {resp.status_code}: {resp.text[:300]}")
                        if i:  # the first request warms Python-side imports
                            times.append(elapsed)
                    results[(role, name)] = times
        finally:
            server.stop()
        return results

    try:
        cold = measure(0)
        warm = measure(300)
        # Baseline: the explorer's aggregations in pandas over the month's ledger lines.
        from infermeter.chargeback import queries as q

        run = q.run_info(st, month)
        base = []
        for _ in range(max(3, args.n // 4)):
            t = time.perf_counter()
            df = st.query_df(
                "SELECT tenant, deployment, model, resource, period_start, quantity, cost, input_tokens, "
                "cached_input_tokens, output_tokens FROM ledger WHERE run_id = {run:String}", {"run": run.run_id})
            df["cost"] = df["cost"].astype(float)
            df["quantity"] = df["quantity"].astype(float)
            by_tenant = df.groupby("tenant")[["cost", "quantity"]].sum().sort_values("cost", ascending=False)
            top = by_tenant.index[:15]
            df[df["tenant"].isin(top)].groupby(["tenant", "model"])["cost"].sum()
            df[df["tenant"].isin(top[:10])].groupby(["period_start", "tenant"])["cost"].sum()
            df.groupby("model")[["input_tokens", "cached_input_tokens", "output_tokens"]].sum()
            base.append(time.perf_counter() - t)
    finally:
        st.close()

    print(f"\nno caches (every request computed from ClickHouse) | SLO reports kept warm by the background refresh")
    print(f"{'endpoint':34} {'role':7} {'p50 ms':>8} {'p95 ms':>8} | {'p50 ms':>8} {'p95 ms':>8}")
    worst_cold, worst_warm = (0.0, ""), (0.0, "")
    for key, times in cold.items():
        role, name = key
        c50, c95 = p(times, 0.5) * 1000, p(times, 0.95) * 1000
        w50, w95 = p(warm[key], 0.5) * 1000, p(warm[key], 0.95) * 1000
        print(f"{name:34} {role:7} {c50:8.1f} {c95:8.1f} | {w50:8.1f} {w95:8.1f}")
        worst_cold = max(worst_cold, (c95, f"{name} ({role})"))
        worst_warm = max(worst_warm, (w95, f"{name} ({role})"))
    explorer = p(cold[("admin", "callback tenants")], 0.95)
    baseline = p(base, 0.95)
    print(f"\nslowest p95 without caches: {worst_cold[0]:.0f} ms, {worst_cold[1]}")
    print(f"slowest p95 with the SLO reports warm: {worst_warm[0]:.0f} ms, {worst_warm[1]} (goal: < 1000 ms)")
    print(f"cost explorer callback (admin, over HTTP, 3 charts + table): p95 {explorer * 1000:.0f} ms; "
          f"pandas on the month's {info['ledger_lines']:,} ledger lines, same aggregations: p95 {baseline * 1000:.0f} ms "
          f"-> {baseline / explorer:.1f}x")
    emit("portal: slowest page/callback p95 (SLO reports warm)", f"{worst_warm[0]:.0f} ms ({worst_warm[1]})",
         "goal 1000 ms", 1000 / worst_warm[0], "< 1 s p95")
    emit("portal: slowest page/callback p95 (no caches)", f"{worst_cold[0]:.0f} ms ({worst_cold[1]})",
         "goal 1000 ms", 1000 / worst_cold[0], "")
    emit("portal: cost explorer callback p95 vs pandas", f"{explorer * 1000:.0f} ms",
         f"pandas {baseline * 1000:.0f} ms", baseline / explorer, "")


if __name__ == "__main__":
    main()
