"""Loading configurations: defaults, profiles, statistic names, groups, capacity, the starter file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.stats.config import Config, ConfigError, load_config, parse_config, starter_text
from pipeline.stats.model import Mask, Notification


def write(tmp_path: Path, text: str, name: str = "stats.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HANDLED = {
    "Objects": ["Agent", "GroupAgents"],
    "Category": "TotalNumber",
    "MainMask": ["StoppedInbound", "StoppedOutbound", "StoppedInternal"],
}


# ---- the example of statistics.md, whole


SPEC_EXAMPLE = """
timezone: "UTC"
time_profiles:
  Default:  "Growing,00:00"
  HalfHour: "Growing,00:00+0:30"
  Shifts:   "Growing,08:00,16:00,00:00"
  NYDay:    {profile: "Growing,00:00", timezone: "America/New_York"}
  LastHour: "Sliding,3600,60"
  Last10:   "Selection,10"
  Session:  "SinceLogin"
time_ranges:
  Range0-30: "0-30"
filters:
  Spanish: 'PairExists("Language","Spanish")'
stat_types:
  Total_Handle_Time:
    Objects: [Agent, Place, GroupAgents, GroupPlaces]
    Category: TotalAdjustedTime
    Subject: DNAction
    MainMask: [StoppedInbound, StoppedOutbound, StoppedInternal]
    RelMask: []
    MediaType: [email]
statistics:
  - stat_type: Total_Handle_Time
    time_profile: Default
    filter: Spanish
    notification: {mode: Changes, insensitivity: 1}
    name: Total_Handle_Time_Spanish
groups:
  GroupAgents: {Sales: [a1, a2]}
  GroupPlaces: {Floor1: [p1, p2]}
capacity:
  rules: {ChatHeavy: {max: {chat: 3, email: 1}, max_total: 3, block: [{media: email, when: {chat: 1}}]}}
  assign: {agents: {a1: ChatHeavy}, places: {}, tenants: {}}
"""


def test_the_spec_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC_EXAMPLE))
    p = config.time_profiles
    assert p["Default"].kind == "Growing" and p["Default"].reset_minutes == (0,)
    assert p["HalfHour"].reset_minutes == tuple(range(0, 1440, 30))
    assert p["Shifts"].reset_minutes == (0, 480, 960)  # sorted
    assert p["NYDay"].timezone == "America/New_York" and p["Default"].timezone == "UTC"
    assert (p["LastHour"].kind, p["LastHour"].length_s, p["LastHour"].step_s) == ("Sliding", 3600, 60)
    assert (p["Last10"].kind, p["Last10"].count) == ("Selection", 10)
    assert p["Session"].kind == "SinceLogin"
    assert config.time_ranges["Range0-30"].contains(30) and not config.time_ranges["Range0-30"].contains(30.5)
    assert config.filters["Spanish"].expr == ("pair", "Language", "Spanish")

    st = config.stat_types["Total_Handle_Time"]
    assert st.objects == ("Agent", "Place", "GroupAgents", "GroupPlaces")
    assert st.main_mask == Mask(include=frozenset({"StoppedInbound", "StoppedOutbound", "StoppedInternal"}))
    assert st.rel_mask.empty and st.media_types == frozenset({"email"})

    (stat,) = config.statistics
    assert stat.name == "Total_Handle_Time_Spanish" and stat.filter is config.filters["Spanish"]
    assert stat.profile is p["Default"] and stat.notification == Notification("Changes", 1.0, 0)

    assert config.groups.agents == {"Sales": frozenset({"a1", "a2"})}
    assert config.groups.groups_of_place("p2") == ["Floor1"]
    rule = config.capacity.rule_for("t1", "a1", None)
    assert rule.name == "ChatHeavy" and rule.max == {"chat": 3, "email": 1} and rule.max_total == 3
    assert rule.capacity_left("email", {"chat": 1}) == 0
    assert config.capacity.rule_for("t1", "a9", None).max is None  # built-in default


# ---- defaults


def test_empty_file_is_the_built_in_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "# nothing\n"))
    assert config.timezone == "UTC" and config.statistics == () and config.stat_types == {}
    assert list(config.time_profiles) == ["Default"]
    assert config.time_profiles["Default"].text == "Growing,00:00"
    assert config.capacity.rules == {} and config.groups.agents == {}


def test_a_file_with_only_capacity_is_valid(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "capacity:\n  rules: {Two: {max: {chat: 2}}}\n  assign: {tenants: {t1: Two}}\n")
    )
    assert config.statistics == () and config.capacity.tenants == {"t1": "Two"}
    assert config.capacity.rule_for("t1", "a1", "p1").capacity_left("chat", {"chat": 1}) == 1


def test_default_profile_follows_the_file_timezone_and_can_be_redefined() -> None:
    config = parse_config({"timezone": "Europe/Paris"}, "s")
    assert config.time_profiles["Default"].timezone == "Europe/Paris"
    config = parse_config({"time_profiles": {"Default": "Growing,06:00"}}, "s")
    assert config.time_profiles["Default"].reset_minutes == (360,)


def test_statistic_defaults() -> None:
    config = parse_config({"stat_types": {"Handled": HANDLED}, "statistics": [{"stat_type": "Handled"}]}, "s")
    (stat,) = config.statistics
    assert stat.name == "Handled" and stat.profile.name == "Default"  # time_profile defaults to Default
    assert stat.notification == Notification(mode="Changes", insensitivity=1.0)
    assert stat.stat_type.subject == "DNAction" and stat.stat_type.media_types is None


def test_notification_modes() -> None:
    data = {
        "stat_types": {"Handled": HANDLED},
        "statistics": [
            {"stat_type": "Handled", "name": "a", "notification": {"mode": "Time", "frequency": 30}},
            {"stat_type": "Handled", "name": "b", "notification": "Reset"},
            {"stat_type": "Handled", "name": "c", "notification": {"insensitivity": 0.5}},
            {"stat_type": "Handled", "name": "d", "notification": {"mode": "None"}},
        ],
    }
    got = [s.notification for s in parse_config(data, "s").statistics]
    assert got == [
        Notification("Time", 1.0, 30),
        Notification("Reset"),
        Notification("Changes", 0.5),
        Notification("None"),
    ]


def test_masks_lists_comma_strings_star_and_exclusions() -> None:
    data = {
        "stat_types": {
            "A": {
                "Objects": "Agent, Place",
                "Category": "CurrentNumber",
                "MainMask": "*, ~Active, ~Routable",
            },
            "S": {
                "Objects": ["Agent"],
                "Category": "CurrentNumber",
                "Subject": "AgentStatus",
                "MainMask": ["HandlingInbound", "~LoggedOut"],
                "MediaType": "Email,CHAT",
            },
        }
    }
    types = parse_config(data, "s").stat_types
    assert types["A"].objects == ("Agent", "Place")
    assert types["A"].main_mask == Mask(include_all=True, exclude=frozenset({"Active", "Routable"}))
    assert types["A"].main_mask.matches("Handling") and not types["A"].main_mask.matches("Active")
    assert types["S"].main_mask.include == {"HandlingInbound"}
    assert types["S"].media_types == frozenset({"email", "chat"})  # lower-cased


# ---- statistic names


def open_(*entries: dict) -> tuple[str, ...]:
    data = {
        "time_profiles": {"LastHour": "Sliding,3600,60"},
        "filters": {"F": 'KeyExists("VIP")'},
        "stat_types": {"Handled": HANDLED, "Offered": {**HANDLED, "MainMask": ["DeliveringStarted"]}},
        "statistics": list(entries),
    }
    return tuple(s.name for s in parse_config(data, "s").statistics)


def test_name_is_the_stat_type_when_opened_with_one_profile() -> None:
    assert open_({"stat_type": "Handled"}, {"stat_type": "Offered", "time_profile": "LastHour"}) == (
        "Handled",
        "Offered",
    )


def test_at_profile_is_added_when_one_stat_type_is_opened_with_several_profiles() -> None:
    assert open_(
        {"stat_type": "Handled"},
        {"stat_type": "Handled", "time_profile": "LastHour"},
        {"stat_type": "Offered"},
    ) == ("Handled@Default", "Handled@LastHour", "Offered")


def test_at_profile_counts_named_openings_too() -> None:
    # The stat type is opened with two profiles, so its unnamed opening gets "@Default".
    assert open_(
        {"stat_type": "Handled"}, {"stat_type": "Handled", "time_profile": "LastHour", "name": "Handled_Hour"}
    ) == ("Handled@Default", "Handled_Hour")


def test_duplicate_statistic_names_are_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"s: statistics\[1\] \(Handled\): duplicate statistic name 'Handled' "
        r"\(already used by statistics\[0\] \(Handled\)\)",
    ):
        open_({"stat_type": "Handled"}, {"stat_type": "Handled", "filter": "F"})
    with pytest.raises(ConfigError, match=r"statistics\[1\] \(X\): duplicate statistic name 'X'"):
        open_({"stat_type": "Handled", "name": "X"}, {"stat_type": "Offered", "name": "X"})


# ---- groups, YAML details


def test_groups_become_frozensets_and_numeric_ids_strings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "groups:\n  GroupAgents: {Sales: [a1, 1002, a1], Empty: []}\n"))
    assert config.groups.agents == {"Sales": frozenset({"a1", "1002"}), "Empty": frozenset()}
    assert config.groups.places == {}


def test_x_sections_hold_yaml_anchors(tmp_path: Path) -> None:
    text = (
        "x-objects: &ag [Agent, GroupAgents]\n"
        "stat_types:\n  Handled: {Objects: *ag, Category: TotalNumber, MainMask: [StoppedInbound]}\n"
    )
    assert load_config(write(tmp_path, text)).stat_types["Handled"].objects == ("Agent", "GroupAgents")


def test_load_config_accepts_str_paths(tmp_path: Path) -> None:
    assert isinstance(load_config(str(write(tmp_path, "timezone: Asia/Tokyo\n"))), Config)


# ---- the shipped starter configuration


def test_starter_loads_with_the_expected_statistics() -> None:
    config = load_config(None)
    assert config.capacity.rules == {} and config.timezone == "UTC"
    assert config.time_profiles["LastHour"].length_s == 3600 and "Range0-30" in config.time_ranges
    stats = {s.name: s for s in config.statistics}
    for name in (
        "Agent_Current_State",
        "Agent_Current_State_Reasons",
        "Handled",
        "Handled_Last_Hour",
        "Average_Handle_Time",
        "Ready_Time",
        "Not_Ready_Time_Lunch",
        "Accept_Ratio",
        "Occupancy",
        "Queue_Depth",
        "Oldest_Waiting",
        "Accepted_Within_30s_Percentage",
        "Agents_Available",
        "Agents_Routable",
        "Agents_Not_Ready",
        "Agents_In_DND",
        "Queue_Abandoned",
    ):
        assert name in stats, name
    assert stats["Not_Ready_Time_Lunch"].filter.expr == ("pair", "ReasonCode", "Lunch")
    assert stats["Handled_Last_Hour"].profile.kind == "Sliding"
    assert stats["Agent_Current_State"].stat_type.objects == ("Agent", "Place")
    assert stats["Agents_Available"].stat_type.objects == ("GroupAgents", "Tenant")
    assert stats["Queue_Depth"].stat_type.objects == ("Queue",)
    assert stats["Accepted_Within_30s_Percentage"].time_range.high_s == 30
    # every stat type is opened at least once
    assert {s.stat_type.name for s in config.statistics} == set(config.stat_types)


def test_starter_text_is_the_packaged_file() -> None:
    assert "Agent_Current_State" in starter_text()


def test_the_documented_example_loads() -> None:
    """docs/statistics-config.md's example must stay a valid configuration."""
    import re

    import yaml

    doc = (Path(__file__).parents[2] / "docs" / "statistics-config.md").read_text(encoding="utf-8")
    block = re.search(r"## Example\n\n```yaml\n(.*?)```", doc, re.S)
    assert block, "the example block is missing"
    config = parse_config(yaml.safe_load(block[1]), "docs/statistics-config.md")
    assert [s.name for s in config.statistics][:2] == ["Handled@Default", "Handled@LastHour"]
