#!/usr/bin/env python3
"""Run infermeter's NVML collector against the real driver and print what it collected.

For a GPU machine (the tests use a double of pynvml; this checks the real thing):

    .venv/bin/python scripts/nvml_check.py [--interval 2] [--json] [--time-slice-replicas N]

It initialises NVML, collects twice ``--interval`` seconds apart through the same path the
sidecar uses (collector -> edge -> rows), and prints: the driver, each GPU (index, UUID, model,
MIG mode and instances), every sample of the second collection with its delta (the energy
counter's delta is the energy of the interval, so the average power over it is shown too), the
rows the sidecar would write, the allocation heartbeats ``allocation.from_nvml`` would send, and
the NVML calls that failed.

Exit codes: 0 collected from at least one GPU without errors; 1 NVML answered but with no GPUs
or with failing calls; 3 NVML is unavailable (no driver or no nvidia-ml-py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from infermeter.exporters import conventions as c
from infermeter.exporters.allocation import AllocationTracker
from infermeter.exporters.config import AllocationConfig
from infermeter.exporters.edge import EdgeState
from infermeter.exporters.nvml import NvmlCollector, nvml_family


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between the two collections")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--time-slice-replicas", type=int, default=1, help="for the allocation preview")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    collector = NvmlCollector()
    if not collector.start():
        print(f"NVML unavailable: {collector.reason}", file=sys.stderr)
        return 3
    try:
        edge = EdgeState(c.NVML_SOURCE, c.NVML_SOURCE, (("target", c.NVML_SOURCE),))
        t0 = time.time()
        first = collector.collect()
        edge.process(first.samples, nvml_family, int(t0 * 1000))
        time.sleep(args.interval)
        t1 = time.time()
        second = collector.collect()
        batch = edge.process(second.samples, nvml_family, int(t1 * 1000))
    finally:
        collector.close()
    elapsed = t1 - t0
    rows = batch.samples.to_pydict()
    delta_of = dict(zip(rows["series_id"], rows["delta"]))
    samples = []
    for name, labels, value, _ in second.samples:
        sid = edge.series_id_of(name, labels)
        samples.append({"name": name, "labels": dict(labels), "value": value, "delta": delta_of.get(sid)})
    tracker = AllocationTracker(
        AllocationConfig(enabled=True, deployment="nvml-check", time_slice_replicas=args.time_slice_replicas),
        start_ms=int(t0 * 1000),
    )
    tracker.observe_nvml(second.gpus)
    heartbeats = tracker.beat(int(t1 * 1000))
    gpus = [
        {
            "index": g.index,
            "uuid": g.uuid,
            "model": g.model,
            "mig_enabled": g.mig_enabled,
            "mig": [
                {"uuid": m.uuid, "profile": m.profile, "slices": m.slices, "of": m.max_slices, "gpu_instance": m.gpu_instance}
                for m in g.mig
            ],
        }
        for g in second.gpus
    ]
    errors = first.errors + second.errors
    report = {
        "driver": collector.driver,
        "gpus": gpus,
        "samples": samples,
        "sample_rows": batch.samples.num_rows,
        "series_rows_first_collection": len(first.samples),
        "heartbeats": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in hb.items()} for hb in heartbeats],
        "errors": errors,
        "interval_s": round(elapsed, 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    if not gpus or errors:
        return 1
    return 0


def print_text(report: dict) -> None:
    print(f"driver {report['driver'] or 'unknown'}; {len(report['gpus'])} GPU(s); interval {report['interval_s']} s")
    for g in report["gpus"]:
        mig = f", MIG on: {len(g['mig'])} instance(s)" if g["mig_enabled"] else ""
        print(f"  GPU {g['index']}: {g['model']} {g['uuid']}{mig}")
        for m in g["mig"]:
            print(f"    {m['uuid']} {m['profile']} ({m['slices']}/{m['of']} slices, GPU instance {m['gpu_instance']})")
    print("samples (second collection):")
    for s in report["samples"]:
        labels = ",".join(f"{k}={v}" for k, v in s["labels"].items() if k not in ("model", "uuid"))
        extra = ""
        if s["name"] == c.GPU_ENERGY and s["delta"] is not None:
            extra = f"   delta {s['delta']:.3f} J = {s['delta'] / report['interval_s']:.1f} W average"
        print(f"  {s['name']}{{{labels}}} {s['value']:g}{extra}")
    print(f"sample rows written per collection: {report['sample_rows']}")
    print("allocation heartbeats (allocation.from_nvml):")
    for hb in report["heartbeats"]:
        print(
            f"  {hb['gpu_uuid']} {hb['gpu_model']} fraction {hb['fraction']:.4g} "
            f"{hb['mig_profile'] or 'whole GPU'} for {hb['interval_s']:.3f} s"
        )
    print(f"NVML calls that failed: {report['errors']}")


if __name__ == "__main__":
    sys.exit(main())
