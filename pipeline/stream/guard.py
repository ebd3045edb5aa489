"""What keeps a stage's input whole across rebalances: partitions opened afresh, an offset guard.

Several workers with the same app id share the input partitions, and every join, leave or crash
moves some of them. faust-streaming repositions the partitions a worker gets back in ways its issue
tracker shows to be fragile: messages prefetched before a rebalance arrive after it with offsets
above the committed one (#221; #216 for the order of seek and resume), a partition back after two
rebalances may never commit (#318), some partitions stop fetching (#629; also #323, #502). And one
message ahead of faust's read offset makes faust record the offsets between as a *gap* it treats as
acknowledged, and drop the messages it then reads below that offset: both lose input silently.

So a stage does not trust the position it is handed. Per (topic, partition) it keeps the next
offset it expects (:class:`OffsetGuard`, pure, no faust):

* **every assignment opens each partition afresh**: the stage drops what it holds in memory for
  it (reorder windows, waiting acks, write-behind cache: the ``on_open`` callback; its table is
  read again when next used) and the first input of the partition fixes the expectation at the
  group's committed offset, asked of the broker. If that input is not the committed one, the
  stage seeks there explicitly, so the inputs it held before the rebalance are delivered again;
* an input **ahead** of the expected offset is not processed (nor acknowledged): the stage seeks
  back to the expected offset (again after :data:`RESEEK_AFTER_S` if the seek does not take),
  and clears faust's read offset and gap for the partition;
* an input **below** it is a redelivery: it goes on, and the stage drops it as a repeat as it
  always has (states remember the inputs they hold);
* a partition **silent while it has lag** (assigned, end offset above the expected one, nothing
  received for :data:`SILENT_AFTER_S`) is reported once in the log and in ``/metrics``.

An input passes only when its offset is the one expected, so what a stage processes of a partition
is a run of consecutive offsets from the committed one, and its in-order acknowledgements
(:class:`pipeline.stream.delivery.InOrderAcks`) can never commit past an input it has not seen.
:class:`StageGuard` is the faust side: it connects to the app's assignment signal, filters each
batch (:meth:`StageGuard.batches` replaces ``stream.noack_take``), seeks, and watches for silence.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pipeline import telemetry
from pipeline.stream.batches import BATCH_WITHIN_S, MAX_BATCH

log = logging.getLogger(__name__)

#: A partition with lag that delivers nothing for this long is reported (log once, /metrics).
SILENT_AFTER_S = 15.0
#: A partition that received nothing for this long has its end offset asked (its lag clock starts).
QUIET_S = 2.0
#: A seek back that has not brought the expected input within this time is made again: a message
#: fetched before it may have moved faust's read offset past the expected one once more.
RESEEK_AFTER_S = 1.0

TopicPartition = tuple[str, int]  # faust's TP is a named (topic, partition) tuple, equal to this


class Verdict(enum.Enum):
    """What a stage does with one input."""

    PASS = "pass"  # the expected offset: process it
    REPEAT = "repeat"  # below the expected offset: a redelivery, processed (and dropped as a repeat)
    AHEAD = "ahead"  # above it: not processed; seek back to the expected offset
    OPEN = "open"  # the partition was just assigned: ask for its committed offset first
    NOT_OURS = "not-ours"  # a partition this worker does not hold (a message from before a rebalance)


@dataclass
class _Position:
    """The guard's view of one assigned partition."""

    epoch: int
    opened_at: float
    expected: int | None = None  # the next offset to process; None until opened
    opening: bool = True  # no committed offset asked yet since the assignment
    seek_wanted: bool = False  # an input came ahead of ``expected``
    seek_at: float | None = None  # when the last seek back to ``expected`` was made
    last_received: float | None = None  # when an input passed or repeated
    silent: bool = False  # reported silent (cleared when it receives again)
    lag_since: float | None = None  # when the guard first saw an end offset above the expected one
    counts: dict[str, int] = field(default_factory=dict)

    def quiet_since(self) -> float:
        return self.opened_at if self.last_received is None else max(self.opened_at, self.last_received)


class OffsetGuard:
    """Per (topic, partition), the next offset a stage expects, and what to do with each input.

    Pure bookkeeping with an injectable clock, so that its rules are tested without a broker.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        reseek_after_s: float = RESEEK_AFTER_S,
        silent_after_s: float = SILENT_AFTER_S,
    ) -> None:
        self.clock = clock
        self.reseek_after_s = reseek_after_s
        self.silent_after_s = silent_after_s
        self.positions: dict[TopicPartition, _Position] = {}
        self.assigned_once = False  # before the first assignment every partition seen is opened
        self._epochs: dict[TopicPartition, int] = {}

    # --- assignment --------------------------------------------------------------------------

    def assign(self, tps: Iterable[TopicPartition]) -> None:
        """A new assignment: every partition in it opens afresh (its expectation is forgotten)."""
        now = self.clock()
        self.assigned_once = True
        mine = {tuple(tp) for tp in tps}
        for tp in [tp for tp in self._epochs if tp not in mine]:
            self._epochs[tp] += 1  # an event handed out before stays stale if the partition comes back
        self.positions = {}
        for tp in mine:
            epoch = self._epochs.get(tp, 0) + 1
            self._epochs[tp] = epoch
            self.positions[tp] = _Position(epoch=epoch, opened_at=now)

    def opened(self, tp: TopicPartition, committed: int | None, earliest: int | None = None) -> int | None:
        """Fix the expectation of a newly opened partition: the committed offset, or the earliest one
        still on the broker when nothing was committed or retention deleted the committed one."""
        pos = self._position(tp)
        expected = committed
        if earliest is not None and (expected is None or expected < earliest):
            expected = earliest
        pos.expected, pos.opening = expected, False
        pos.seek_wanted, pos.seek_at = False, None
        return expected

    def epoch(self, tp: TopicPartition) -> int:
        """Changes each time the partition is opened or taken away: a stage's events of an older
        epoch belong to a state it has dropped."""
        return self._epochs.get(tuple(tp), 0)

    # --- each input --------------------------------------------------------------------------

    def check(self, tp: TopicPartition, offset: int) -> Verdict:
        pos = self.positions.get(tuple(tp))
        if pos is None:
            if self.assigned_once:
                return Verdict.NOT_OURS
            pos = self._position(tp)  # the signal has not come yet: open it on its first input
        if pos.opening:
            return Verdict.OPEN
        if pos.expected is None or offset == pos.expected:
            pos.expected = offset + 1
            pos.seek_wanted, pos.seek_at = False, None
            self._received(pos)
            return Verdict.PASS
        if offset < pos.expected:
            self._received(pos)
            return Verdict.REPEAT
        pos.seek_wanted = True
        return Verdict.AHEAD

    def seek_due(self, tp: TopicPartition) -> int | None:
        """The offset to seek ``tp`` back to now, if an input came ahead and no recent seek is pending."""
        pos = self.positions.get(tuple(tp))
        if pos is None or not pos.seek_wanted or pos.expected is None:
            return None
        now = self.clock()
        if pos.seek_at is not None and now - pos.seek_at < self.reseek_after_s:
            return None
        pos.seek_at = now
        return pos.expected

    # --- silence ---------------------------------------------------------------------------

    def hold_quiet(self) -> None:
        """Time spent rebalancing (partitions paused while tables recover) is not silence."""
        now = self.clock()
        for pos in self.positions.values():
            pos.opened_at = max(pos.opened_at, now)
            pos.lag_since = None

    def quiet(self, after_s: float = QUIET_S) -> list[TopicPartition]:
        """Partitions that received nothing for ``after_s``: their lag is worth asking for."""
        now = self.clock()
        return [tp for tp, pos in self.positions.items() if now - pos.quiet_since() >= after_s]

    def silent(self, tp: TopicPartition, end_offset: int | None, position: int | None) -> bool:
        """Whether ``tp`` is silent with lag: ``end_offset`` above ``position`` for the silence limit
        (a message produced a moment ago is lag too, but not yet silence), with nothing received
        meanwhile. True only the first time."""
        pos = self.positions.get(tuple(tp))
        if pos is None or end_offset is None or position is None:
            return False
        if end_offset <= position:
            pos.lag_since = None
            return False
        now = self.clock()
        if pos.lag_since is None:
            pos.lag_since = now
        if pos.silent or now - max(pos.lag_since, pos.quiet_since()) < self.silent_after_s:
            return False
        pos.silent = True
        return True

    def silent_partitions(self) -> list[TopicPartition]:
        return [tp for tp, pos in self.positions.items() if pos.silent]

    # --- internals -------------------------------------------------------------------------

    def _position(self, tp: TopicPartition) -> _Position:
        key = tuple(tp)
        pos = self.positions.get(key)
        if pos is None:
            epoch = self._epochs.get(key, 0) + 1
            self._epochs[key] = epoch
            pos = self.positions[key] = _Position(epoch=epoch, opened_at=self.clock())
        return pos

    def _received(self, pos: _Position) -> None:
        pos.last_received = self.clock()
        pos.silent = False
        pos.lag_since = None


class StageGuard:
    """The offset guard of one stage on its input topic, wired to a faust app.

    ``on_open(partitions)`` drops what the stage holds in memory (called at every assignment with
    the numbers of the partitions assigned, before any input of the new assignment); ``forget``
    lists mappings keyed by partition number to empty as well (a stage's per-partition state), for
    stages that need nothing more.
    """

    def __init__(
        self,
        app: Any,
        stage: str,
        topic: str,
        on_open: Callable[[list[int]], None] | None = None,
        forget: Iterable[MutableMapping] = (),
        guard: OffsetGuard | None = None,
        end_offsets: Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]] | None = None,
    ) -> None:
        self.app = app
        self.stage = stage
        self.topic = topic
        self.on_open = on_open
        self.forget = list(forget)
        self.guard = guard or OffsetGuard()
        self.counts = telemetry.STAGES[stage]
        # Each admitted event → the epoch of its partition then (events live while the stage holds them).
        self._admitted: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._watcher: asyncio.Task | None = None
        self._starts: dict[tuple[TopicPartition, int], int] = {}  # (partition, epoch) → first offset
        self._ends: dict[TopicPartition, int] = {}  # end offsets last asked of the broker
        self._ends_at: float | None = None  # when
        # Who asks the broker for them: by default faust's consumer, whose request waits behind its
        # long-poll fetch; a stage that asks in its batch loop passes pipeline.stream.offsets'.
        self._end_offsets = end_offsets
        app.on_partitions_assigned.connect(self._assigned)

    # --- faust hooks ---------------------------------------------------------------------------

    async def _assigned(self, sender: Any = None, assigned: Iterable[Any] = (), **kwargs: Any) -> None:
        """Every assigned partition of the topic opens afresh; the stage's memory of all goes."""
        mine = [(tp.topic, tp.partition) for tp in assigned if tp.topic == self.topic]
        self.guard.assign(mine)
        for mapping in self.forget:
            mapping.clear()
        if self.on_open is not None:
            self.on_open(sorted(partition for _, partition in mine))
        for key in [k for k in telemetry.SILENT_PARTITIONS if k[0] == self.stage]:
            del telemetry.SILENT_PARTITIONS[key]
        log.info("%s: %d partitions of %s opened afresh", self.stage, len(mine), self.topic)

    async def batches(
        self, stream: Any, max_batch: int = MAX_BATCH, within_s: float = BATCH_WITHIN_S
    ) -> AsyncIterator[list]:
        """The stage's batches (as ``stream.noack_take``), holding only inputs it may process.

        Also runs the guard's watch (re-seeks, silent partitions) while the stage reads.
        """
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())
        try:
            async for events in stream.noack_take(max_batch, within_s):
                admitted = await self.admit(events)
                if admitted:
                    yield admitted
        finally:
            self._watcher.cancel()

    async def admit(self, events: list) -> list:
        """The events of ``events`` to process, in order; seeks back where one came ahead."""
        guard = self.guard
        admitted = []
        ahead: set[TopicPartition] = set()
        for event in events:
            msg = event.message
            tp = (msg.topic, msg.partition)
            verdict = guard.check(tp, msg.offset)
            if verdict is Verdict.OPEN:
                await self._open(tp)
                verdict = guard.check(tp, msg.offset)
            if verdict is Verdict.PASS or verdict is Verdict.REPEAT:
                self.counts["guard:repeat"] += verdict is Verdict.REPEAT
                self._admitted[event] = guard.epoch(tp)  # judged against this opening
                admitted.append(event)
            elif verdict is Verdict.AHEAD:
                self.counts["guard:ahead"] += 1
                ahead.add(tp)
            elif verdict is Verdict.NOT_OURS:
                self.counts["guard:not-ours"] += 1
            # OPEN again: the committed offset could not be had; the next input tries again
        for tp in ahead:
            await self._seek(tp)
        # A rebalance while this batch waited for the broker: what was judged before it is stale.
        return [event for event in admitted if self.current(event)]

    def current(self, event: Any) -> bool:
        """The event's partition has not been opened again (or taken away) since the event was
        admitted: its effects may still be written and acknowledged."""
        epoch = self._admitted.get(event)
        return epoch is not None and epoch == self.guard.epoch((event.message.topic, event.message.partition))

    # --- unread input ----------------------------------------------------------------------

    def unread(self) -> dict[int, int]:
        """Assigned partitions with input the stage has not processed yet → how much, as far as
        the consumer's last fetch knows its end offset (no broker request: called per batch).

        A partition not opened yet counts from the offset :meth:`learn_starts` found for it; one
        whose start is not known yet is left out (reported by a later call).
        """
        consumer = self.app.consumer
        out: dict[int, int] = {}
        for tp, pos in list(self.guard.positions.items()):
            start = pos.expected if pos.expected is not None else self._starts.get((tp, pos.epoch))
            if start is None:
                continue
            try:
                end = consumer.highwater(_tp(tp))
            except Exception:  # not assigned to the consumer (a rebalance under way)
                end = None
            end = max(int(end or 0), self._ends.get(tp, 0))
            if end > start:
                out[tp[1]] = end - start
        return out

    async def refresh_ends(self, every_s: float = 1.0) -> None:
        """Ask the broker for the end offsets of every assigned partition (at most every
        ``every_s``): the consumer knows a partition's end only from its last fetch of it, and the
        first input after a quiet spell comes from one fetch, which may not show the others' yet."""
        now = time.monotonic()
        if self._ends_at is not None and now - self._ends_at < every_s:
            return
        self._ends_at = now
        tps = list(self.guard.positions)
        if not tps:
            return
        try:
            if self._end_offsets is not None:
                asked = await self._end_offsets(tps)
                self._ends = {tp: asked[tp] for tp in tps if tp in asked}
                return
            ends = await self.app.consumer.highwaters(*[_tp(tp) for tp in tps])
        except Exception:  # a rebalance under way: next time
            return
        self._ends = {tp: int(ends[_tp(tp)]) for tp in tps if ends.get(_tp(tp)) is not None}

    async def learn_starts(self) -> None:
        """For each assigned partition not opened yet (nothing read since the assignment), the
        offset its input starts at — the committed one, or the earliest still on the broker — so
        that :meth:`unread` can tell a partition with input waiting from an empty one."""
        for tp, pos in list(self.guard.positions.items()):
            key = (tp, pos.epoch)
            if pos.expected is not None or key in self._starts:
                continue
            try:
                committed = await self._committed(tp)
                earliest = (await self.app.consumer.earliest_offsets(_tp(tp))).get(_tp(tp))
            except Exception:  # a rebalance under way: next time
                continue
            start = committed
            if earliest is not None and (start is None or start < earliest):
                start = earliest
            if start is not None:
                self._starts[key] = int(start)

    # --- the consumer ----------------------------------------------------------------------

    async def _open(self, tp: TopicPartition) -> None:
        epoch = self.guard.epoch(tp)
        try:
            committed = await self._committed(tp)
            earliest = (await self.app.consumer.earliest_offsets(_tp(tp))).get(_tp(tp))
        except Exception as exc:  # a rebalance under way: the partition opens on a later input
            log.info("%s: committed offset of %s:%d not available yet: %r", self.stage, *tp, exc)
            return
        if self.guard.epoch(tp) != epoch:  # assigned again meanwhile: opened on a later input
            return
        expected = self.guard.opened(tp, committed, earliest)
        log.info("%s: %s:%d opened at offset %s (committed %s)", self.stage, *tp, expected, committed)

    async def _committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of ``tp``, asked of the broker (not faust's cached one),
        through the consumer's own thread (aiokafka runs there)."""
        thread = self.app.consumer._thread
        return await thread.call_thread(thread._ensure_consumer().committed, _tp(tp))

    async def _seek(self, tp: TopicPartition) -> None:
        offset = self.guard.seek_due(tp)
        if offset is not None and await self._seek_to(tp, offset):
            log.info("%s: %s:%d delivered an offset ahead of %d; sought back", self.stage, *tp, offset)

    async def _seek_to(self, tp: TopicPartition, offset: int) -> bool:
        """Seek ``tp`` to ``offset`` and count it; False when the seek failed."""
        consumer = self.app.consumer
        try:
            await consumer.seek_wait({_tp(tp): offset})  # also moves faust's read offset back
        except Exception as exc:  # no longer assigned: the next assignment opens it afresh
            log.info("%s: seek of %s:%d to %d failed: %r", self.stage, *tp, offset, exc)
            return False
        consumer._gap.pop(_tp(tp), None)  # offsets faust took as acknowledged past a jump ahead
        self.counts["guard:seeks"] += 1
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._watch_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the watch end the stage
                log.info("%s: offset guard watch: %r", self.stage, exc)

    async def _watch_once(self) -> None:
        """Every second: seek again where a seek back has not taken; report silent partitions."""
        guard = self.guard
        if getattr(self.app, "rebalancing", False):
            guard.hold_quiet()
            return
        for tp in list(guard.positions):
            await self._seek(tp)
        silent_now = set(guard.silent_partitions())
        for key in [k for k in telemetry.SILENT_PARTITIONS if k[0] == self.stage]:
            if key[1:] not in silent_now:  # it delivers again
                del telemetry.SILENT_PARTITIONS[key]
        quiet = guard.quiet()
        if not quiet:
            return
        try:
            ends = await self.app.consumer.highwaters(*[_tp(tp) for tp in quiet])
        except Exception:  # a rebalance under way: look again next time
            return
        for tp in quiet:
            pos = guard.positions.get(tp)
            if pos is None:
                continue
            position = pos.expected
            end = ends.get(_tp(tp))
            if position is None and end:  # not opened yet: nothing came since the assignment
                try:
                    position = await self._committed(tp) or 0
                except Exception:
                    continue
            if guard.silent(tp, end, position):
                lag = int(end) - int(position)
                self.counts["guard:silent"] += 1
                telemetry.SILENT_PARTITIONS[(self.stage, tp[0], tp[1])] = lag
                log.warning(
                    "%s: partition %s:%d has had %d messages to read for %.0f s and received none "
                    "(position %d, end %d; %s); seeking it to %d",
                    self.stage, tp[0], tp[1], lag, guard.silent_after_s, position, end,
                    self._fetch_state(tp), position,
                )
                await self._seek_silent(tp, int(position))

    async def _seek_silent(self, tp: TopicPartition, offset: int) -> None:
        """Seek a silent partition to the offset it should deliver next.

        Seen after a restart on a new disk: faust fetched the partition (active, not paused, its
        recovery completed), yet the one message waiting never came for 120 s. The likely cause
        (not proven) is a consumer position already past it: an input ahead of the expected
        offset makes the guard seek back, but when the passed message was the last one, no input
        comes to do that. Seeking to where the consumer already is costs one fetch again.
        """
        await self._seek_to(tp, offset)

    def _fetch_state(self, tp: TopicPartition) -> str:
        """What faust's consumer holds about ``tp`` and its recovery, for the silent-partition
        warning: whether it is among the partitions faust fetches (active), has paused, or has
        taken out for a full stream buffer, and whether the tables' recovery has completed. A
        partition left paused after a recovery is the first suspect of a silence with messages
        to read (README, "Watch — a partition not fetched after a restart on a new disk")."""
        consumer, faust_tp = self.app.consumer, _tp(tp)

        def member(name: str) -> str:
            held = getattr(consumer, name, None)
            return "?" if held is None else "yes" if faust_tp in held else "no"

        recovery = getattr(getattr(self.app, "tables", None), "recovery", None)
        completed = getattr(recovery, "completed", None)
        done = "?" if completed is None else "yes" if completed.is_set() else "no"
        return (f"faust active {member('_active_partitions')}, paused {member('_paused_partitions')}, "
                f"buffer-full {member('_buffered_partitions')}; "
                f"in recovery {getattr(self.app, 'in_recovery', '?')}, recovery completed {done}")


def _tp(tp: TopicPartition) -> Any:
    """faust's TP (the consumer's calls want its type)."""
    from faust.types import TP

    return TP(tp[0], tp[1])


def guarded(
    app: Any,
    stream: Any,
    stage: str,
    forget: MutableMapping,
    max_batch: int = MAX_BATCH,
    within_s: float = BATCH_WITHIN_S,
) -> AsyncIterator[list]:
    """A stage's guarded batches in one call, for a stage whose per-partition state is one mapping
    (emptied at every assignment): ``async for events in guarded(app, stream, "stage3", parts)``.

    The guard is made when the stage starts reading; an assignment before that finds the mapping
    empty anyway, and the partitions are then opened on their first input.
    """
    topic = stream.channel.get_topic_name()
    return StageGuard(app, stage, topic, forget=[forget]).batches(stream, max_batch, within_s)
