"""The configuration file (YAML, statistics.md): time profiles, time ranges, filters, stat types,
statistics, groups and capacity rules.

``load_config(None)`` gives the shipped starter configuration; a file replaces it entirely and the
sections it lacks take the built-in defaults (no statistics, default capacity). A bad file is
refused with :class:`ConfigError`, whose message names the entry and the problem, e.g.
``stats.yaml: stat_types.Handled.Category: unknown category 'TotalNumbr' (did you mean 'TotalNumber'?)``.
Validation is complete here so that the engine can trust every field it reads; the rules we had to
decide are listed in docs/statistics-config.md.
"""

from __future__ import annotations

from pipeline.stats.config.loading import load_config, starter_text
from pipeline.stats.config.parser import parse_config
from pipeline.stats.config.schema import (
    DEFAULT_PROFILE,
    INTIMERANGE_CATEGORIES,
    RELATIVE_CATEGORIES,
    Config,
    ConfigError,
)

__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_PROFILE",
    "INTIMERANGE_CATEGORIES",
    "RELATIVE_CATEGORIES",
    "load_config",
    "parse_config",
    "starter_text",
]
