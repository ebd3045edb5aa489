"""The worker while Kafka is away: slower client retries, one warning every 10 s, one line when back.

aiokafka (faust's Kafka client) retries failed requests without much of a pause, and logs an ERROR
for each retry of each of its loops: metadata, fetch, produce, group coordinator. During a broker
outage that was thousands of lines a second, which buried everything else and filled disks. Here:

* :class:`Transport` is faust's aiokafka transport whose clients retry with backoff
  (:mod:`pipeline.kafka.backoff`): every 0.5 s rather than every 0.1 s, and a failed metadata
  refresh waits 0.5 s, 1 s, then 2 s before the next. The worker still reconnects by itself,
  within about 2 s of the broker's return;
* :class:`OutageWatch` probes the bootstrap servers every second from a daemon thread (a TCP
  connect; it needs neither the event loop nor faust's state) and, while none answers, logs one
  warning every :data:`WARN_EVERY_S` seconds with how long Kafka has been away, and one line when
  it is back;
* while the watch says Kafka is away, :class:`AwayFilter` leaves out the client libraries' own
  records (counted, and the count given when Kafka is back); at any time, their warnings and errors
  pass :class:`pipeline.kafka.logs.RepeatFilter` (one of a kind per 10 s).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.kafka.backoff import RETRY_BACKOFF_MS, metadata_backoff, slow_retries
from pipeline.kafka.bootstrap import servers, tcp_reachable
from pipeline.kafka.logs import RepeatFilter, client_loggers, install_repeat_filter
from pipeline.stream.settings import Settings

#: Seconds between two "Kafka unreachable" warnings.
WARN_EVERY_S = 10.0
#: Seconds between two probes of the bootstrap servers.
PROBE_EVERY_S = 1.0

log = logging.getLogger("mediastat.kafka.outage")


# ------------------------------------------------------------------------------ client backoff


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_consumer(self, loop: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_consumer(loop)
        slow_retries(consumer)
        metadata_backoff(consumer._client)
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Producer(faust_aiokafka.Producer):
    def _settings_default(self) -> dict[str, Any]:
        return {**super()._settings_default(), "retry_backoff_ms": RETRY_BACKOFF_MS}

    def _new_producer(self, transactional_id: str | None = None) -> aiokafka.AIOKafkaProducer:
        producer = super()._new_producer(transactional_id)
        metadata_backoff(producer.client)
        return producer


class Transport(faust_aiokafka.Transport):
    """faust's ``kafka://`` transport whose clients wait :data:`RETRY_BACKOFF_MS` between retries."""

    Consumer = _Consumer
    Producer = _Producer


# ----------------------------------------------------------------------------------- the watch


class OutageWatch:
    """Whether the bootstrap servers answer; says so in the log, once per :data:`WARN_EVERY_S`.

    ``probe`` returns None when Kafka answers, else the cause; ``clock`` gives seconds. Both are
    parameters so that the timing can be tested without a broker or waiting.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        probe: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        warn_every: float = WARN_EVERY_S,
    ) -> None:
        self.bootstrap = bootstrap
        targets = servers(bootstrap)
        self.probe = probe or (lambda: tcp_reachable(targets, timeout=2.0))
        self.clock = clock
        self.warn_every = warn_every
        self.away_since: float | None = None
        self.last_warning = 0.0
        self.left_out = 0  # client log records left out during the current outage
        self.left_out_kinds: Counter[str] = Counter()  # by logger and message with numbers blanked
        self._thread: threading.Thread | None = None

    @property
    def away(self) -> bool:
        return self.away_since is not None

    def check(self) -> None:
        """One probe, and the log line it calls for (if any)."""
        cause = self.probe()
        now = self.clock()
        if cause is None:
            if self.away_since is not None:
                log.warning(
                    "Kafka at %s reachable again after %.0f s; the worker carries on where it was "
                    "(%d client log lines about the outage left out%s)",
                    self.bootstrap,
                    now - self.away_since,
                    self.left_out,
                    self._most_frequent(),
                )
                self.away_since, self.left_out = None, 0
                self.left_out_kinds.clear()
            return
        if self.away_since is None:
            self.away_since = self.last_warning = now
            log.warning(
                "Kafka at %s unreachable (%s); retrying, with a warning every %.0f s until it is back",
                self.bootstrap,
                cause,
                self.warn_every,
            )
        elif now - self.last_warning >= self.warn_every:
            self.last_warning = now
            log.warning(
                "Kafka at %s unreachable for %.0f s (%s); still retrying",
                self.bootstrap,
                now - self.away_since,
                cause,
            )

    def _most_frequent(self) -> str:
        if not self.left_out_kinds:
            return ""
        kind, times = self.left_out_kinds.most_common(1)[0]
        return f"; most often, {times} times: {kind}"

    def run(self, every: float = PROBE_EVERY_S) -> None:
        while True:
            started = time.monotonic()
            try:
                self.check()
            except Exception:  # the watch must never die; say why once per warning period
                log.exception("checking Kafka's reachability failed")
            time.sleep(max(0.0, every - (time.monotonic() - started)))

    def start(self) -> None:
        """Probe in a daemon thread until the process ends (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="kafka-outage-watch", daemon=True)
            self._thread.start()


class AwayFilter(logging.Filter):
    """Leaves out (and counts) the client libraries' records while the watch says Kafka is away."""

    def __init__(self, watch: OutageWatch) -> None:
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        if self.watch.away and record.levelno < logging.CRITICAL:
            self.watch.left_out += 1
            name, _, message = RepeatFilter.kind(record)
            self.watch.left_out_kinds[f"{name}: {message[:120]}"] += 1
            return False
        return True


_WATCHES: weakref.WeakKeyDictionary[faust.App, OutageWatch] = weakref.WeakKeyDictionary()


def prepare(app: faust.App, settings: Settings) -> OutageWatch:
    """Backoff transports for ``app``, quiet client loggers, and the (not yet started) watch.

    Must run before anything asks ``app`` for its transport (declaring a topic does).
    """
    app.transport = Transport(app.conf.broker_consumer, app)
    app.producer_transport = Transport(app.conf.broker_producer, app)
    watch = OutageWatch(settings.bootstrap)
    for logger in client_loggers(("aiokafka",)):
        for old in [f for f in logger.filters if isinstance(f, AwayFilter)]:
            logger.removeFilter(old)  # an app made before in this process (tests)
        logger.addFilter(AwayFilter(watch))
    for logger in client_loggers(("aiokafka", "faust")):
        install_repeat_filter(logger, min_level=logging.WARNING)
    _WATCHES[app] = watch
    return watch


def start_watch(app: faust.App) -> None:
    """Start the watch :func:`prepare` made for ``app`` (the worker does, just before it runs)."""
    _WATCHES[app].start()
