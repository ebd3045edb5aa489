"""One librdkafka producer per worker for every stage output, awaited once per batch.

Each stage handles its inputs in batches (:mod:`pipeline.stream.batches`): it produces every output
of a batch without waiting — actions, agent inputs, stats-input bundles, watermarks, statistic
records — then awaits their delivery reports **once** (:meth:`Batch.delivered`) before it writes
the batch's state and acknowledges its inputs (the order the crash proof in
:mod:`pipeline.stream.delivery` needs). ``produce()`` only queues the record; a daemon thread
serves librdkafka's delivery callbacks (``poll``), and the last report of a sealed batch wakes the
waiting stage through the event loop. One Kafka round trip per batch replaces one per message.

Ordering: idempotence keeps each partition's records in production order even when librdkafka
retries, and a failure of one record fails the producer's later records of that partition too, so
a watermark produced after the outputs it covers never overtakes them.

The client's configuration is built in one function, :func:`producer_config`, so that settings
every client needs (security, for example) are added in one place.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

log = logging.getLogger(__name__)


def producer_config(settings: Any) -> dict[str, Any]:
    """The librdkafka configuration of the worker's producer (the one place it is built): the
    bootstrap servers and security settings of ``settings.kafka`` (pipeline.kafka.client, which also
    routes librdkafka's lines through our logging), then what batches need."""
    return settings.kafka.producer(
        {
            # acks=all and no reordering or duplicates from retries within a session.
            "enable.idempotence": True,
            "acks": "all",
            # Batches are awaited as a whole: a short linger fills requests without adding latency.
            "linger.ms": 2,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            # The Java client's (and aiokafka's) partitioner: a key lands where every other client
            # puts it.
            "partitioner": "murmur2_random",
        }
    )


#: A stage serves the delivery reports due so far itself, every this many records of a batch, once
#: librdkafka holds :data:`POLL_QUEUE` records or more.
#:
#: The polling thread needs the GIL for each report's callback, and while a stage computes (one
#: release at the shift's end of 10,000 agents is minutes of the engine's work) it gets the GIL
#: only when the interpreter hands it over, every 5 ms: about 200 reports a second against the
#: thousands of records a second produced. Delivered records then stayed in librdkafka's queue
#: with their reports, and the worker's memory grew by hundreds of megabytes until the release
#: ended. Served here, the reports cost no hand-over of the GIL. Not below POLL_QUEUE: at ordinary
#: rates the polling thread keeps up, and one pair of runs of the bench's worker row served them
#: here at 277 events/s against 335 without (runs of one commit vary about that much on the
#: development machine, so this is a precaution rather than a measured cost).
POLL_EVERY = 1_000
POLL_QUEUE = 50_000


class DeliveryFailed(KafkaException):
    """Kafka did not acknowledge a record of the batch (the stage must not ack its inputs)."""


class Batch:
    """The records one stage produced for one batch of inputs; await :meth:`delivered` once."""

    __slots__ = ("_owner", "_lock", "_produced", "_acked", "_sealed", "_future", "_error", "_loop", "_report")

    def __init__(self, owner: BatchProducer) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._produced = 0
        self._acked = 0
        self._sealed = False
        self._future: asyncio.Future | None = None
        self._error: KafkaError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._report = self._on_delivery  # one bound method for every record of the batch

    def __len__(self) -> int:
        return self._produced

    def produce(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        """Queue one record (never blocks the event loop for long: a full queue drains first)."""
        # Positional arguments (topic, value, key, partition, on_delivery): no keyword dict per
        # record; -1 is librdkafka's "unassigned" partition, what leaving it out means.
        produce = self._owner.client.produce
        where = -1 if partition is None else partition
        while True:
            try:
                produce(topic, value, key, where, self._report)
                break
            except BufferError:  # the local queue is full: let the broker catch up
                self._owner.client.flush(0.05)
        self._produced += 1
        if not self._produced % POLL_EVERY:
            client = self._owner.client
            if len(client) >= POLL_QUEUE:  # reports pile up: serve those due here (see POLL_EVERY)
                client.poll(0)

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        """librdkafka's delivery report (on the polling thread)."""
        with self._lock:
            self._acked += 1
            if err is not None and self._error is None:
                self._error = err
            done = self._sealed and self._acked == self._produced and self._future is not None
        if done:
            self._loop.call_soon_threadsafe(self._resolve)  # type: ignore[union-attr]

    def _resolve(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def delivered(self) -> None:
        """Wait until Kafka has acknowledged every record of the batch; raise if one failed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._sealed = True
            pending = self._acked < self._produced
            if pending:
                self._loop = loop
                self._future = loop.create_future()
        if pending:
            await self._future  # type: ignore[misc]
        if self._error is not None:
            raise DeliveryFailed(self._error)


class BatchProducer:
    """The worker's one producer: :meth:`batch` opens a batch; a daemon thread polls reports."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._client: Producer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def client(self) -> Producer:
        """The librdkafka producer, made when first used (an app that never runs connects nowhere)."""
        if self._client is None:
            self._client = Producer(self._config)
            self._thread = threading.Thread(target=self._poll, name="mediastat-producer", daemon=True)
            self._thread.start()
        return self._client

    def batch(self) -> Batch:
        return Batch(self)

    def _poll(self) -> None:
        client = self.client
        while not self._stop.is_set():
            try:
                client.poll(0.05)
            except Exception:  # a callback raised: never let the polling thread die
                log.exception("producer: delivery callback failed")

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (a clean stop), then stop polling."""
        if self._client is None:
            return
        self._client.flush(timeout_s)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)


def shared_producer(app: Any, settings: Any) -> BatchProducer:
    """The one producer of ``app`` (created by the first stage that asks, closed when it stops)."""
    producer = getattr(app, "_mediastat_producer", None)
    if producer is None:
        producer = BatchProducer(producer_config(settings))
        app._mediastat_producer = producer
    return producer
