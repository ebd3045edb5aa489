"""What the stages read at start: the configuration file and the reorder window.

The worker sets ``MEDIASTAT_CONFIG`` from ``--config`` before the app is built, so every stage
module (and every worker process of a deployment) reads the same file; none = the shipped starter.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pipeline.config import Config, load_config
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, parse_tolerance

CONFIG_ENV = "MEDIASTAT_CONFIG"
#: JSON ``{topic: partitions}`` of the stages' input topics, read by the worker before it starts:
#: a faust table must have as many partitions as the topic that feeds it.
PARTITIONS_ENV = "MEDIASTAT_PARTITIONS"
#: ``--future-tolerance`` as the user wrote it (``1d``, ``36h``, ``off``); unset: one day.
FUTURE_TOLERANCE_ENV = "MEDIASTAT_FUTURE_TOLERANCE"


@lru_cache(maxsize=1)
def current_config() -> Config:
    return load_config(os.environ.get(CONFIG_ENV) or None)


def partitions_of(topic: str) -> int | None:
    """Partitions of an input topic as the worker found them (None: faust's default)."""
    return json.loads(os.environ.get(PARTITIONS_ENV) or "{}").get(topic)


def future_tolerance_ms() -> int | None:
    """How far ahead of the wall clock stage 1 accepts an EventTime (None: no limit)."""
    text = os.environ.get(FUTURE_TOLERANCE_ENV)
    return DEFAULT_FUTURE_TOLERANCE_MS if not text else parse_tolerance(text)
