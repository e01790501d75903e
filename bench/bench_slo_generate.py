"""Benchmark: generate Prometheus rules for 1,000 SLOs.

Prints the seconds for the whole ``slo generate`` path (read + validate + generate + render to
YAML text) and each stage, and the ratio against a baseline measured in the same process:
``yaml.dump`` (libyaml's C emitter, CSafeDumper) of the very same rule dictionaries, which is
what the renderer used before the dedicated rule-file emitter (``slo/yaml_emit.py``, the same
bytes); the libyaml render path is timed too.

Usage: .venv/bin/python bench/bench_slo_generate.py [--slos 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from infermeter.slo.generate import GenerateOptions, generate_group
from infermeter.slo.loader import load_path
from benchlib import emit
from infermeter.slo import render
from infermeter.slo.render import render_rules, rule_groups_dict
from infermeter.slo.service import Settings, generate_file, info_for, load_options

SLO_TEMPLATE = """\
  - name: slo-{i}
    objective: 99.{d}
    description: "Benchmark SLO {i}."
    labels:
      team: team-{t}
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{{job="svc-{i}",code=~"(5..|429)"}}[{{{{.window}}}}]))
        total_query: sum(rate(http_request_duration_seconds_count{{job="svc-{i}"}}[{{{{.window}}}}]))
    alerting:
      name: Svc{i}HighErrorRate
      labels:
        category: availability
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"""


def spec_text(count: int) -> str:
    body = "".join(SLO_TEMPLATE.format(i=i, d=i % 10, t=i % 7) for i in range(count))
    return f'version: "prometheus/v1"\nservice: "bench"\nlabels:\n  owner: bench\nslos:\n{body}'


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    settings = Settings()
    options = load_options(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(spec_text(args.slos), encoding="utf-8")

        total = best_of(args.repeat, lambda: generate_file(path, settings, options))
        text, _ = generate_file(path, settings, options)

        doc = load_path(path, options)[0]
        assert doc.group is not None and doc.ok
        group = doc.group
        info = info_for(group, settings)
        results = generate_group(group, options.tables, info, GenerateOptions())
        rules = sum(len(g.rules) for r in results for g in r.groups())

        t_load = best_of(args.repeat, lambda: load_path(path, options))
        t_gen = best_of(args.repeat, lambda: generate_group(group, options.tables, info, GenerateOptions()))
        t_render = best_of(args.repeat, lambda: render_rules(results, settings.header))
        data = rule_groups_dict(results)
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        baseline = best_of(args.repeat, lambda: yaml.dump(data, Dumper=dumper, sort_keys=False, width=80))
        fast = render.dump(data)
        assert fast == render.libyaml_dump(data), "the rule-file emitter and libyaml disagree"
        t_libyaml = best_of(args.repeat, lambda: render.libyaml_dump(rule_groups_dict(results)))

    print(f"SLOs: {args.slos}, rules: {rules}, output: {len(text) / 1e6:.1f} MB, best of {args.repeat}")
    print(f"  load + validate : {t_load:.3f} s")
    print(f"  generate (pure) : {t_gen:.3f} s")
    print(f"  render YAML     : {t_render:.3f} s (with libyaml instead: {t_libyaml:.3f} s; same bytes)")
    print(f"baseline: yaml.dump({dumper.__name__}) of the same rule dicts: {baseline:.3f} s")
    print(f"slo generate, 1 file of {args.slos} SLOs: {total:.3f} s = {total / baseline:.2f}x the baseline")
    emit(f"slo generate, {args.slos} SLOs ({rules:,} rules)", f"{total:.2f} s",
         f"yaml.dump of the same rules {baseline:.2f} s", baseline / total, "well under 1 s")


if __name__ == "__main__":
    main()
