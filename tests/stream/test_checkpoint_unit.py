"""The checkpoint machinery stages 3 and 4 share (pipeline/stream/checkpoint.py), over any state with
``export_state()``/``import_state()``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pipeline.stream.checkpoint import Checkpoint, Input


class Toy:
    """A state with one large mapping (written per key) and small fields (one ``meta`` entry)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"version": 1, "clock": None, "items": {}}

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        return {**self.data, "items": dict(self.data["items"])}

    def import_state(self, data: dict[str, Any]) -> None:
        self.data = {"version": data["version"], "clock": data["clock"], "items": dict(data["items"])}


def event(offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(offset=offset, partition=3))


def test_any_state_round_trips_through_the_table_entries() -> None:
    toy = Toy()
    toy.data["clock"] = 42
    toy.data["items"] = {f"k{n}": {"n": n, "text": "x" * 50} for n in range(5000)}
    part = Checkpoint(3, toy, {"items": "it"})
    part.done(event(0))
    entries = part.entries("A")
    assert all(key.startswith("3|A|bucket|") for key in entries)
    assert 1 < len(entries) < 100  # buckets, not one entry per item
    copy = Checkpoint(3, Toy(), {"items": "it"})
    pos = copy.restore({**entries, part.marker_key: part.marker("A", {"extra-field": 7})})
    assert copy.state.export_state() == toy.export_state()
    assert pos is not None and pos["extra-field"] == 7 and copy.applied(0) and copy.current == "A"


def test_a_checkpoint_cut_short_restores_the_previous_complete_space() -> None:
    """The marker moves only after a space is written: entries of B without a marker naming B are
    ignored, and the inputs applied after A are not counted as applied."""
    toy = Toy()
    toy.data["items"] = {"a": 1}
    part = Checkpoint(0, toy, {"items": "it"})
    part.done(event(0))
    table = {**part.entries("A"), part.marker_key: part.marker("A")}
    toy.data["items"] = {"a": 2, "b": 3}
    part.applied_tags([Input(1, event(1))])
    table.update(part.entries("B"))  # a crash before the marker names B
    copy = Checkpoint(0, Toy(), {"items": "it"})
    copy.restore(table)
    assert copy.state.data["items"] == {"a": 1}
    assert copy.applied(0) and not copy.applied(1)


def test_no_checkpoint_yet_leaves_the_state_as_it_is() -> None:
    part = Checkpoint(0, Toy(), {"items": "it"})
    assert part.restore({}) is None and part.low == -1 and part.current is None


def test_items_restored_without_their_input_are_not_counted() -> None:
    """stage 4 keeps held updates in its checkpoint: after a restore they come out with no tag."""
    part = Checkpoint(0, Toy(), {"items": "it"})
    tag = Input(5, event(5), left=1)
    part.applied_tags([None, tag, None])
    assert part.unacked == [tag.event] and part.applied(5) and not part.applied(4)


def test_a_costly_checkpoint_makes_the_next_one_wait_in_proportion() -> None:
    from pipeline.stream.checkpoint import COST_FACTOR

    part = Checkpoint(0, Toy(), {"items": "it"})
    part.last_checkpoint = 100.0
    assert not part.due(101.0, every_s=2.0) and part.due(102.0, every_s=2.0)
    part.last_cost = 1.5  # a big state: 1.5 s to export and encode
    assert not part.due(100.0 + 2.0, every_s=2.0)
    assert part.due(100.0 + COST_FACTOR * 1.5, every_s=2.0)


def test_a_checkpoint_of_an_engine_encodes_what_its_deep_copy_holds_and_changes_nothing() -> None:
    """Checkpoints export without the deep copy (``export_state(copy=False)``): the same entries as
    from the copy, and the engine (partial bookkeeping in ``meta`` included) left as it was."""
    import json

    from pipeline.core.driver import CoreDriver
    from pipeline.records.validation import validate_event
    from pipeline.simulate import Simulator
    from pipeline.stats.config import load_config
    from pipeline.stats.partials import PartialStats
    from pipeline.stream.statistics import SECTIONS, _Saved

    config = load_config(None)
    sim = Simulator(agents=4, hours=0.5, per_hour=120, seed=3, tenant="t1", start="2026-05-11T08:00:00Z")
    actions = CoreDriver(config.capacity).push_all([validate_event(e) for e in sim.events()])
    stats = PartialStats(config, source=0, partitions=2)
    for action in actions:
        stats.push_rows(action)
    stats.release_to_rows(actions[-1]["EventTime"])
    saved = _Saved(stats)
    meta_before = json.dumps(stats.engine._meta, sort_keys=True)
    view = Checkpoint(0, saved, SECTIONS).entries("A")

    class Copied:
        def export_state(self, copy: bool = True) -> dict[str, Any]:
            return saved.export_state(copy=True)

    assert len(view) > 1
    assert view == Checkpoint(0, Copied(), SECTIONS).entries("A")
    assert json.dumps(stats.engine._meta, sort_keys=True) == meta_before
    assert "partials" not in stats.engine._meta


def test_a_bucket_over_the_limit_is_halved_until_each_fits(monkeypatch) -> None:
    """A run of entries whose text is over MAX_BUCKET_BYTES is written as halves (a changelog record
    must fit a Kafka message), and the halves restore the same state."""
    import pipeline.stream.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "BUCKET_BYTES", 4_000)
    monkeypatch.setattr(checkpoint, "MAX_BUCKET_BYTES", 2_500)  # below a run's size
    toy = Toy()
    toy.data["items"] = {f"k{n}": {"n": n, "text": "y" * 60} for n in range(400)}
    part = Checkpoint(1, toy, {"items": "it"})
    entries = part.entries("A")
    assert max(len(v) for v in entries.values()) <= 2_500
    assert len(entries) > 400 * 80 // 4_000  # more buckets than runs of BUCKET_BYTES
    copy = Checkpoint(1, Toy(), {"items": "it"})
    copy.restore({**entries, part.marker_key: part.marker("A")})
    assert copy.state.export_state() == toy.export_state()


def test_a_new_entry_changes_its_own_bucket_only() -> None:
    """Buckets are runs of entries cut where a key hashes to 0 (``CHUNK_KEYS``): an entry added in
    the middle of the order leaves every other bucket's text as it was, so a checkpoint rewrites
    one bucket (cut by position or by count alone, every bucket after it would move)."""
    toy = Toy()
    toy.data["items"] = {f"k{n}": {"n": n} for n in range(3000)}
    part = Checkpoint(0, toy, {"items": "it"})
    before = part.entries("A")
    items = list(toy.data["items"].items())
    toy.data["items"] = dict(items[:1500] + [("new", {"n": -1})] + items[1500:])
    after = part.entries("A")
    assert len(before) > 5
    assert len(set(after.items()) - set(before.items())) == 1
    assert len(set(before.items()) - set(after.items())) == 1


def test_a_checkpoint_holds_one_bucket_of_text_at_a_time() -> None:
    """Each bucket is handed on as it is made: the entries of the buckets already given are not
    encoded again nor held, and the next ones are not encoded yet."""
    read: list[str] = []

    class Counted(dict):
        def items(self):  # type: ignore[override]
            for key, value in super().items():
                read.append(key)
                yield key, value

    class Lazy(Toy):
        def export_state(self, copy: bool = True) -> dict[str, Any]:
            return {**self.data, "items": Counted(self.data["items"])}

    toy = Lazy()
    toy.data["items"] = {f"k{n}": {"n": n} for n in range(3000)}
    buckets = Checkpoint(0, toy, {"items": "it"}).buckets("A")
    next(buckets)  # the meta entry's bucket and the first run of items
    first = len(read)
    assert 0 < first < 3000 // 4
    rest = list(buckets)
    assert len(read) == 3000 and len(rest) > 4


class _Table(dict):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, key, value) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_a_save_keeps_digests_and_writes_only_changed_buckets() -> None:
    """``written`` holds a digest per bucket, not the bucket's text (two spaces of text held the
    state twice over), and still tells an unchanged bucket: the third save, into space A again
    with one item changed since the first, writes one bucket and the marker."""
    import asyncio

    from pipeline.stream.checkpoint import save

    class App:
        class producer:  # noqa: N801 - the attribute faust's app has
            @staticmethod
            async def flush() -> None:
                return None

    class Stream:
        async def ack(self, event) -> None:
            return None

    toy = Toy()
    toy.data["items"] = {f"k{n}": {"n": n, "text": "z" * 50} for n in range(5000)}
    part = Checkpoint(2, toy, {"items": "it"})
    table = _Table()
    asyncio.run(save(App(), table, part, Stream()))  # A
    asyncio.run(save(App(), table, part, Stream()))  # B
    buckets = len(part.written["A"])
    assert buckets >= 4 and all(isinstance(d, bytes) and len(d) == 16 for d in part.written["A"].values())
    toy.data["items"]["k7"] = {"n": -7}
    table.writes = 0
    asyncio.run(save(App(), table, part, Stream()))  # A again
    assert table.writes == 2  # the bucket holding k7, and the marker
    copy = Checkpoint(2, Toy(), {"items": "it"})
    copy.restore({k.decode(): v.decode() for k, v in table.items()})
    assert copy.state.export_state() == toy.export_state() and copy.current == "A"


def test_an_engine_s_accumulators_view_is_its_export() -> None:
    """``export_state(copy=False)`` gives the accumulators as a view made one at a time: the same
    keys, order and data as the copied export, and a restore from either gives the same engine."""
    from pipeline.core.driver import CoreDriver
    from pipeline.records.validation import validate_event
    from pipeline.simulate import Simulator
    from pipeline.stats.config import load_config
    from pipeline.stats.engine import AccumulatorsView
    from pipeline.stats.ordered import OrderedStats
    from pipeline.stream.checkpoint import Decoded

    config = load_config(None)
    sim = Simulator(agents=4, hours=0.5, per_hour=120, seed=5, tenant="t1", start="2026-05-11T08:00:00Z")
    stats = OrderedStats(config)
    for action in CoreDriver(config.capacity).push_all([validate_event(e) for e in sim.events()]):
        stats.push_rows(action)
    stats.flush_rows()
    copied = stats.engine.export_state()["accumulators"]
    view = stats.engine.export_state(copy=False)["accumulators"]
    assert isinstance(view, AccumulatorsView) and len(view) == len(copied) > 100
    assert list(view) == list(copied) and list(dict(view.items())) == list(copied)
    assert dict(view.items()) == copied
    key = next(iter(copied))
    assert view[key] == copied[key] and key in view and "Nope/Agent/t1/x" not in view

    import orjson

    state = stats.engine.export_state()
    lazy = {**state, "accumulators": Decoded({k: orjson.dumps(v).decode() for k, v in copied.items()}),
            "objects": Decoded({k: orjson.dumps(v).decode() for k, v in state["objects"].items()})}
    again, twice = OrderedStats(config), OrderedStats(config)
    again.engine.import_state(lazy)
    twice.engine.import_state(state)
    assert again.engine.export_state() == twice.engine.export_state() == state
    state["accumulators"][key]["n"] = 99  # the importer keeps a copy of its own
    assert twice.engine.export_state()["accumulators"][key]["n"] != 99


def test_a_large_checkpoint_waits_for_the_changelog_as_it_writes(monkeypatch) -> None:
    """faust holds a table's changelog records until they are sent: a checkpoint flushes after each
    FLUSH_BYTES it wrote, with the partition marked ``saving`` meanwhile, then once at the end."""
    import asyncio

    import pipeline.stream.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "FLUSH_BYTES", 20_000)
    toy = Toy()
    toy.data["items"] = {f"k{n}": {"n": n, "text": "z" * 50} for n in range(5000)}
    part = Checkpoint(2, toy, {"items": "it"})
    table = _Table()
    seen: list[tuple[int, bool]] = []

    class App:
        class producer:  # noqa: N801 - the attribute faust's app has
            @staticmethod
            async def flush() -> None:
                seen.append((table.writes, part.saving))

    class Stream:
        async def ack(self, event) -> None:
            return None

    asyncio.run(checkpoint.save(App(), table, part, Stream()))
    written = sum(len(v) for k, v in table.items() if k != part.marker_key.encode())
    largest = max(len(v) for v in table.values())
    assert len(seen) - 1 >= written // (20_000 + largest) and len(seen) > 3  # one flush ≤ 20 kB + a bucket
    assert all(saving for _writes, saving in seen[:-1]) and seen[-1] == (table.writes - 1, False)
    assert not part.saving


def test_a_large_meta_entry_is_cut_into_parts_that_fit() -> None:
    """What is not a section goes into one ``meta`` entry, which can be megabytes (stage 4's held
    updates): it is cut into parts like any long entry, and every bucket fits a Kafka message."""
    from pipeline.stream.checkpoint import MAX_BUCKET_BYTES

    toy = Toy()
    toy.data["clock"] = [{"held": n, "text": "q" * 40} for n in range(60_000)]  # about 3.5 MB
    toy.data["items"] = {f"k{n}": {"n": n} for n in range(100)}
    part = Checkpoint(0, toy, {"items": "it"})
    entries = part.entries("A")
    assert max(len(v) for v in entries.values()) <= MAX_BUCKET_BYTES and len(entries) > 10
    copy = Checkpoint(0, Toy(), {"items": "it"})
    copy.restore({**entries, part.marker_key: part.marker("A")})
    assert copy.state.export_state() == toy.export_state()
