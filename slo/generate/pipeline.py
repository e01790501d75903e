"""One SLO -> its rule groups; one SLO group -> every SLO's rules. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from infermeter.slo import conventions as c
from infermeter.slo.generate.alerts import Annotate, alert_rules
from infermeter.slo.generate.calendar import calendar_rules
from infermeter.slo.generate.common import merge
from infermeter.slo.generate.metadata import metadata_rules
from infermeter.slo.generate.sli import events_rule, period_rule, window_rule
from infermeter.slo.model import SLO, EventsSLI, GeneratorInfo, PeriodKind, RuleGroup, SLOGroup, SLORules
from infermeter.slo.windows import WindowTable


@dataclass(frozen=True)
class GenerateOptions:
    extra_labels: dict[str, str] = field(default_factory=dict)
    disable_recordings: bool = False
    disable_alerts: bool = False
    annotate: Annotate | None = None  # extra alert annotations (infermeter.alerts.context)


def generate_slo(slo: SLO, table: WindowTable, info: GeneratorInfo, annotate: Annotate | None = None) -> SLORules:
    """Every rule of one SLO, grouped as Sloth groups them."""
    windows = table.alert_windows_ms()
    short = table.page_quick.short_ms
    sli = [window_rule(slo, w) for w in windows]
    if slo.period_kind is PeriodKind.CALENDAR_MONTH:
        sli.extend(calendar_rules(slo, table.page_quick.long_ms))
    else:
        sli.append(period_rule(slo, slo.period_ms, short))
    if slo.min_events is not None and isinstance(slo.sli, EventsSLI):
        sli.extend(events_rule(slo, w) for w in windows)
    return SLORules(
        slo=slo,
        sli=RuleGroup(c.GROUP_SLI_PREFIX + slo.id, tuple(sli)),
        meta=RuleGroup(c.GROUP_META_PREFIX + slo.id, metadata_rules(slo, info, short)),
        alerts=RuleGroup(c.GROUP_ALERTS_PREFIX + slo.id, alert_rules(slo, table, annotate)),
    )


def generate_group(
    group: SLOGroup, tables: dict[int, WindowTable], info: GeneratorInfo, options: GenerateOptions
) -> tuple[SLORules, ...]:
    """The rules of every SLO in a (validated) group; extra labels join each SLO's labels."""
    out = []
    for slo in group.slos:
        if options.extra_labels:
            slo = replace(slo, labels=merge(slo.labels, options.extra_labels))
        rules = generate_slo(slo, tables[slo.period_ms], info, options.annotate)
        if options.disable_recordings:
            rules = SLORules(slo, RuleGroup(rules.sli.name, ()), RuleGroup(rules.meta.name, ()), rules.alerts)
        if options.disable_alerts:
            rules = SLORules(slo, rules.sli, rules.meta, RuleGroup(rules.alerts.name, ()))
        out.append(rules)
    return tuple(out)

