"""Every refusal names the entry and the problem (statistics.md: "a bad configuration is refused at
start with a message that names the entry and the problem").

The cases are a table, one per line, so long lines are allowed here.
"""
# ruff: noqa: E501

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.stats.config import ConfigError, load_config, parse_config

HANDLED = {"Objects": ["Agent"], "Category": "TotalNumber", "MainMask": ["StoppedInbound"]}


def stat_type(**fields: object) -> dict:
    return {"stat_types": {"Handled": {**HANDLED, **fields}}}


def statistic(entry: dict, **extra: object) -> dict:
    return {"stat_types": {"Handled": HANDLED, "InRange": {**HANDLED, "Category": "TotalNumberInTimeRange"},
                           "Everywhere": {**HANDLED, "Objects": ["Agent", "Tenant"]}},
            "time_ranges": {"R": "0-30"}, "filters": {"F": 'KeyExists("VIP")'},
            "time_profiles": {"Session": "SinceLogin"}, "statistics": [entry], **extra}


CASES = [
    # top level and timezone
    ({"statisticz": []}, "statisticz: unknown key (did you mean 'statistics'?)"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ({"timezone": 3}, "timezone: expected an IANA time zone name"),
    # time profiles
    ({"time_profiles": {"P": "Growin,00:00"}}, "time_profiles.P: unknown profile type 'Growin' (did you mean 'Growing'?)"),
    ({"time_profiles": {"P": "Growing"}}, "time_profiles.P: Growing needs at least one reset time"),
    ({"time_profiles": {"P": "Growing,24:00"}}, "time_profiles.P: expected a time of day HH:MM"),
    ({"time_profiles": {"P": "Growing,8:60"}}, "time_profiles.P: expected a time of day HH:MM"),
    ({"time_profiles": {"P": "Growing,00:00+0:00"}}, "time_profiles.P: the step after '+' must be longer"),
    ({"time_profiles": {"P": "Sliding,3600,70"}}, "time_profiles.P: Sliding length 3600 s must be a multiple of the step 70 s"),
    ({"time_profiles": {"P": "Sliding,3600"}}, "time_profiles.P: Sliding takes a length and a step"),
    ({"time_profiles": {"P": "Sliding,0,60"}}, "time_profiles.P: the length must be a positive whole number"),
    ({"time_profiles": {"P": "Selection,0"}}, "time_profiles.P: the count must be a positive whole number"),
    ({"time_profiles": {"P": "SinceLogin,5"}}, "time_profiles.P: SinceLogin takes no arguments"),
    ({"time_profiles": {"P": 5}}, "time_profiles.P: expected a profile such as"),
    ({"time_profiles": {"P": {"profile": "Growing,00:00", "timezone": "Nowhere/Land"}}},
     "time_profiles.P.timezone: unknown time zone 'Nowhere/Land'"),
    ({"time_profiles": {"P": {"timezone": "UTC"}}}, "time_profiles.P: missing 'profile'"),
    ({"time_profiles": {"P": {"profile": "Growing,00:00", "tz": "UTC"}}}, "time_profiles.P.tz: unknown key"),
    # time ranges, filters
    ({"time_ranges": {"R": "30-0"}}, "time_ranges.R: the low bound 30 is above the high bound 0"),
    ({"time_ranges": {"R": "30"}}, "time_ranges.R: expected \"LOW-HIGH\" in seconds"),
    ({"time_ranges": {"R": "-5-30"}}, "time_ranges.R: expected \"LOW-HIGH\" in seconds"),
    ({"filters": {"F": 'PairExists("a" "b")'}}, "filters.F: expected ',' (PairExists takes 2 strings), found 'b' at column 16"),
    ({"filters": {"F": ["KeyExists"]}}, "filters.F: expected a filter expression string"),
    # stat types
    (stat_type(Category="TotalNumbr"), "stat_types.Handled.Category: unknown category 'TotalNumbr' (did you mean 'TotalNumber'?)"),
    ({"stat_types": {"Handled": {"Objects": ["Agent"]}}}, "stat_types.Handled: missing Category"),
    ({"stat_types": {"Handled": {"Category": "TotalNumber"}}}, "stat_types.Handled: missing Objects"),
    ({"stat_types": {"Handled": "TotalNumber"}}, "stat_types.Handled: expected a mapping"),
    ({"stat_types": {"Bad Name": HANDLED}}, "stat_types.Bad Name: a stat type name may use only letters"),
    (stat_type(Objects=["Agent", "StagingArea"]), "stat_types.Handled.Objects: unknown object type 'StagingArea' (Stat Server's StagingArea is 'Queue' here)"),
    (stat_type(Objects=["Agnet"]), "stat_types.Handled.Objects: unknown object type 'Agnet' (did you mean 'Agent'?)"),
    (stat_type(Objects=[]), "stat_types.Handled.Objects: needs at least one object type"),
    (stat_type(Subject="GroupStatus"), "stat_types.Handled.Subject: unknown subject 'GroupStatus'"),
    (stat_type(MainMask=["StopedInbound"]), "stat_types.Handled.MainMask: unknown action 'StopedInbound' (did you mean 'StoppedInbound'?)"),
    (stat_type(MainMask=["*", "~Nope"]), "stat_types.Handled.MainMask: unknown action 'Nope'"),
    (stat_type(MainMask=[]), "stat_types.Handled.MainMask: TotalNumber needs a MainMask that selects something"),
    (stat_type(MainMask=["~StoppedInbound"]), "stat_types.Handled.MainMask: TotalNumber needs a MainMask"),
    (stat_type(MainMask=["StoppedInbound", 3]), "stat_types.Handled.MainMask[1]: expected a non-empty string"),
    (stat_type(MainMask="StoppedInbound,,Rejected"), "stat_types.Handled.MainMask: empty item at position 2"),
    (stat_type(Subject="AgentStatus", MainMask=["StoppedInbound"]),
     "stat_types.Handled.MainMask: unknown status 'StoppedInbound' (subject AgentStatus masks list statuses)"),
    (stat_type(Category="RelativeNumberPercentage"), "stat_types.Handled.RelMask: RelativeNumberPercentage divides by the RelMask"),
    (stat_type(Category="AverageNumberPerRelativeHour", RelMask=["~Active"]), "stat_types.Handled.RelMask: AverageNumberPerRelativeHour divides"),
    (stat_type(RelMask=["Nope"]), "stat_types.Handled.RelMask: unknown action 'Nope'"),
    (stat_type(MediaType=[]), "stat_types.Handled.MediaType: empty list"),
    (stat_type(MediaType=5), "stat_types.Handled.MediaType: expected a list or a comma-separated string"),
    (stat_type(Mainmask=["*"]), "stat_types.Handled.Mainmask: unknown key (did you mean 'MainMask'?)"),
    (stat_type(Category="CurrentState", Objects=["Agent", "GroupAgents"]),
     "stat_types.Handled.Objects: CurrentState is defined for Agent and Place only, not GroupAgents"),
    (stat_type(Category="CurrentContinuousTime", MainMask=["Available"]),
     "stat_types.Handled.Subject: CurrentContinuousTime measures a status"),
    # statistics
    ({"statistics": {"stat_type": "Handled"}}, "statistics: expected a list of statistics"),
    (statistic({"stat_type": "Nope"}), "statistics[0] (Nope).stat_type: unknown stat type 'Nope'; known: Everywhere, Handled, InRange"),
    (statistic({"time_profile": "Default"}), "statistics[0]: missing stat_type"),
    (statistic({"stat_type": "Handled", "time_profile": "Defualt"}), "statistics[0] (Handled).time_profile: unknown time profile 'Defualt' (did you mean 'Default'?)"),
    (statistic({"stat_type": "Handled", "filter": "G"}), "statistics[0] (Handled).filter: unknown filter 'G'"),
    (statistic({"stat_type": "Handled", "filter": 'KeyExists("VIP")'}), "statistics[0] (Handled).filter: unknown filter 'KeyExists(\"VIP\")' (declare the expression under 'filters'"),
    (statistic({"stat_type": "Handled", "time_range": "R"}), "statistics[0] (Handled).time_range: only the *InTimeRange categories use a time range"),
    (statistic({"stat_type": "InRange"}), "statistics[0] (InRange): stat type InRange has category TotalNumberInTimeRange, which needs a time_range"),
    (statistic({"stat_type": "InRange", "time_range": "S"}), "statistics[0] (InRange).time_range: unknown time range 'S'; known: R"),
    (statistic({"stat_type": "Everywhere", "time_profile": "Session"}), "statistics[0] (Everywhere).time_profile: SinceLogin applies to Agent and Place objects only; stat type Everywhere also has Tenant"),
    (statistic({"stat_type": "Handled", "notification": {"mode": "Changed"}}), "statistics[0] (Handled).notification.mode: unknown mode 'Changed' (did you mean 'Changes'?)"),
    (statistic({"stat_type": "Handled", "notification": {"mode": "Time"}}), "statistics[0] (Handled).notification: mode Time needs a frequency"),
    (statistic({"stat_type": "Handled", "notification": {"mode": "Time", "frequency": 0}}), "statistics[0] (Handled).notification.frequency: expected a positive whole number of seconds"),
    (statistic({"stat_type": "Handled", "notification": {"mode": "Reset", "frequency": 5}}), "statistics[0] (Handled).notification.frequency: only mode Time uses frequency"),
    (statistic({"stat_type": "Handled", "notification": {"insensitivity": -1}}), "statistics[0] (Handled).notification.insensitivity: expected a number ≥ 0"),
    (statistic({"stat_type": "Handled", "notification": {"mode": "Time", "frequency": 5, "insensitivity": 2}}), "notification.insensitivity: only mode Changes uses insensitivity"),
    (statistic({"stat_type": "Handled", "notification": 7}), "statistics[0] (Handled).notification: expected a mapping"),
    (statistic({"stat_type": "Handled", "profile": "Default"}), "statistics[0] (Handled).profile: unknown key (did you mean 'time_profile'?)"),
    (statistic({"stat_type": "Handled", "name": "a/b"}), "statistics[0] (a/b).name: a statistic name may not contain '/'"),
    (statistic("Handled"), "statistics[0]: expected a mapping with stat_type"),
    # groups
    ({"groups": {"Agents": {}}}, "groups.Agents: unknown key (did you mean 'GroupAgents'?)"),
    ({"groups": {"GroupAgents": {"Sales": "a1"}}}, "groups.GroupAgents.Sales: expected a list of ids"),
    ({"groups": {"GroupPlaces": {"Floor": ["p1", None]}}}, "groups.GroupPlaces.Floor[1]: a name must be a non-empty string"),
    ({"groups": ["Sales"]}, "groups: expected a mapping"),
    # capacity
    ({"capacity": {"rules": {"R": {"max": {"chat": -1}}}}}, "capacity.rules.R.max.chat: expected a non-negative whole number, found -1"),
    ({"capacity": {"rules": {"R": {"max": {"chat": 1.5}}}}}, "capacity.rules.R.max.chat: expected a non-negative whole number"),
    ({"capacity": {"rules": {"R": {"max_total": True}}}}, "capacity.rules.R.max_total: expected a non-negative whole number"),
    ({"capacity": {"rules": {"R": {"maximum": {}}}}}, "capacity.rules.R.maximum: unknown key (did you mean 'max'?)"),
    ({"capacity": {"rules": {"R": {"block": [{"media": "email"}]}}}}, "capacity.rules.R.block[0]: a block needs 'media' and 'when'"),
    ({"capacity": {"rules": {"R": {"block": [{"media": "email", "when": {}}]}}}}, "capacity.rules.R.block[0].when: needs at least one media"),
    ({"capacity": {"rules": {"R": {"block": [{"media": "email", "when": {"chat": -2}}]}}}}, "capacity.rules.R.block[0].when.chat: expected a non-negative"),
    ({"capacity": {"rules": {"R": {"block": {"media": "email"}}}}}, "capacity.rules.R.block: expected a list"),
    ({"capacity": {"assign": {"agents": {"a1": "Nope"}}}}, "capacity.assign.agents.a1: unknown capacity rule 'Nope': none is declared"),
    ({"capacity": {"rules": {"Big": {}}, "assign": {"places": {"p1": "Bgi"}}}}, "capacity.assign.places.p1: unknown capacity rule 'Bgi' (did you mean 'Big'?); known: Big"),
    ({"capacity": {"assign": {"queues": {}}}}, "capacity.assign.queues: unknown key"),
]


@pytest.mark.parametrize("data, message", CASES, ids=[m.split(":")[0] + ":" + str(i) for i, (_, m) in enumerate(CASES)])
def test_refusal_names_the_entry_and_the_problem(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "stats.yaml")
    text = str(info.value)
    assert text.startswith("stats.yaml: "), text
    assert message in text, text


# ---- file-level errors


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'missing.yaml'}: cannot read")):
        load_config(tmp_path / "missing.yaml")


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "stats.yaml"
    path.write_text("stat_types:\n  Handled: {Objects: [Agent\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stats.yaml: not valid YAML: .*\(line \d+, column \d+\)"):
        load_config(path)


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stats.yaml"
    path.write_text("time_profiles:\n  P: Growing,00:00\n  P: Growing,06:00\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML: found duplicate key 'P' \(line 3"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "stats.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="stats.yaml: the top level must be a mapping of sections, not a list"):
        load_config(path)


def test_unquoted_star_in_a_mask_is_a_yaml_error(tmp_path: Path) -> None:
    # `*` starts an alias in YAML; the message must still point at the place.
    path = tmp_path / "stats.yaml"
    path.write_text("stat_types:\n  A: {Objects: [Agent], Category: CurrentNumber, MainMask: [*]}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stats.yaml: not valid YAML: .*line 2"):
        load_config(path)
