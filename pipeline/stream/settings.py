"""What the stages read at start: the configuration file and the reorder window.

The worker sets ``MEDIASTAT_CONFIG`` from ``--config`` before the app is built, so every stage
module (and every worker process of a deployment) reads the same file; none = the shipped starter.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pipeline.config import Config, load_config

CONFIG_ENV = "MEDIASTAT_CONFIG"
#: JSON ``{topic: partitions}`` of the stages' input topics, read by the worker before it starts:
#: a faust table must have as many partitions as the topic that feeds it.
PARTITIONS_ENV = "MEDIASTAT_PARTITIONS"


@lru_cache(maxsize=1)
def current_config() -> Config:
    return load_config(os.environ.get(CONFIG_ENV) or None)


def partitions_of(topic: str) -> int | None:
    """Partitions of an input topic as the worker found them (None: faust's default)."""
    return json.loads(os.environ.get(PARTITIONS_ENV) or "{}").get(topic)
