"""What the stages read at start: the configuration file and the reorder window.

The worker sets ``MEDIASTAT_CONFIG`` from ``--config`` before the app is built, so every stage
module (and every worker process of a deployment) reads the same file; none = the shipped starter.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pipeline.config import Config, load_config

CONFIG_ENV = "MEDIASTAT_CONFIG"


@lru_cache(maxsize=1)
def current_config() -> Config:
    return load_config(os.environ.get(CONFIG_ENV) or None)
