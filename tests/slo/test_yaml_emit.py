"""The dedicated rule-file emitter writes exactly what libyaml writes (or declines)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from infermeter.slo.generate import GenerateOptions, generate_group
from infermeter.slo.loader import load_path
from infermeter.slo.model import SourceKind
from infermeter.slo.render import libyaml_dump, prometheus_rule_dict, rule_groups_dict
from infermeter.slo.service import Settings, info_for, load_options
from infermeter.slo.templates import TEMPLATES
from infermeter.slo.yaml_emit import fast_dump

from .test_golden import CASES, settings_for


def _documents(path, settings: Settings):
    options = load_options(settings)
    for doc in load_path(path, options):
        assert doc.ok, doc.issues
        group = doc.group
        results = generate_group(group, options.tables, info_for(group, settings),
                                 GenerateOptions(settings.extra_labels))
        if group.kind is SourceKind.K8S_V1:
            yield prometheus_rule_dict(group.k8s, results)
        else:
            yield rule_groups_dict(results)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sloth_goldens_take_the_fast_path(sloth_fixtures, name):
    case = sloth_fixtures / name
    for data in _documents(case / "in.yaml", settings_for(case, "v0.16.0")):
        fast = fast_dump(data)
        assert fast is not None
        assert fast == libyaml_dump(data)


def test_templates_take_the_fast_path(spec_file):
    body = "".join(
        f"  - name: t{i}\n    objective: 99\n    template: {name}\n    group_by: [tenant]\n    min_events: 10\n"
        f"    period: calendar-month\n    alerting:\n      name: A{i}\n"
        f"      annotations: {{summary: 'Tenant {{{{$labels.tenant}}}}: {name} burns its budget: see the runbook at "
        f"https://runbooks.example.com/slo/{name} and the dashboard'}}\n"
        for i, name in enumerate(TEMPLATES)
    )
    path = spec_file("version: infermeter/v1\nservice: svc\nlabels: {tier: '2', team: ml}\nslos:\n" + body)
    for data in _documents(path, Settings()):
        fast = fast_dump(data)
        assert fast is not None and fast == libyaml_dump(data)


SHAPES = [
    "plain", "", "2", "true", "on", "null", "~", "1.5", "0x1f", "#alerts", "a #b", "a#b", "key: value", "a:b",
    "- item", "-item", "? q", "?q", "'quoted'", "it's", '"dq"', "back\\slash", "{{$labels.x}}", "[x]", "a, b",
    "---", "...", " lead", "trail ", "x" * 85, "word " * 30, "a  b " * 25 + "z", "'" + "w " * 50 + "'",
    "line\nline", "line\nline\n", "\nlead", " lead\nx", "trail \nx", "x\n\n", "\n", "a\n\nb\n", "tab\tx", "caf\u00e9",
    "x" * 70 + " " + "y" * 20,
]


@pytest.mark.parametrize("value", SHAPES)
@pytest.mark.parametrize("key", ["k", "summary", "a_much_longer_label_name_for_columns"])
def test_scalar_shapes(key, value):
    for data in ({key: value}, {"groups": [{"name": "g", "rules": [{"alert": "A", "labels": {key: value}}]}]}):
        fast = fast_dump(data)
        if fast is not None:
            assert fast == libyaml_dump(data), (key, value)


_text = st.text(alphabet=st.sampled_from(list("ab :#-'\"\\{}[],?!|>%@&*\n\t.0123456789") + ["\u00e9"]), max_size=120)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), _text, min_size=1, max_size=4),
       st.integers(min_value=0, max_value=3))
@example({"summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."}, 2)
def test_generated_strings(labels, depth):
    data: dict = {"labels": labels}
    for _ in range(depth):
        data = {"groups": [{"name": "g", **data}]}
    fast = fast_dump(data)
    if fast is not None:
        assert fast == libyaml_dump(data)


def test_declines_what_it_cannot_write():
    assert fast_dump({"a": 1}) is None
    assert fast_dump({"a": {}}) is None
    assert fast_dump({"a": ["x"]}) is None
    assert fast_dump({"on": "x"}) is None  # a key that reads as a bool is quoted by libyaml
    assert fast_dump({"a": "caf\u00e9"}) is None
    assert fast_dump({"a": textwrap.dedent("x\n\n")}) is None
