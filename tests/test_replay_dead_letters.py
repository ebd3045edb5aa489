"""``replay`` builds its dead letters like the worker: a very large bad line is cut, its size kept."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.cli import main
from pipeline.records.deadletter import MAX_DEAD_LETTER_BYTES
from tests.golden import scenario


def test_a_large_bad_line_is_dead_lettered_cut_with_its_size(tmp_path: Path) -> None:
    good = scenario("routed-emails.events.jsonl").read_text().splitlines()
    big = "not json " + "#" * 1_050_000
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([good[0], big, *good[1:]]) + "\n")
    dead = tmp_path / "dead.jsonl"
    assert main(["replay", str(events), "--dead-letters-out", str(dead), "--quiet"]) == 0
    (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert letter["ErrorKind"] == "decode" and letter["SourceOffset"] == 2
    assert letter["PayloadSize"] == len(big) and letter["PayloadTruncated"] is True
    assert big.startswith(letter["Payload"]) and len(letter["Payload"]) < MAX_DEAD_LETTER_BYTES
