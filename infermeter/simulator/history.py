"""History for a simulated fleet as store rows: usage events, allocation heartbeats, metric pages.

Pure: these functions turn (fleet, time range) into Arrow tables and pages; the caller writes them
(the demo's backfill through ingest's Writer, the same path the sidecar uses). Usage rows carry
the simulator's stable event ids, so a backfill that is run twice counts every request once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from infermeter.ingest import schemas
from infermeter.simulator.fleet import FleetSpec
from infermeter.simulator.targets import FleetTargets
from infermeter.simulator.traffic import Requests, requests_between

SOURCE = "simulator"

_ERROR_TYPE = {500: "InternalServerError", 503: "ServiceUnavailable", 429: "RateLimitError"}


def usage_table(fleet: FleetSpec, req: Requests) -> pa.Table:
    """``usage`` rows for requests (API key ids are per tenant; never a key)."""
    n = len(req)
    tenants = np.array([t.name for t in fleet.tenants], dtype=object)
    models = np.array([d.model for d in fleet.deployments], dtype=object)
    deps = np.array([d.name for d in fleet.deployments], dtype=object)
    inst_names = np.array([i.name for i in fleet.instances] + [""], dtype=object)
    status = req.status.astype(np.uint16)
    error = np.array([_ERROR_TYPE.get(int(s), "") for s in status.tolist()], dtype=object)
    columns = {
        "event_id": req.event_ids(fleet.seed),
        "ts": pa.array((req.ts * 1000).astype(np.int64), pa.timestamp("ms")),
        "tenant": tenants[req.tenant],
        "api_key_id": np.char.add("key-", tenants[req.tenant].astype(str)).astype(object),
        "model": models[req.deployment],
        "deployment": deps[req.deployment],
        "instance": inst_names[req.instance],
        "input_tokens": req.input_tokens.astype(np.uint64),
        "cached_input_tokens": req.cached_tokens.astype(np.uint64),
        "output_tokens": req.output_tokens.astype(np.uint64),
        "ttft_ms": np.round(req.ttft_s * 1000, 3),
        "duration_ms": np.round(req.duration_s * 1000, 3),
        "status_code": status,
        "error_type": error,
        "attributes": pa.array([[] for _ in range(n)], schemas.USAGE.field("attributes").type),
        "source": np.full(n, SOURCE, dtype=object),
    }
    return pa.table({k: pa.array(v, schemas.USAGE.field(k).type) if not isinstance(v, pa.Array) else v
                     for k, v in columns.items()}, schema=schemas.USAGE)


def allocation_table(fleet: FleetSpec, start: float, end: float, interval_s: int = 60) -> pa.Table:
    """One heartbeat per GPU held per interval tick in [start, end)."""
    first = int(np.ceil(start / interval_s)) * interval_s
    ticks = np.arange(first, end, interval_s, dtype=np.int64)
    rows: dict[str, list] = {name: [] for name in schemas.GPU_ALLOCATION.names}
    for inst in fleet.instances:
        for gpu in inst.gpus:
            k = len(ticks)
            rows["ts"].append(ticks * 1000)
            rows["interval_s"].append(np.full(k, float(interval_s)))
            for col, value in (("deployment", inst.deployment.name), ("instance", inst.name), ("gpu_uuid", gpu.uuid),
                               ("gpu_model", gpu.spec.model), ("mig_profile", gpu.spec.mig_profile or ""),
                               ("source", SOURCE)):
                rows[col].append(np.full(k, value, dtype=object))
            rows["fraction"].append(np.full(k, gpu.spec.fraction))
    if not rows["ts"]:
        return schemas.GPU_ALLOCATION.empty_table()
    return pa.table({name: pa.array(np.concatenate(rows[name]), schemas.GPU_ALLOCATION.field(name).type)
                     for name in schemas.GPU_ALLOCATION.names}, schema=schemas.GPU_ALLOCATION)


def pages(fleet: FleetSpec, start: float, end: float, step_s: int) -> Iterator[tuple[float, list[tuple[str, str, bytes]]]]:
    """Every target's page at each step tick in (start, end]: ``(ts, [(kind, target, page)])``.

    Counters start at ``start`` (as a process started then would); each page reflects the
    requests of its step, so sums of counter increases over any range match the usage rows.
    """
    targets = FleetTargets.build(fleet)
    t = start
    while t + step_s <= end:
        window = requests_between(fleet, t, t + step_s)
        t += step_s
        targets.observe(window, float(step_s), t)
        yield t, [(tg.kind, tg.name, tg.render()) for tg in targets.all()]


def days(start: float, end: float, chunk_s: int = 86400) -> Iterator[tuple[float, float]]:
    """[start, end) cut into chunks (for progress bars and bounded memory)."""
    t = start
    while t < end:
        yield t, min(end, t + chunk_s)
        t += chunk_s
