"""Kafka client logs through our logging, at a sane level and volume.

Left alone, librdkafka prints every failed connection attempt to stderr (about 20 lines a second
for an unreachable address) and aiokafka logs an ERROR for every retry of every loop (metadata,
fetch, produce, coordinator), which made a 28 s broker outage write 150,818 lines. Two tools:

* :func:`client_logging` adds to a confluent-kafka configuration a Python ``logger`` (the
  ``mediastat.kafka.client`` logger) and ``log_level`` 4 (warnings and worse), so librdkafka's lines
  reach our handlers, never stderr directly, and are served by the client's ``poll``.
* :class:`RepeatFilter` lets one line of each kind through per window (10 s) and counts the rest;
  the next line of that kind that is let through says how many were left out. "Of a kind" is the
  logger, the level and the message with its numbers blanked, so the same connection error to the
  same broker is one kind whatever its port, node id or timings.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping

#: Where librdkafka's lines go (confluent-kafka producers, consumers and admin clients).
CLIENT_LOGGER = logging.getLogger("mediastat.kafka.client")
#: A logger that drops everything: for probes whose failure we report ourselves.
SILENT = logging.getLogger("mediastat.kafka.silent")
SILENT.addHandler(logging.NullHandler())
SILENT.propagate = False
SILENT.setLevel(logging.CRITICAL + 1)

#: librdkafka's syslog-style level: 4 = warning (3 error, 6 info, 7 debug).
LIBRDKAFKA_LOG_LEVEL = 4
#: Seconds during which one line of a kind is let through.
REPEAT_WINDOW_S = 10.0

_NUMBERS = re.compile(r"\d+")


def client_logging(config: Mapping[str, object], logger: logging.Logger = CLIENT_LOGGER) -> dict:
    """``config`` plus librdkafka log routing; settings the caller gave are kept."""
    install_repeat_filter(logger)
    return {
        "logger": logger,
        "log_level": LIBRDKAFKA_LOG_LEVEL,
        # An idle connection the broker closes is normal, not a line in the log.
        "log.connection.close": False,
        **config,
    }


class RepeatFilter(logging.Filter):
    """At most one record of a kind per ``window`` seconds; the next one let through gives the count."""

    def __init__(
        self,
        window: float = REPEAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        min_level: int = logging.NOTSET,
    ) -> None:
        super().__init__()
        self.window = window
        self.min_level = min_level  # records below it always pass
        self.clock = clock
        self._lock = threading.Lock()
        #: kind → (when the last one was let through, how many were left out since)
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    @staticmethod
    def kind(record: logging.LogRecord) -> tuple[str, int, str]:
        return record.name, record.levelno, _NUMBERS.sub("#", record.getMessage())[:200]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        key = self.kind(record)
        now = self.clock()
        with self._lock:
            last, left_out = self._seen.get(key, (None, 0))
            if last is not None and now - last < self.window:
                self._seen[key] = (last, left_out + 1)
                return False
            if len(self._seen) > 1000:  # forget kinds not seen for a while
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
            self._seen[key] = (now, 0)
        if left_out:
            record.msg = f"{record.getMessage()} ({left_out} more like it in the last {now - last:.0f} s)"
            record.args = ()
        return True


def install_repeat_filter(
    logger: logging.Logger, window: float = REPEAT_WINDOW_S, min_level: int = logging.NOTSET
) -> RepeatFilter:
    """Put one :class:`RepeatFilter` on ``logger`` (once; later calls return the same filter)."""
    for existing in logger.filters:
        if isinstance(existing, RepeatFilter):
            return existing
    repeat = RepeatFilter(window, min_level=min_level)
    logger.addFilter(repeat)
    return repeat


def client_loggers(prefixes: Iterable[str] = ("aiokafka", "faust")) -> list[logging.Logger]:
    """The loggers created so far whose names start with one of ``prefixes``.

    A filter on a logger sees only the records logged *to it*, not those its children propagate,
    so each module's logger needs its own.
    """
    names = [
        name
        for name, obj in logging.Logger.manager.loggerDict.items()
        if isinstance(obj, logging.Logger) and any(name == p or name.startswith(p + ".") for p in prefixes)
    ]
    return [logging.getLogger(name) for name in sorted(names)]
