"""``mediastat replay`` on an ``.avro`` file it cannot read: exit 2 and one line, as the README
promises for unreadable input — not a traceback and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.records.codec import write_avro_file
from pipeline.records.validation import validate_event
from tests.golden import scenario


def avro_events(path: Path) -> bytes:
    lines = scenario("routed-emails.events.jsonl").read_text().splitlines()
    events = [validate_event(json.loads(line)) for line in lines if line.strip()]
    write_avro_file(path, "ReportingEvent", events)
    return path.read_bytes()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_text('{"Event": "EventAgentLogin"}\nnot avro at all\n'), id="text"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_bytes(avro_events(p)[:-40]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(avro_events(p)[:200]), id="header-only"),
    ],
)
def test_unreadable_avro_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make
) -> None:
    """In process: an exception escaping ``main`` is the traceback a user would see."""
    path = tmp_path / "x.avro"
    make(path)
    assert main(["replay", str(path), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mediastat replay: ") and "x.avro" in lines[0], lines
    assert "Avro" in lines[0]
