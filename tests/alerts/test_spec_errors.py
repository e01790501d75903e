"""Bad routing specs: each a one-line error (exit 2) naming the file and the field."""

from __future__ import annotations

import pytest

from infermeter.alerts.spec import load_spec
from infermeter.errors import ConfigError
from tests.support import run_cli

BASE = """
default_receiver: catchall
receivers: [{name: catchall, webhook: {url: 'http://127.0.0.1:9/'}}]
"""

CASES = {
    "unknown receiver in a route": (
        BASE + "routes: [{match: {service: x}, receiver: nobody}]\n",
        "field routes[0].receiver: unknown receiver 'nobody' (known: catchall)",
    ),
    "unknown team page receiver": (
        BASE + "teams: [{name: a, page: ghost, receivers: [{name: a-hook, webhook: {url: 'http://h/'}}]}]\n",
        "field teams[0].page: unknown receiver 'ghost'",
    ),
    "unknown default receiver": (
        "default_receiver: nope\nreceivers: [{name: r, webhook: {url: 'http://h/'}}]\n",
        "field default_receiver: unknown receiver 'nope' (known: r)",
    ),
    "team without receivers": (
        BASE + "teams: [{name: lonely, services: [svc]}]\n",
        "field teams[0].receivers: team 'lonely' has no receivers",
    ),
    "duplicate team names": (
        BASE
        + "teams:\n  - {name: a, receivers: [{name: r1, webhook: {url: 'http://h/'}}]}\n"
        + "  - {name: a, receivers: [{name: r2, webhook: {url: 'http://h/'}}]}\n",
        "field teams[1].name: duplicate team name 'a' (also teams[0])",
    ),
    "duplicate receiver names": (
        BASE + "teams: [{name: a, receivers: [{name: catchall, webhook: {url: 'http://h/'}}]}]\n",
        "field teams[0].receivers[0].name: duplicate receiver name 'catchall' (also receivers[0])",
    ),
    "time of day out of range": (
        BASE + "time_intervals: {office: [{times: [{start_time: '09:00', end_time: '25:00'}]}]}\n",
        "field time_intervals.office[0].times[0]: '25:00' is not a time of day",
    ),
    "time range backwards": (
        BASE + "time_intervals: {office: [{times: [{start_time: '18:00', end_time: '09:00'}]}]}\n",
        "field time_intervals.office[0].times[0]: start_time 18:00 must be before end_time 09:00",
    ),
    "unknown weekday": (
        BASE + "time_intervals: {office: [{weekdays: ['monday:fryday']}]}\n",
        "field time_intervals.office[0].weekdays: 'fryday' is not a weekday",
    ),
    "weekday range backwards": (
        BASE + "time_intervals: {office: [{weekdays: ['friday:monday']}]}\n",
        "field time_intervals.office[0].weekdays: weekday range 'friday:monday': start is after end",
    ),
    "day of month zero": (
        BASE + "time_intervals: {office: [{days_of_month: ['0:5']}]}\n",
        "field time_intervals.office[0].days_of_month: day of month 0 is out of range",
    ),
    "unknown time zone": (
        BASE + "time_intervals: {office: [{location: Mars/Olympus}]}\n",
        "field time_intervals.office[0].location: 'Mars/Olympus' is not a known time zone",
    ),
    "unknown time interval referenced": (
        BASE + "teams: [{name: a, ticket_time_intervals: [office], receivers: [{name: r, webhook: {url: 'http://h/'}}]}]\n",
        "field teams[0].ticket_time_intervals[0]: unknown time interval 'office' (defined: none)",
    ),
    "bad duration": (
        BASE + "timing: {page: {repeat_interval: 1hour}}\n",
        "field timing.page.repeat_interval: not a valid duration string: '1hour'",
    ),
    "unknown key": (
        BASE + "teams: [{name: a, recievers: []}]\n",
        "field teams[0].recievers: Extra inputs are not permitted",
    ),
    "unknown match key": (
        BASE + "routes: [{match: {servce: x}, receiver: catchall}]\n",
        "field routes[0].match: unknown match key 'servce'",
    ),
    "receiver without integration": (
        "default_receiver: r\nreceivers: [{name: r}]\n",
        "field receivers[0]: receiver 'r' has no integration",
    ),
    "two sources for one secret": (
        "default_receiver: r\nreceivers: [{name: r, pagerduty: {routing_key_file: /k, routing_key_env: K}}]\n",
        "field receivers[0].pagerduty[0]: give only one of routing_key_file or routing_key_env",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_names_the_field(write, case: str) -> None:
    text, expected = CASES[case]
    path = write(text)
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_cli_bad_spec_exits_2_with_one_line(write) -> None:
    path = write(CASES["unknown receiver in a route"][0])
    proc = run_cli("alerts", "generate", "-c", str(path))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "routes[0].receiver: unknown receiver 'nobody'" in lines[0]
    assert proc.stdout == ""


def test_missing_spec_file_exits_2(tmp_path) -> None:
    proc = run_cli("alerts", "generate", "-c", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2 and "absent.yaml: no such file" in proc.stderr


def test_invalid_yaml_names_the_file(write) -> None:
    path = write("teams: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_spec(path)
