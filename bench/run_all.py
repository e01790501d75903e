"""Run every benchmark in ``bench/`` and write ``bench/RESULTS.md`` (``make bench``).

Each ``bench_*.py`` runs in its own process (one chdb path per process) with the arguments in
``ARGS``; its summary lines (see ``bench/benchlib.py``) become the table, its full output the
details. ``--only NAME`` runs a subset; ``--quick`` passes each benchmark's small-size flags.
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
    rows, details, failed = [], [], []
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
        if proc.returncode:
            failed.append(script.name)
        for line in proc.stdout.splitlines():
            if line.startswith(PREFIX):
                rows.append((script.name, json.loads(line[len(PREFIX):])))
        detail = "\n".join(l for l in out.splitlines() if not l.startswith(PREFIX))
        details.append(f"### {script.name} ({took:.0f} s{', FAILED' if proc.returncode else ''})\n\n```\n{detail.strip()}\n```\n")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python bench/run_all.py{' --quick' if args.quick else ''}`) on "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine()}.",
        "",
        "Every figure is a ratio against a baseline run in the same process.",
        "",
        "| benchmark | metric | figure | baseline | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for script, r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']}x"
        lines.append(f"| {script} | {r['metric']} | {r['figure']} | {r['baseline']} | {ratio} | {r['goal']} |")
    lines += ["", "## Details", "", *details]
    if failed:
        lines.insert(2, f"**Failed:** {', '.join(failed)}\n")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
