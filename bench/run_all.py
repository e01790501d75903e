"""Run every benchmark in ``bench/`` and write ``bench/RESULTS.md`` (``make bench``).

Each ``bench_*.py`` runs in its own process (one chdb path per process) with the arguments in
``ARGS``; its summary lines (see ``bench/benchlib.py``) become the table, its full output the
details. ``--only NAME`` runs a subset and keeps the others' last results (``bench/RESULTS.json``
holds them); ``--quick`` passes each benchmark's small-size flags.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchlib import PREFIX

HERE = Path(__file__).resolve().parent
# Small sizes for --quick (a smoke run); the full sizes are each script's defaults.
QUICK = {
    "bench_chargeback.py": ["--events", "2000000"],
    "bench_writer.py": ["--rows", "200000"],
    "bench_gateway.py": ["--events", "20000", "--naive-events", "10000"],
    "bench_portal.py": ["--events", "500K", "-n", "5"],
    "bench_slo_report.py": ["--days", "3"],
}


# Benchmarks that accept ``--keep DIR`` (their generated data is reused when present).
KEEPS = {"bench_chargeback.py"}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], help="Run only benchmarks whose file name contains this.")
    ap.add_argument("--quick", action="store_true", help="Small sizes (smoke run); figures are not comparable.")
    ap.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument(
        "--keep", type=Path, default=None,
        help="Keep generated data here and reuse it next time (benchmarks that generate big stores: chargeback).",
    )
    args = ap.parse_args()
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not args.only or any(o in p.name for o in args.only))
    store = args.output.with_suffix(".json")
    # With --only, the other benchmarks' last results are kept (same mode only); a full run starts afresh.
    results: dict = {}
    if args.only and store.exists():
        saved = json.loads(store.read_text(encoding="utf-8"))
        if saved.get("quick") == args.quick:
            results = saved.get("benchmarks", {})
    for script in scripts:
        extra = QUICK.get(script.name, []) if args.quick else []
        if args.keep is not None and script.name in KEEPS:
            extra = [*extra, "--keep", str(args.keep / script.stem)]
        print(f"== {script.name} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True, cwd=HERE.parent)
        took = time.perf_counter() - t0
        out = proc.stdout + (f"\n[stderr]\n{proc.stderr[-3000:]}" if proc.returncode else "")
        print(out, flush=True)
        results[script.name] = {
            "rows": [json.loads(line[len(PREFIX):]) for line in proc.stdout.splitlines() if line.startswith(PREFIX)],
            "detail": "\n".join(l for l in out.splitlines() if not l.startswith(PREFIX)).strip(),
            "took_s": round(took, 1),
            "failed": proc.returncode != 0,
            "when": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
            "machine": machine(),
        }
    store.write_text(json.dumps({"quick": args.quick, "benchmarks": results}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    args.output.write_text(render(results, args.quick), encoding="utf-8")
    print(f"wrote {args.output}")
    return 1 if any(results[s.name]["failed"] for s in scripts) else 0


def render(results: dict, quick: bool) -> str:
    """RESULTS.md from every benchmark's last result."""
    names = sorted(results)
    machines = sorted({results[n]["machine"] for n in names})
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python bench/run_all.py{' --quick' if quick else ''}`); each benchmark's run time is in "
        "its details.",
        f"Machine: {'; '.join(machines)}.",
        "",
        "Every figure is a ratio against a baseline run in the same process.",
        "",
        "| benchmark | metric | figure | baseline | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        for r in results[name]["rows"]:
            ratio = "" if r["ratio"] is None else f"{r['ratio']}x"
            lines.append(f"| {name} | {r['metric']} | {r['figure']} | {r['baseline']} | {ratio} | {r['goal']} |")
    lines += ["", "## Details", ""]
    for name in names:
        res = results[name]
        state = ", FAILED" if res["failed"] else ""
        lines.append(f"### {name} ({res['took_s']:.0f} s, {res['when']}{state})\n\n```\n{res['detail']}\n```\n")
    failed = [n for n in names if results[n]["failed"]]
    if failed:
        lines.insert(2, f"**Failed:** {', '.join(failed)}\n")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
