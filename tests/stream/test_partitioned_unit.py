"""Stage 3 in partial mode and stage 4 (the merge) survive a checkpoint and restore: the shared
checkpoint machinery (pipeline/stream/checkpoint.py) over PartialStats and MergeStats."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.records.keys import action_key
from pipeline.simulate import Simulator, live_config_text
from pipeline.stats.config import load_config
from pipeline.stats.topology import partition_of
from pipeline.stream.merge import _MergePartition
from pipeline.stream.statistics import _PartitionStats
from tests.stream.harness import run_replay


def test_partial_and_merge_partitions_restore_from_their_checkpoints(tmp_path: Path) -> None:
    sim = Simulator(agents=8, hours=0.5, per_hour=200, seed=3)
    config_path = tmp_path / "live.stats.yaml"
    config_path.write_text(live_config_text(sim))
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in sim.events()))
    actions, _ = run_replay(events, config_path)
    config = load_config(config_path)

    stage3 = [_PartitionStats(p, config, sources=1, partitions=2) for p in range(2)]
    stage4 = _MergePartition(0, config, sources=2)
    half = len(actions) // 2
    for action in actions[:half]:
        stage3[partition_of(action_key(action), 2)].stats.push(action)
    until = actions[half]["EventTime"] - 1
    updates = 0
    for part in stage3:
        part.stats.release_to(until)
        for update in part.stats.take_partials():
            stage4.stats.push(update)
            updates += 1
        stage4.stats.watermark(part.number, until)
    assert updates > 0
    assert stage4.stats.engine.keys(), "the merge holds group and tenant statistics"

    for part in [*stage3, stage4]:
        part.mark(0)
        entries = {**part.entries("A"), part.marker_key: part.marker("A")}
        if isinstance(part, _MergePartition):
            copy = _MergePartition(0, config, sources=2)
        else:
            copy = _PartitionStats(part.number, config, sources=1, partitions=2)
        copy.restore(entries)
        assert copy.stats.export_state() == part.stats.export_state() if isinstance(
            part, _MergePartition
        ) else copy.stats.engine.export_state() == part.stats.engine.export_state()
        assert copy.applied(0)


def test_a_batch_s_partials_are_cut_into_messages_that_fit_kafka() -> None:
    """A busy batch changes thousands of accumulators: one message for them all exceeded the broker's
    1 MB limit (MSG_SIZE_TOO_LARGE crashed stage 3), so they go in runs of at most PARTIALS_BYTES."""
    from pipeline.stream.statistics import PARTIALS_BYTES, chunks

    items = [json.dumps({"Key": f"k{n}", "Acc": "x" * 900}).encode() for n in range(2000)]
    runs = chunks(items, PARTIALS_BYTES)
    assert len(runs) > 1 and [i for run in runs for i in run] == items
    assert all(sum(len(i) + 1 for i in run) <= PARTIALS_BYTES for run in runs)
    body = json.loads(b'{"Updates":[' + b",".join(runs[0]) + b"]}")
    assert body["Updates"][0]["Key"] == "k0"
    assert chunks([], PARTIALS_BYTES) == []

