"""What the determinism checks compute, on both sides (this interpreter and one with another hash
seed, see :mod:`tests.hashseed`). Arguments and results are plain JSON values."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.driver import CoreDriver
from pipeline.replay import iter_source, replay
from pipeline.stats.config import load_config


def core_actions(events: list[dict]) -> list[dict]:
    """Every action record the core derives from validated ``events``, in emission order."""
    return CoreDriver().push_all(events)


def replay_records(events_path: str, config_path: str) -> dict[str, list[dict]]:
    """Replay of a file with statistics: every action and every statistic record, in order."""
    actions: list[dict] = []
    stats: list[dict] = []
    replay(iter_source(Path(events_path)), load_config(config_path), on_action=actions.append,
           on_stat=stats.append)
    return {"actions": actions, "stats": stats}
