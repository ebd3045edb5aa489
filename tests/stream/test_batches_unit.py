"""Batch mechanics of the stages without a broker: write-behind state, batch delivery, bundles."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException
from faust.streams import current_event

from pipeline.core.steps import MARKS_KEY
from pipeline.stats.config import Config
from pipeline.stream.batches import WriteBehind, by_partition, dumps
from pipeline.stream.dead_letters import too_large
from pipeline.stream.producer import Batch, DeliveryFailed, producer_config
from pipeline.stream.statistics import _Input, _PartitionStats


class Event:
    """A faust event as far as tables care: its message's partition and offset."""

    def __init__(self, partition: int, offset: int = 0) -> None:
        self.message = SimpleNamespace(partition=partition, offset=offset)


class Table:
    """A faust table that records, like faust does, the partition of the event current at a write."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data = dict(data or {})
        self.reads: list[bytes] = []
        self.writes: list[tuple[int, bytes, bytes | None]] = []

    def get(self, key: bytes) -> bytes | None:
        self.reads.append(key)
        return self.data.get(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append((current_event().message.partition, key, value))
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        self.writes.append((current_event().message.partition, key, None))
        del self.data[key]


def test_a_key_changed_by_many_inputs_is_read_once_and_written_once_per_batch() -> None:
    table = Table({b"t/a1": dumps({"n": 0})})
    states = WriteBehind(table)
    for _ in range(5):  # five inputs of one batch change one agent
        state = states.get(0, b"t/a1")
        states.put(0, b"t/a1", {"n": state["n"] + 1})
    assert table.reads == [b"t/a1"]
    assert table.writes == []  # nothing reaches the table before the batch is delivered
    assert states.write({0: Event(0)}) == 1
    assert table.writes == [(0, b"t/a1", b'{"n":5}')]
    assert states.write({0: Event(0)}) == 0  # clean keys are not written again


def test_each_partition_is_written_with_an_event_of_its_own() -> None:
    table = Table()
    states = WriteBehind(table)
    states.put(0, b"a", {"p": 0})
    states.put(3, b"b", {"p": 3})
    events = [Event(3, 7), Event(0, 9), Event(3, 8)]
    states.write(by_partition(events))
    assert sorted((p, k) for p, k, _ in table.writes) == [(0, b"a"), (3, b"b")]


def test_stage_2s_upstream_marks_are_written_after_the_states_of_their_batch() -> None:
    """A crash keeps a prefix of a batch's changelog writes: marks written first could come back
    without the states they released (pipeline.core.steps.write_order)."""
    table = Table()
    states = WriteBehind(table)
    agents = [f"t/a{n}".encode() for n in range(40)]
    states.put(0, MARKS_KEY, {"0": 1000})  # the watermark came first in the batch
    for key in agents:
        states.put(0, key, {"n": 1})
    assert states.write({0: Event(0)}) == 41
    written = [key for _, key, _ in table.writes]
    assert written[-1] == MARKS_KEY and sorted(written[:-1]) == sorted(agents)


def test_a_deleted_state_is_a_tombstone_and_then_absent() -> None:
    table = Table({b"k": dumps({"stopped_at": 5})})
    states = WriteBehind(table)
    assert states.get(1, b"k") == {"stopped_at": 5}
    states.delete(1, b"k")
    assert states.get(1, b"k") is None
    states.write({1: Event(1)})
    assert table.writes == [(1, b"k", None)] and b"k" not in table.data
    assert states.get(1, b"k") is None


def test_a_partition_given_up_is_read_again_from_the_table() -> None:
    """Another worker may write a partition while this one does not hold it."""
    table = Table({b"k": dumps({"v": 1})})
    states = WriteBehind(table)
    states.get(2, b"k")
    states.put(2, b"k", {"v": 2})  # changed but not written when the partition moves away
    states.keep_only({0})
    table.data[b"k"] = dumps({"v": 7})  # what the other worker wrote
    assert states.get(2, b"k") == {"v": 7}
    assert states.write({2: Event(2)}) == 0  # the forgotten change is never written


class FakeClient:
    """librdkafka's producer as a batch sees it: ``produce`` (its positional order) with a delivery
    callback."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.records: list[tuple] = []

    def produce(self, topic: str, value=None, key=None, partition=-1, on_delivery=None) -> None:
        self.records.append((topic, key, value, partition))
        self.callbacks.append(on_delivery)

    def __len__(self) -> int:
        """Records not yet reported (librdkafka's ``len(producer)``)."""
        return len(self.callbacks)

    def poll(self, timeout: float) -> int:
        """Serve the reports due: here every record produced so far is delivered."""
        served = 0
        while self.callbacks:
            self.callbacks.pop(0)(None, None)
            served += 1
        return served


def test_a_batch_is_delivered_only_once_every_report_is_in() -> None:
    client = FakeClient()
    batch = Batch(SimpleNamespace(client=client))
    for n in range(3):
        batch.produce("t", b"k", b"v%d" % n, partition=None if n < 2 else 4)
    assert client.records == [("t", b"k", b"v0", -1), ("t", b"k", b"v1", -1), ("t", b"k", b"v2", 4)]

    async def scenario() -> list[str]:
        seen: list[str] = []
        waiter = asyncio.ensure_future(batch.delivered())
        await asyncio.sleep(0.01)
        client.callbacks[0](None, None)
        client.callbacks[2](None, None)
        await asyncio.sleep(0.01)
        seen.append("waiting" if not waiter.done() else "done")
        reporter = threading.Thread(target=client.callbacks[1], args=(None, None))  # librdkafka's thread
        reporter.start()
        await asyncio.wait_for(waiter, 2)
        reporter.join()
        seen.append("done")
        return seen

    assert asyncio.run(scenario()) == ["waiting", "done"]


def test_a_long_batch_serves_its_delivery_reports_as_it_produces() -> None:
    """A stage computing for minutes starves the polling thread of the GIL: once POLL_QUEUE records
    wait for their reports, the batch serves them itself every POLL_EVERY records, so delivered
    records do not pile up in librdkafka; below that, the polling thread does."""
    from pipeline.stream.producer import POLL_EVERY, POLL_QUEUE

    client = FakeClient()
    batch = Batch(SimpleNamespace(client=client))
    for n in range(POLL_QUEUE - 1):
        batch.produce("t", b"k", b"v%d" % n)
    assert batch._acked == 0  # left to the polling thread
    for n in range(POLL_EVERY + 5):
        batch.produce("t", b"k", b"w%d" % n)
    assert batch._acked == POLL_QUEUE and len(client.callbacks) == POLL_EVERY + 4  # served at 50,000
    client.poll(0)
    asyncio.run(asyncio.wait_for(batch.delivered(), 2))


def test_a_failed_delivery_fails_the_batch() -> None:
    client = FakeClient()
    batch = Batch(SimpleNamespace(client=client))
    batch.produce("t", b"k", b"v")
    batch.produce("t", b"k", b"w")
    client.callbacks[0](None, None)
    client.callbacks[1](KafkaError(KafkaError._MSG_TIMED_OUT), None)
    with pytest.raises(DeliveryFailed):
        asyncio.run(batch.delivered())


def test_the_producer_configuration_starts_from_the_clients_settings() -> None:
    from pipeline.kafka.client import KafkaClient

    secured = KafkaClient(
        "h1:9092,h2:9092",
        {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
         "sasl.username": "u", "sasl.password": "p"},
    )
    config = producer_config(SimpleNamespace(bootstrap="h1:9092,h2:9092", kafka=secured))
    assert config["bootstrap.servers"] == "h1:9092,h2:9092"
    assert config["security.protocol"] == "SASL_PLAINTEXT" and config["sasl.username"] == "u"
    assert config["logger"].name == "mediastat.kafka.client"  # librdkafka's lines through ours
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["partitioner"] == "murmur2_random"  # keys land where the Java client puts them


def test_a_too_large_librdkafka_error_shrinks_the_dead_letter() -> None:
    assert too_large(KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)))
    assert too_large(DeliveryFailed(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)))
    assert not too_large(KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT)))


def action(action_id: str, t: int, object_id: str = "a1") -> dict:
    return {
        "ActionID": action_id,
        "Action": "Accepted",
        "Kind": "Retrospective",
        "ObjectType": "Agent",
        "ObjectID": object_id,
        "TenantID": "t1",
        "EventTime": t,
        "DurationMs": 5,
    }


def test_a_bundle_is_applied_only_once_all_its_actions_are() -> None:
    part = _PartitionStats(0, Config())
    tag = _Input(offset=0, event=Event(0, 0), left=2)
    for a in (action("x", 1000), action("y", 3000)):
        tags, _ = part.stats.push(a, tag)
        part.applied_tags(tags)
    part.applied_tags(part.stats.release_to(2000)[0])
    assert not part.applied(0) and part.unacked == []  # a crash now redelivers it; "x" is a repeat
    part.applied_tags(part.stats.release_to(3000)[0])
    assert part.applied(0) and part.unacked == [tag.event]


def test_a_checkpoint_is_a_few_buckets_that_restore_the_engine() -> None:
    """faust writes changelogs one record at a time: a checkpoint must not be one key per accumulator."""
    from pipeline.stats.config import load_config

    part = _PartitionStats(0, load_config(None))
    for n in range(200):
        part.stats.push({**action(f"x{n}", 1000 + n, f"a{n % 40}"), "MediaTypeID": "email"}, None)
    part.stats.release_to(10_000)
    part.mark(0)
    state = part.stats.engine.export_state()
    held = len(state["accumulators"]) + len(state["objects"])
    entries = part.entries("A")
    assert len(entries) * 100 < held and all("|bucket|" in key for key in entries)
    copy = _PartitionStats(0, load_config(None))
    copy.restore({**entries, part.marker_key: part.marker("A")})
    assert copy.stats.engine.export_state() == state
    assert copy.stats.applied_ids == part.stats.applied_ids and copy.applied(0)


def test_every_checkpoint_record_fits_a_kafka_message_whatever_the_rate() -> None:
    """A minute of applied ActionIDs at a high rate is megabytes: no changelog record may be."""
    from pipeline.stats.config import load_config
    from pipeline.stream.checkpoint import MAX_BUCKET_BYTES

    part = _PartitionStats(0, load_config(None))
    for n in range(40_000):  # 40,000 actions in one second of event time: one "ids" chunk of ~2 MB
        part.stats.applied_ids[f"{n:032x}"] = 60_000
    part.stats.push({**action("x", 60_500), "MediaTypeID": "email"}, None)
    part.stats.release_to(70_000)
    part.mark(0)
    entries = part.entries("A")
    assert max(len(v) for v in entries.values()) <= MAX_BUCKET_BYTES
    copy = _PartitionStats(0, load_config(None))
    copy.restore({**entries, part.marker_key: part.marker("A")})
    assert copy.stats.applied_ids == part.stats.applied_ids
    assert copy.stats.engine.export_state() == part.stats.engine.export_state()


def test_stage_three_keeps_one_string_per_repeated_value_of_decoded_actions() -> None:
    """Decoded from JSON, each action has its own strings; stage 3 holds a whole instant of them, so
    the repeated fields are interned (one object per value), the others left as decoded."""
    from pipeline.core.steps import bundle_value
    from pipeline.stats.ordered import shared_strings
    from pipeline.stream.delivery import dumps, loads

    made = [{**action(f"id{n}", 1000 + n, "agent-7"), "MediaTypeID": "email"} for n in range(2)]
    text = dumps(bundle_value(made))
    first, second = ([shared_strings(a) for a in loads(text)["Actions"]] for _ in range(2))
    for a, b in ((first[0], second[0]), (first[0], first[1])):
        assert all(a[field] is b[field] for field in ("ObjectID", "MediaTypeID", "Action", "TenantID"))
    assert first[0] == made[0] and first[0]["ActionID"] is not second[0]["ActionID"]  # unique: left alone


def test_a_decoded_input_lets_go_of_its_bytes_and_keeps_its_offset() -> None:
    """Stages 3 and 4 keep an input's event until a checkpoint acknowledges it: its bytes go."""
    from faust.events import Event
    from faust.types.tuples import ConsumerMessage

    from pipeline.stream.batches import drop_payload

    payload = b'{"Actions":[]}'
    message = ConsumerMessage("t", 3, 17, 0.0, 0, None, b"k", payload, None)
    event = Event(None, b"k", payload, None, message)
    assert drop_payload(event) == payload
    assert event.value is None and message.value is None
    assert (message.partition, message.offset, message.tp) == (3, 17, ("t", 3))
    assert drop_payload(event) == b""  # a second look finds nothing, and says so with empty bytes
