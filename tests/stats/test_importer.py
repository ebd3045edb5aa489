"""Importing Stat Server option sections (tests/data/statserver-options.cfg) into statistics YAML."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from pipeline.stats import importer
from pipeline.stats.config import load_config
from pipeline.stats.importer import StatServerImportError, convert, import_file
from pipeline.stats.model import Mask

OPTIONS = Path(__file__).parents[1] / "data" / "statserver-options.cfg"
STOPPED = ["StoppedInbound", "StoppedOutbound", "StoppedInternal"]

EXPECTED_STAT_TYPES = {
    "Total_Number_Handled": {
        "Objects": ["Agent", "Place", "GroupAgents", "GroupPlaces"],
        "Category": "TotalNumber",
        "Subject": "DNAction",
        "MainMask": STOPPED,
    },
    "Total_Handle_Time_Email": {
        "Objects": ["Agent", "GroupAgents"],
        "Category": "TotalAdjustedTime",
        "Subject": "DNAction",
        "MainMask": STOPPED,
        "MediaType": ["email"],
    },
    "Average_Handle_Time": {
        "Objects": ["Agent", "GroupAgents", "Tenant"],
        "Category": "AverageTime",
        "MainMask": STOPPED,
    },
    "Current_Ready": {
        "Objects": ["GroupAgents", "Tenant"],
        "Category": "CurrentNumber",
        "Subject": "DNAction",
        "MainMask": ["Available"],
        "MediaType": ["chat", "email"],
    },
    "Current_Not_Ready": {
        "Objects": ["GroupAgents", "Tenant"],
        "Category": "CurrentNumber",
        "MainMask": ["Blocked"],
    },
    "Agent_State": {"Objects": ["Agent", "Place"], "Category": "CurrentState", "Subject": "DNStatus"},
    "Not_Ready_Time": {
        "Objects": ["Agent", "GroupAgents"],
        "Category": "TotalTime",
        "Subject": "DNAction",
        "MainMask": ["Blocked"],
    },
    "Accept_Ratio": {
        "Objects": ["Agent", "GroupAgents"],
        "Category": "RelativeNumberPercentage",
        "MainMask": ["Accepted"],
        "RelMask": ["DeliveringStarted"],
    },
    "Accepted_In_30s_Pct": {
        "Objects": ["Agent", "GroupAgents"],
        "Category": "TotalNumberInTimeRangePercentage",
        "MainMask": ["Accepted"],
        "RelMask": ["Accepted"],
    },
    "Occupancy": {
        "Objects": ["Agent", "Place"],
        "Category": "RelativeTimePercentage",
        "MainMask": ["Handling"],
        "RelMask": ["Active"],
    },
    "Queue_Waiting_Now": {"Objects": ["Queue"], "Category": "CurrentNumber", "MainMask": ["Waiting"]},
    "Queue_Oldest": {"Objects": ["Queue"], "Category": "CurrentMaxTime", "MainMask": ["Waiting"]},
    "Queue_Distributed": {
        "Objects": ["Queue", "Tenant"],
        "Category": "TotalNumber",
        "MainMask": ["InteractionDistributed", "InteractionDistributedToQueue"],
    },
    "Agent_Busy": {
        "Objects": ["Agent"],
        "Category": "CurrentNumber",
        "Subject": "AgentStatus",
        "MainMask": ["*", "~NotMonitored", "~Active", "~Available", "~LoggedOut"],
    },
}


def collect() -> tuple[list[str], importer.Warn]:
    messages: list[str] = []
    return messages, messages.append


def test_realistic_options_file_converts_to_the_expected_yaml(tmp_path: Path) -> None:
    warnings, warn = collect()
    text = import_file(OPTIONS, warn=warn)
    data = yaml.safe_load(text)

    assert data["stat_types"] == EXPECTED_STAT_TYPES
    assert data["time_profiles"] == {
        "Default": "Growing,0:00",
        "HalfHour": "Growing,0:00+0:30",
        "Shifts": "Growing,8:00,16:00,0:00",
        "LastHour": "Sliding,3600,60",
        "Last15Min": "Sliding,900,60",
        "Last10": "Selection,10",
    }
    assert data["time_ranges"] == {"Range0-30": "0-30"}
    assert data["filters"]["SpanishNotVIP"] == 'PairExists("Language","Spanish") & !KeyExists("VIP")'
    assert len(data["filters"]) == 4
    # one statistic per stat type, Default profile; the InTimeRange one gets the file's only range
    assert [s["stat_type"] for s in data["statistics"]] == list(EXPECTED_STAT_TYPES)
    assert all(s["time_profile"] == "Default" for s in data["statistics"])
    in_range = next(s for s in data["statistics"] if s["stat_type"] == "Accepted_In_30s_Pct")
    assert in_range["time_range"] == "Range0-30"
    # application sections are skipped with a warning; Description= is silently ignored
    assert warnings == [
        f"{OPTIONS}: [statserver]: an application section, not a stat type; skipped",
        f"{OPTIONS}: [log]: an application section, not a stat type; skipped",
    ]

    out = tmp_path / "imported.yaml"
    out.write_text(text, encoding="utf-8")
    config = load_config(out)
    assert set(config.stat_types) == set(EXPECTED_STAT_TYPES)
    assert config.stat_types["Agent_Busy"].main_mask == Mask(
        include_all=True, exclude=frozenset({"NotMonitored", "Active", "Available", "LoggedOut"})
    )
    assert config.stat_types["Total_Handle_Time_Email"].media_types == frozenset({"email"})
    assert config.time_profiles["HalfHour"].reset_minutes == tuple(range(0, 1440, 30))
    assert config.time_profiles["Shifts"].reset_minutes == (0, 480, 960)
    assert [s.name for s in config.statistics] == list(EXPECTED_STAT_TYPES)


def test_both_time_profile_spellings() -> None:
    text = "[TimeProfiles]\nA,Growing=0:00\nB=Growing,06:00\nC,Sliding=900,60\nD,SinceLogin=\nE=SinceLogin\n"
    data = convert(text, "x.cfg", warn=lambda m: None)
    assert data["time_profiles"] == {
        "A": "Growing,0:00",
        "B": "Growing,06:00",
        "C": "Sliding,900,60",
        "D": "SinceLogin",
        "E": "SinceLogin",
    }
    assert "stat_types" not in data and "statistics" not in data


def test_section_and_key_names_ignore_case_and_unknown_keys_warn() -> None:
    warnings, warn = collect()
    text = (
        "[timeprofiles]\nDay=Growing,00:00\n[H]\ncategory=TotalNumber\nOBJECTS=agent,stagingarea\n"
        "mainmask=StoppedInbound\nFormula=x\n"
    )
    data = convert(text, "x.cfg", warn=warn)
    assert data["stat_types"]["H"] == {
        "Objects": ["Agent", "Queue"],
        "Category": "TotalNumber",
        "MainMask": ["StoppedInbound"],
    }
    assert warnings == ["x.cfg: [H]: key 'Formula' is not used by mediastat; ignored"]


def test_no_statistics() -> None:
    data = convert(OPTIONS.read_text(encoding="utf-8"), "o.cfg", open_statistics=False, warn=lambda m: None)
    assert "statistics" not in data and len(data["stat_types"]) == len(EXPECTED_STAT_TYPES)


@pytest.mark.parametrize("ranges", ["", "[TimeRanges]\nA=0-10\nB=0-30\n"])
def test_in_time_range_stat_type_is_not_opened_without_a_single_range(ranges: str) -> None:
    warnings, warn = collect()
    text = ranges + "[Fast]\nCategory=TotalNumberInTimeRange\nObjects=Agent\nMainMask=Accepted\n"
    data = convert(text, "x.cfg", warn=warn)
    assert "statistics" not in data and "Fast" in data["stat_types"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "x.cfg: [Fast]: category TotalNumberInTimeRange needs"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[Handled]\nObjects=Agent\nMainMask=StoppedInbound\n", "x.cfg: [Handled]: missing Category"),
        ("[Handled]\nCategory=TotalNumber\nMainMask=StoppedInbound\n", "x.cfg: [Handled]: missing Objects"),
        (
            "[Handled]\nCategory=TotalNumber\nObjects=Agent,RoutePoint\n",
            "x.cfg: [Handled]: Objects: unknown object type 'RoutePoint'",
        ),
        (
            "[Handled]\nCategory=TotalNumber\nObjects=Queue\n",
            "[Handled]: Objects: unknown object type 'Queue' (Stat Server's Queue is a voice ACD queue",
        ),
        # translated, then refused by the loader: the message still names the stat type
        (
            "[Handled]\nCategory=TotalNumbr\nObjects=Agent\nMainMask=StoppedInbound\n",
            "x.cfg (imported): stat_types.Handled.Category: unknown category 'TotalNumbr' (did you mean",
        ),
        (
            "[TimeProfiles]\nBad,Growing=25:00\n",
            "x.cfg (imported): time_profiles.Bad: expected a time of day",
        ),
        ('[Filters]\nF=PairExists("a")\n', "x.cfg (imported): filters.F: expected ','"),
        ("[A]\nCategory=TotalNumber\n[A]\nCategory=TotalTime\n", "x.cfg: not a valid options file"),
        ("[A]\njust a line\n", "x.cfg: not a valid options file"),
    ],
)
def test_errors_name_the_section(text: str, message: str) -> None:
    with pytest.raises(StatServerImportError) as info:
        convert(text, "x.cfg", warn=lambda m: None)
    assert message in str(info.value)


# ---- the CLI module interface


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mediastat stattypes")
    importer.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_the_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "stats.yaml"
    assert importer.run(parse(["import", str(OPTIONS), "-o", str(out)])) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {out}" in captured.err and "[statserver]" in captured.err
    assert len(load_config(out).statistics) == len(EXPECTED_STAT_TYPES)


def test_cli_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert importer.run(parse(["import", str(OPTIONS), "--no-statistics"])) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Imported from Stat Server options statserver-options.cfg")
    assert set(yaml.safe_load(out)["stat_types"]) == set(EXPECTED_STAT_TYPES)


def test_cli_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert importer.run(parse(["import", str(tmp_path / "missing.cfg")])) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.cfg"
    bad.write_text("[Handled]\nObjects=Agent\n", encoding="utf-8")
    out = tmp_path / "out.yaml"
    assert importer.run(parse(["import", str(bad), "-o", str(out)])) == 1
    assert "[Handled]: missing Category" in capsys.readouterr().err
    assert not out.exists()


def test_cli_requires_the_sub_command() -> None:
    with pytest.raises(SystemExit):
        parse([])
