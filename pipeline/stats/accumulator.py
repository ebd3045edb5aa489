"""The state of one (statistic, object) and how actions change it, in O(1) per action.

Each statistic is compiled once into a :class:`Plan` (``compile_plan``): which parts of the state
its category needs. An :class:`Accumulator` then keeps only those parts up to date:

- ``open``: the ongoing instances (durable action instances, or ``member|status`` for status
  subjects) with their start and whether they match M and R — the Current categories read them;
- ``count``: CurrentNumber(M), and, only when the category needs the timeline of that count
  (MaxNumber, MinNumber, AverageOfCurrentNumber, CurrentContinuousTime), its time integral and
  extremes in the buckets plus the continuous-run bookkeeping;
- the window of the time profile, in :class:`Bucket` sums of completions: Growing one bucket;
  Sliding a ring of epoch-aligned buckets with running totals (added on entry, subtracted when a
  bucket leaves the window), so a value never folds the buckets again; Selection the last N
  completions of M and of R; SinceLogin one session bucket between login and logout;
- ``members``: the current status of each member (status subjects);
- ``sent``: what the notifier last sent.

Everything is exported as JSON data (``to_json`` / ``from_json``) so a key-value store holds one
entry per accumulator. The window keeps the names ``b`` (bucket), ``bs`` (Sliding buckets by
start) and ``sM`` / ``sR`` (Selection completions) in that JSON.

**Merging** (``merge``): accumulators of the same statistic and object built from disjoint sets of
members' actions (the partials of a partitioned pipeline: every action of one member goes to the
same partial) merge into the accumulator of the whole: sums add, extremes of durations take the
max/min, ongoing instances and member statuses are unions, Selection keeps the last N of both by
completion time, and the CurrentNumber time integral adds. Two parts cannot be merged exactly and
:func:`merge` says so through :func:`mergeable`: MaxNumber / MinNumber (the extreme of a sum is not
the sum of the extremes) and CurrentContinuousTime (a run of "at least one open" of the whole is
not determined by the runs of the parts); and with SinceLogin, the categories that split durations
over the interval (TotalTime and those built on it), because a group's or tenant's interval starts
when it was first seen, later in a partial than in the whole, so the part of a duration before it
is lost. Those statistics must be computed where every member's actions meet — or, for the timeline
categories, by a merge that applies the partials' changes in one engine's order and keeps the
whole's own time line (:func:`mergeable_in_order`, :func:`adopt_timeline`: stage 4).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from math import copysign
from typing import Any, NamedTuple

from pipeline.records.keys import object_key
from pipeline.stats import profiles
from pipeline.stats.filters import attributes, evaluate
from pipeline.stats.model import Statistic

STATUS_SUBJECTS = frozenset({"DNStatus", "AgentStatus", "PlaceStatus"})
STATE_CATEGORIES = frozenset({"CurrentState", "CurrentStateReasons"})
OWN_OBJECT_TYPES = frozenset({"Agent", "Place"})
#: Categories that need the time line of CurrentNumber(M) (integral, extremes, continuous run).
TIMELINE_CATEGORIES = frozenset({"MaxNumber", "MinNumber", "AverageOfCurrentNumber", "CurrentContinuousTime"})
#: Categories that need each completion's duration split over the interval(s) (TotalTime sums).
SPLIT_CATEGORIES = frozenset(
    {"TotalTime", "ElapsedTimePercentage", "RelativeTimePercentage", "AverageNumberPerRelativeHour"}
)
#: Categories whose partials cannot be merged into the whole (see the module docstring).
UNMERGEABLE_CATEGORIES = frozenset({"MaxNumber", "MinNumber", "CurrentContinuousTime"})


def uses_status(stat: Statistic) -> bool:
    """Whether the accumulator is fed by status changes instead of raw actions."""
    return stat.stat_type.subject in STATUS_SUBJECTS or stat.stat_type.category in STATE_CATEGORIES


def mergeable_in_order(stat: Statistic) -> bool:
    """Whether stage 4 can compute this statistic from partials it applies in one engine's order.

    The timeline categories are: each partial update is one action's change, applied in the order
    one engine applies the actions, so the sum's CurrentNumber is known at every instant it changes
    and the whole keeps its own time line (:func:`adopt_timeline`). Only the SinceLogin split
    categories stay out (see :func:`mergeable`)."""
    return not (stat.profile.kind == "SinceLogin" and stat.stat_type.category in SPLIT_CATEGORIES)


def mergeable(stat: Statistic) -> bool:
    """Whether partial accumulators of this statistic merge into the whole (see ``merge``)."""
    if stat.profile.kind == "SinceLogin" and stat.stat_type.category in SPLIT_CATEGORIES:
        return False  # a group's "since first seen" starts later in a partial: time before it is lost
    return stat.stat_type.category not in UNMERGEABLE_CATEGORIES


@dataclass(slots=True, frozen=True)
class Plan:
    """What one statistic needs, decided once from its configuration."""

    stat: Statistic
    kind: str  # the time profile kind
    by_status: bool
    timeline: bool  # keep CurrentNumber's integral / extremes / continuous run
    split: bool  # split completions' durations over the interval's buckets
    selection_keep: int
    status_time: bool  # status subject: the ongoing status's time counts in TotalTime
    step: int  # Sliding: bucket length (ms)
    reach: int  # Sliding: from the current bucket's start back to the window's start (ms)
    masks: dict[str, tuple[bool, bool]]  # action name → (matches M, matches R), filled as names come
    current: list[int]  # Growing: [start, end) of the interval last asked for (``interval_start``)
    fresh: list[Bucket]  # Growing: the shared empty bucket of the current interval (``fresh_bucket``)

    def window_start(self, t: int) -> int:
        """Sliding: the start of the window at ``t`` (``profiles.window_start``, precomputed)."""
        step = self.step
        return (t // step) * step - self.reach


def compile_plan(stat: Statistic) -> Plan:
    category = stat.stat_type.category
    status_subject = stat.stat_type.subject in STATUS_SUBJECTS
    return Plan(
        stat=stat,
        kind=stat.profile.kind,
        by_status=uses_status(stat),
        timeline=category in TIMELINE_CATEGORIES,
        split=category in SPLIT_CATEGORIES,
        selection_keep=max(1, int(stat.profile.count)),
        status_time=status_subject and stat.profile.kind != "Selection",
        step=profiles.step_ms(stat.profile),
        reach=(profiles.bucket_count(stat.profile) - 1) * profiles.step_ms(stat.profile),
        masks={},
        current=[],
        fresh=[],
    )


class Instance(NamedTuple):
    """An ongoing instance: when it started, its name, whether it matches M and R."""

    start: int
    name: str
    main: bool
    rel: bool


#: The Instances made at one instant, by (name, matches M, matches R) (``shared_instance``).
_INSTANCES: dict[tuple[str, bool, bool], Instance] = {}
_INSTANCES_AT: list[int | None] = [None]


def shared_instance(t: int, name: str, main: bool, rel: bool) -> Instance:
    """``Instance(t, name, main, rel)``, one object for every accumulator an action opens it in.

    One Start reaches dozens of accumulators (every statistic naming it, for the agent, its groups
    and the tenant) and each kept its own equal tuple: 67 MB of the 830,000 ongoing instances of
    10,000 agents logged in on four media. Instances are immutable, so equal ones are
    interchangeable; only the current instant's are remembered (the actions reach the engine in
    time order, so the cache stays a handful of entries).
    """
    if _INSTANCES_AT[0] != t:
        _INSTANCES.clear()
        _INSTANCES_AT[0] = t
    key = (name, main, rel)
    inst = _INSTANCES.get(key)
    if inst is None:
        inst = _INSTANCES[key] = Instance(t, name, main, rel)
    return inst


class Completion(NamedTuple):
    """A completion kept by a Selection window."""

    end: int
    duration: int
    start: int
    in_range: bool


_ADDITIVE = (
    "number_main", "number_rel", "adjusted_main", "adjusted_rel", "time_main", "time_rel",
    "range_number", "range_time", "area",
)
_JSON_NAMES = {
    "start": "s", "number_main": "nM", "number_rel": "nR", "adjusted_main": "aM", "adjusted_rel": "aR",
    "time_main": "tM", "time_rel": "tR", "max_duration": "mx", "min_duration": "mn", "range_number": "rn",
    "range_time": "rt", "max_current": "cx", "min_current": "cn", "area": "ar",
}


@dataclass(slots=True)
class Bucket:
    """Sums of one interval (or one Sliding step): counts, durations in ms, extremes, area."""

    start: int
    number_main: int = 0  # completions matching M
    number_rel: int = 0  # completions matching R
    adjusted_main: int = 0  # their whole durations (ms)
    adjusted_rel: int = 0
    time_main: int = 0  # the parts of their durations inside this bucket (ms)
    time_rel: int = 0
    max_duration: int | None = None  # of completions matching M
    min_duration: int | None = None
    range_number: int = 0  # completions matching M whose duration is in the time range
    range_time: int = 0
    max_current: int | None = None  # extremes of CurrentNumber(M) while this bucket was current
    min_current: int | None = None
    area: int = 0  # ∫ CurrentNumber(M) dt (count·ms)

    def widen(self, n: int) -> None:
        if self.max_current is None or n > self.max_current:
            self.max_current = n
        if self.min_current is None or n < self.min_current:
            self.min_current = n

    def add_sums(self, other: Bucket, sign: int = 1) -> None:
        """Add (or subtract) the additive sums of ``other`` (running totals, merges; written out: a
        merge in stage 4 adds every Sliding bucket of every partial)."""
        if sign != 1:
            for name in _ADDITIVE:
                setattr(self, name, getattr(self, name) + sign * getattr(other, name))
            return
        self.number_main += other.number_main
        self.number_rel += other.number_rel
        self.adjusted_main += other.adjusted_main
        self.adjusted_rel += other.adjusted_rel
        self.time_main += other.time_main
        self.time_rel += other.time_rel
        self.range_number += other.range_number
        self.range_time += other.range_time
        self.area += other.area

    def subtract(self, other: Bucket) -> None:
        """``add_sums(other, -1)`` written out: a Sliding step drops a bucket per accumulator."""
        self.number_main -= other.number_main
        self.number_rel -= other.number_rel
        self.adjusted_main -= other.adjusted_main
        self.adjusted_rel -= other.adjusted_rel
        self.time_main -= other.time_main
        self.time_rel -= other.time_rel
        self.range_number -= other.range_number
        self.range_time -= other.range_time
        self.area -= other.area

    def holds_something(self) -> bool:
        """Whether any sum or extreme is set (a bucket that does not changes no value by leaving)."""
        return bool(
            self.number_main or self.number_rel or self.adjusted_main or self.adjusted_rel
            or self.time_main or self.time_rel or self.range_number or self.range_time or self.area
            or self.max_duration is not None or self.min_duration is not None
            or self.max_current is not None or self.min_current is not None
        )

    def merge_extremes(self, other: Bucket) -> None:
        a, b = self.max_duration, other.max_duration
        if b is not None and (a is None or b > a):
            self.max_duration = b
        a, b = self.min_duration, other.min_duration
        if b is not None and (a is None or b < a):
            self.min_duration = b
        a, b = self.max_current, other.max_current
        if b is not None and (a is None or b > a):
            self.max_current = b
        a, b = self.min_current, other.min_current
        if b is not None and (a is None or b < a):
            self.min_current = b

    def to_json(self) -> dict[str, Any]:
        # Written out (the names of ``_JSON_NAMES``): stage 3 serialises a partial per action.
        return {
            "s": self.start, "nM": self.number_main, "nR": self.number_rel, "aM": self.adjusted_main,
            "aR": self.adjusted_rel, "tM": self.time_main, "tR": self.time_rel, "mx": self.max_duration,
            "mn": self.min_duration, "rn": self.range_number, "rt": self.range_time,
            "cx": self.max_current, "cn": self.min_current, "ar": self.area,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bucket:
        if len(data) == len(_JSON_NAMES):  # every field: the form ``to_json`` writes (stage 4's hot path)
            return cls(data["s"], data["nM"], data["nR"], data["aM"], data["aR"], data["tM"], data["tR"],
                       data["mx"], data["mn"], data["rn"], data["rt"], data["cx"], data["cn"], data["ar"])
        return cls(**{name: data[short] for name, short in _JSON_NAMES.items() if short in data})


@dataclass(slots=True)
class MemberStatus:
    """Status subjects: a member's current status instance."""

    status: str
    reason: dict | None
    user_data: dict | None
    at: int  # when this instance (status and reason) began
    since: int  # when the status name began (survives reason changes and 0 ms detours)
    media: dict[str, str]
    dnd: bool
    # (status, since, left at) of the instance before this one: a tuple, 24 bytes less than a list
    # on each of the 240,000 member statuses of a 10,000-agent day
    previous: tuple[str, int, int] | None

    def to_json(self) -> list[Any]:
        previous = None if self.previous is None else list(self.previous)
        return [self.status, self.reason, self.user_data, self.at, self.since, self.media, self.dnd, previous]

    @classmethod
    def from_json(cls, data: list[Any]) -> MemberStatus:
        *fields, previous = data
        return cls(*fields, None if previous is None else tuple(previous))


class _NoEntries(dict):
    """The one shared empty ``open`` / ``members`` / Sliding ``buckets`` of every accumulator that
    holds none yet.

    Most accumulators never hold an ongoing instance or a member status (a Growing TotalNumber of
    an agent, say), and an empty dict each costs 64 bytes: 130 MB for the 2 million accumulators
    of 10,000 agents × 65 statistics × 2 objects. The few sites that add an entry replace it by a
    dict of their own first (``_entries``); any other write raises instead of sharing the entry.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the shared empty entries of an accumulator cannot be written to")

    __setitem__ = __delitem__ = setdefault = update = popitem = clear = _refuse  # type: ignore[assignment]

    __hash__ = object.__hash__  # one shared instance (dataclasses accept it as a field default)

    def __copy__(self) -> _NoEntries:
        return self

    def __deepcopy__(self, memo: dict) -> _NoEntries:
        return self


NO_ENTRIES: dict = _NoEntries()


def _entries(entries: dict) -> dict:
    """A dict that can be written to: ``entries`` itself, or a new one for the shared empty one."""
    return {} if entries is NO_ENTRIES else entries


def _same_sums(a: Bucket, b: object) -> bool:
    """Equality of a shared read-only bucket or a :class:`SplitTime` with any bucket: the same
    fields (a dataclass's own ``__eq__`` wants the same class, and an accumulator holding the shared
    one equals one holding an equal bucket of its own)."""
    fields = Bucket.__slots__
    return isinstance(b, (Bucket, SplitTime)) and all(getattr(a, f) == getattr(b, f) for f in fields)


class _ReadOnlyBucket(Bucket):
    """A bucket shared by every accumulator that holds nothing in it yet: read-only, never copied.

    Each write raises instead of changing the sums of every accumulator sharing it; the code that
    writes to a window gives the accumulator a bucket of its own first. A copy (``merge`` deep-copies
    accumulators) is the shared one itself.
    """

    __slots__ = ()
    _refusal = "a shared bucket cannot be written to"

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(self._refusal)

    def __copy__(self) -> _ReadOnlyBucket:
        return self

    def __deepcopy__(self, memo: dict) -> _ReadOnlyBucket:
        return self

    __eq__ = _same_sums
    __hash__ = None  # type: ignore[assignment]


class _NoSums(_ReadOnlyBucket):
    """The one shared running total of every Sliding accumulator that holds no bucket yet.

    Most Sliding accumulators never see a completion (a last-hour Rejected of an agent, say), and
    their own zero ``total`` and empty ``buckets`` cost 208 bytes each: 90 MB of the 440,000 Sliding
    accumulators of 10,000 agents. Every write to a total follows the creation of a bucket
    (``_sliding_bucket``), which gives the accumulator a total of its own first.
    """

    __slots__ = ()
    _refusal = "the shared empty total of a Sliding accumulator cannot be written to"


def _no_sums() -> Bucket:
    bucket = Bucket(0)
    bucket.__class__ = _NoSums  # the same slots: a read-only view of an all-zero Bucket
    return bucket


NO_SUMS: Bucket = _no_sums()


class _FreshBucket(_ReadOnlyBucket):
    """The one shared new interval of a Growing statistic, for every accumulator that holds nothing
    in it yet.

    A Growing accumulator starts with an empty bucket for the current interval, and most stay
    empty all day (a Rejected or Revoked of an agent): 144 bytes each, 89 MB for the 620,000
    Growing accumulators of 10,000 agents. Every write to an interval's sums goes through
    :func:`bucket_for` (or ``accrue``), which gives the accumulator a bucket of its own first
    (:func:`_own_bucket`).
    """

    __slots__ = ()
    _refusal = "the shared new interval of a Growing statistic cannot be written to"


class SplitTime:
    """A Sliding bucket that holds only the parts of durations split into it (TotalTime and the
    categories built on it), until anything else is written to it.

    A completion's duration is split over every step it lasted (``_split``), and only the step it
    ended in gets its count and whole duration: when every agent logs out at the end of a day, the
    Sliding TotalTime accumulators of 10,000 agents and places gained 600,000 buckets at once that
    hold nothing but a split time, 144 bytes each as a :class:`Bucket`. This one has the slots of
    that time only (64 bytes) and reads every other field as the empty value (the class attributes
    below), so every reader of a window sees a bucket. Writing another field raises;
    :func:`_sliding_bucket`, through which every other write to a window goes, replaces it by the
    :class:`Bucket` of the same sums first (:meth:`full`).
    """

    __slots__ = ("start", "time_main", "time_rel")

    number_main = number_rel = adjusted_main = adjusted_rel = range_number = range_time = area = 0
    max_duration = min_duration = max_current = min_current = None

    def __init__(self, start: int, time_main: int = 0, time_rel: int = 0) -> None:
        self.start, self.time_main, self.time_rel = start, time_main, time_rel

    def full(self) -> Bucket:
        """The :class:`Bucket` of the same sums (before a write of another field)."""
        return Bucket(self.start, time_main=self.time_main, time_rel=self.time_rel)

    holds_something = Bucket.holds_something
    to_json = Bucket.to_json
    __eq__ = _same_sums
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SplitTime(start={self.start!r}, time_main={self.time_main!r}, time_rel={self.time_rel!r})"


class _WholeStep(SplitTime):
    """A split time of a whole step, shared by every Sliding accumulator holding that step's time
    only (read-only, never copied).

    When every agent logs out at the end of a 10,000-agent day, most of the 650,000 split-time
    buckets made at once cover a whole step (the sessions lasted several steps), so they hold the
    same three values: one instance per (start, main, rel) instead of 56 bytes each. The one site
    that adds to a split time (``_split``) gives the accumulator a :class:`SplitTime` of its own
    first; any other write goes through :func:`_sliding_bucket`, which replaces it by a Bucket.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("the shared split time of a whole step cannot be written to")

    def __copy__(self) -> _WholeStep:
        return self

    def __deepcopy__(self, memo: dict) -> _WholeStep:
        return self


#: The shared split times of whole steps (``_split_bucket``); only recent starts are kept.
_WHOLE_STEPS: dict[tuple[int, int, int], _WholeStep] = {}


def _whole_step(start: int, time_main: int, time_rel: int) -> _WholeStep:
    key = (start, time_main, time_rel)
    found = _WHOLE_STEPS.get(key)
    if found is None:
        if len(_WHOLE_STEPS) >= 1024:
            _WHOLE_STEPS.clear()
        found = _WHOLE_STEPS[key] = object.__new__(_WholeStep)
        object.__setattr__(found, "start", start)
        object.__setattr__(found, "time_main", time_main)
        object.__setattr__(found, "time_rel", time_rel)
    return found


def fresh_bucket(plan: Plan, start: int) -> Bucket:
    """The shared empty interval starting at ``start`` (CurrentNumber 0 all along) of this plan."""
    held = plan.fresh
    if held and held[0].start == start:
        return held[0]
    bucket = Bucket(start, max_current=0, min_current=0)
    bucket.__class__ = _FreshBucket  # the same slots: a read-only view of a new interval
    held[:] = [bucket]
    return bucket


def _own_bucket(acc: Accumulator) -> Bucket:
    """``acc.bucket`` as a bucket of its own (a copy of the shared new interval, if it held that)."""
    bucket = acc.bucket
    if bucket.__class__ is _FreshBucket:
        bucket = acc.bucket = Bucket(bucket.start, max_current=bucket.max_current,
                                     min_current=bucket.min_current)
    return bucket


#: The value 0.0 an accumulator keeps as sent (``kept_value``).
ZERO = 0.0


def kept_value(value: float | None) -> float | None:
    """``value`` as an accumulator keeps it as sent: a positive zero as the one shared :data:`ZERO`.

    Every value computed is a new float (32 bytes), and about half of the million accumulators of
    10,000 agents last sent 0.0 (a count or a time of nothing yet). The record sent keeps the value
    computed; a negative zero is kept as it is (equal, but written ``-0.0``)."""
    if value == 0.0 and value.__class__ is float and copysign(1.0, value) == 1.0:
        return ZERO
    return value


@dataclass(slots=True)
class Accumulator:
    """The state of one statistic for one object (see the module docstring).

    This base holds what every plan uses; the parts of one time profile kind (Sliding ring,
    Selection rows, SinceLogin session) and of the timeline categories (continuous run) are slots
    of the subclasses :func:`accumulator_class` picks, and read as their empty value (the class
    attributes below) on the others: an accumulator exists per (statistic, object), 1.3 million
    at 10,000 agents, and each unused slot costs 8 bytes on every one of them.
    """

    # ("ObjectType/TenantID/ObjectID", ObjectType, TenantID, ObjectID): one tuple shared by every
    # accumulator of the object (``StatEngine._names``), where three slots of names cost 16 bytes
    # more on each of the million accumulators of 10,000 agents (read through the properties below)
    names: tuple[str, str, str, str]
    seen: int  # when the object was first seen by this statistic
    open: dict[str, Instance] = NO_ENTRIES  # replaced by its own dict at the first entry
    count: int = 0  # CurrentNumber(M)
    accrued_to: int = 0  # the timeline is integrated up to here
    bucket: Bucket | None = None  # Growing, Selection (since first seen), SinceLogin (the session)
    members: dict[str, MemberStatus] = NO_ENTRIES
    sent: bool = False  # the notifier sent a value already
    sent_value: float | None = None
    sent_state: dict | None = None
    late: int = 0  # completions dropped because their interval had closed

    # The empty values of the kind- and category-specific slots (read-only on this base).
    continuous_since = continuous_lost = continuous_prev = None
    buckets = total = oldest = None
    selected_main = selected_rel = None
    login = logout = None
    closed = False

    @property
    def suffix(self) -> str:
        """``ObjectType/TenantID/ObjectID``: the object's key (``records.keys.object_key``)."""
        return self.names[0]

    @property
    def object_type(self) -> str:
        return self.names[1]

    @object_type.setter
    def object_type(self, value: str) -> None:
        self.names = object_names(value, self.names[2], self.names[3])

    @property
    def tenant(self) -> str:
        return self.names[2]

    @tenant.setter
    def tenant(self, value: str) -> None:
        self.names = object_names(self.names[1], value, self.names[3])

    @property
    def object_id(self) -> str:
        return self.names[3]

    @object_id.setter
    def object_id(self, value: str) -> None:
        self.names = object_names(self.names[1], self.names[2], value)

    # ------------------------------------------------------------------------------------ JSON

    def to_json(self, plan: Plan, instances: bool = True) -> dict[str, Any]:
        """JSON data; ``instances=False`` leaves the ongoing instances out (their count stays): a
        partial update for a value that reads only the count and the sums."""
        kind = plan.kind
        if kind == "Sliding":
            window: dict[str, Any] = {"bs": {str(s): b.to_json() for s, b in self.buckets.items()}}
        else:
            window = {"b": self.bucket.to_json() if self.bucket is not None else None}
        if kind == "Selection":
            window["sM"] = [list(c) for c in self.selected_main]
            window["sR"] = [list(c) for c in self.selected_rel]
        elif kind == "SinceLogin":
            window.update({"li": self.login, "lo": self.logout, "closed": self.closed})
        return {
            "o": [self.object_type, self.tenant, self.object_id], "seen": self.seen,
            "open": {k: list(v) for k, v in self.open.items()} if instances else {}, "n": self.count,
            "tl": self.accrued_to,
            "continuous": [self.continuous_since, self.continuous_lost, self.continuous_prev],
            "w": window, "mem": {k: m.to_json() for k, m in self.members.items()},
            "ns": [self.sent, self.sent_value, self.sent_state], "late": self.late,
        }

    @classmethod
    def from_json(cls, plan: Plan, data: dict[str, Any]) -> Accumulator:
        acc = accumulator_class(plan)(object_names(*data["o"]), data["seen"])
        acc.open = {k: Instance(*v) for k, v in data["open"].items()} or NO_ENTRIES
        acc.count, acc.accrued_to = data["n"], data["tl"]
        if plan.timeline:
            acc.continuous_since, acc.continuous_lost, acc.continuous_prev = data["continuous"]
        acc.members = {k: MemberStatus.from_json(v) for k, v in data["mem"].items()} or NO_ENTRIES
        acc.sent, sent_value, acc.sent_state = data["ns"]
        acc.sent_value = kept_value(sent_value)  # a 0 as the shared one, as when it was sent
        acc.late = data["late"]
        w = data["w"]
        if plan.kind == "Sliding":
            acc.buckets = {int(s): Bucket.from_json(b) for s, b in w["bs"].items()} or NO_ENTRIES
            acc.total = Bucket(0) if acc.buckets else NO_SUMS
            for b in acc.buckets.values():
                acc.total.add_sums(b)
            acc.oldest = min(acc.buckets, default=None)
        else:
            acc.bucket = Bucket.from_json(w["b"]) if w["b"] is not None else None
        if plan.kind == "Selection":
            acc.selected_main = [Completion(*c) for c in w["sM"]]
            acc.selected_rel = [Completion(*c) for c in w["sR"]]
        elif plan.kind == "SinceLogin":
            acc.login, acc.logout, acc.closed = w["li"], w["lo"], w["closed"]
        return acc


@dataclass(slots=True)
class SlidingAccumulator(Accumulator):
    buckets: dict[int, Bucket] | None = None  # by start
    total: Bucket | None = None  # running sums of ``buckets``
    oldest: int | None = None  # the oldest bucket start held


@dataclass(slots=True)
class SelectionAccumulator(Accumulator):
    selected_main: list[Completion] | None = None
    selected_rel: list[Completion] | None = None


@dataclass(slots=True)
class SessionAccumulator(Accumulator):
    login: int | None = None  # SinceLogin
    logout: int | None = None
    closed: bool = False


def _with_timeline(base: type[Accumulator]) -> type[Accumulator]:
    """``base`` plus the continuous-run bookkeeping of CurrentNumber(M) (timeline categories)."""
    namespace = {
        "__annotations__": {"continuous_since": "int | None", "continuous_lost": "int | None",
                            "continuous_prev": "int | None"},
        "__doc__": f"{base.__name__} of a category that reads CurrentNumber(M)'s continuous run.",
        "__module__": __name__,
        # CurrentNumber(M) > 0 since; dropped to 0 at (an End and Start at one instant are no break)
        "continuous_since": None, "continuous_lost": None, "continuous_prev": None,
    }
    return dataclass(slots=True)(type(f"Timeline{base.__name__}", (base,), namespace))


_KIND_CLASSES: dict[str, type[Accumulator]] = {
    "Growing": Accumulator, "Sliding": SlidingAccumulator, "Selection": SelectionAccumulator,
    "SinceLogin": SessionAccumulator,
}
_CLASSES: dict[tuple[str, bool], type[Accumulator]] = {
    **{(kind, False): cls for kind, cls in _KIND_CLASSES.items()},
    **{(kind, True): _with_timeline(cls) for kind, cls in _KIND_CLASSES.items()},
}


def accumulator_class(plan: Plan) -> type[Accumulator]:
    """The accumulator class holding exactly the parts ``plan`` uses."""
    return _CLASSES[(plan.kind, plan.timeline)]


def interval_start(plan: Plan, clock: int) -> int:
    """Growing: the start of the interval containing ``clock`` (the last one asked is remembered:
    every new accumulator of an interval asks the same)."""
    cached = plan.current
    if cached and cached[0] <= clock < cached[1]:
        return cached[0]
    prof = plan.stat.profile
    start = profiles.last_reset(prof, clock)
    cached[:] = [start, profiles.next_reset(prof, clock)]
    return start


def object_names(object_type: str, tenant: str, object_id: str) -> tuple[str, str, str, str]:
    """An accumulator's ``names``: the object's key, then its type, tenant and id."""
    return object_key(object_type, tenant, object_id), object_type, tenant, object_id


def new_accumulator(plan: Plan, object_type: str, tenant: str, object_id: str, seen: int,
                    clock: int, names: tuple[str, str, str, str] | None = None) -> Accumulator:
    """A fresh accumulator; a Growing one starts in the interval containing the clock.

    ``names``: the object's shared :func:`object_names` when the caller holds them."""
    if names is None:
        names = object_names(object_type, tenant, object_id)
    acc = accumulator_class(plan)(names, seen, accrued_to=seen)
    kind = plan.kind
    if kind == "Growing":
        acc.bucket = fresh_bucket(plan, interval_start(plan, clock))  # its own at the first write
    elif kind == "Sliding":
        acc.buckets, acc.total = NO_ENTRIES, NO_SUMS  # its own at the first bucket (``_sliding_bucket``)
    elif kind == "Selection":
        acc.bucket = Bucket(seen, max_current=0, min_current=0)
        acc.selected_main, acc.selected_rel = [], []
    elif object_type not in OWN_OBJECT_TYPES:  # SinceLogin on other objects: since first seen
        acc.bucket = Bucket(seen, max_current=0, min_current=0)
        acc.login = seen
    return acc


#: The kinds whose accumulators can rest (:func:`at_rest`): their empty state is shared (a
#: Growing interval's :func:`fresh_bucket`, a Sliding window's :data:`NO_ENTRIES` and :data:`NO_SUMS`).
RESTING_KINDS = frozenset({"Growing", "Sliding"})


def rested(plan: Plan, names: tuple[str, str, str, str], seen: int, start: int | None,
           accrued: int | None) -> Accumulator:
    """The accumulator that :func:`at_rest` found holding nothing, made again: the object's
    ``names``, ``seen``, a Growing interval starting at ``start``, accrued to ``accrued`` (None:
    to ``seen``), and the 0 it sent."""
    acc = accumulator_class(plan)(names, seen, accrued_to=seen if accrued is None else max(seen, accrued),
                                  sent=True, sent_value=ZERO)
    if plan.kind == "Growing":
        acc.bucket = fresh_bucket(plan, start)
    else:
        acc.buckets, acc.total = NO_ENTRIES, NO_SUMS
    return acc


def at_rest(acc: Accumulator, plan: Plan, start: int | None, accrued: int | None) -> bool:
    """Does ``acc`` hold nothing but its notification of 0 (what :func:`rested` makes again)?

    Most accumulators never count anything: at the end of a 10,000-agent day 630,000 of 1.06
    million held only the 0 they sent when their object was first seen (a Rejected or a last-hour
    Revoked of an agent). The engine leaves those out of its accumulators (``StatEngine._rest``):
    125 bytes each and their dict entry.
    ``start``: the interval start of the statistic's resting Growing accumulators (None: any).
    """
    if (acc.count or acc.late or acc.open or acc.members or acc.sent_value is not ZERO or not acc.sent
            or acc.sent_state is not None or acc.continuous_since is not None
            or acc.continuous_lost is not None or acc.continuous_prev is not None
            or acc.accrued_to != (acc.seen if accrued is None else max(acc.seen, accrued))):
        return False
    kind = plan.kind
    if kind == "Sliding":
        return acc.buckets is NO_ENTRIES and acc.total is NO_SUMS
    if kind != "Growing":
        return False
    bucket = acc.bucket
    if start is not None and bucket.start != start:
        return False
    # the shared new interval, or a bucket of its own equal to it (after a restore)
    return bucket.__class__ is _FreshBucket or bucket == Bucket(bucket.start, max_current=0, min_current=0)


# ------------------------------------------------------------------------------------------ buckets


#: Recent Sliding bucket starts, each one int object for every bucket starting then (``_sliding_bucket``).
_STARTS: dict[int, int] = {}


def _sliding_bucket(acc: Accumulator, start: int, seed: int | None) -> Bucket:
    """The bucket of the step at ``start``, made (CurrentNumber's extremes at ``seed``) if missing,
    made a full :class:`Bucket` if it held only a split time: the caller may write any field."""
    bucket = acc.buckets.get(start)
    if bucket is None:
        start = _window_key(acc, start)
        bucket = acc.buckets[start] = Bucket(start, max_current=seed, min_current=seed)
    elif bucket.__class__ is SplitTime or bucket.__class__ is _WholeStep:
        bucket = acc.buckets[start] = bucket.full()
    return bucket


def _split_bucket(acc: Accumulator, start: int, time_main: int, time_rel: int,
                  whole: bool = False) -> SplitTime:
    """A new bucket of the step at ``start`` holding a split time only (``_split``; see
    :class:`SplitTime`). The times are held as given: one int object for both, and for every
    whole step the plan's own, where adding each to a zero made two new ones per bucket (32 bytes
    each, 600,000 buckets at the end of a 10,000-agent day). A ``whole`` step's is the shared
    :class:`_WholeStep` of those values."""
    start = _window_key(acc, start)
    if whole:
        bucket = acc.buckets[start] = _whole_step(start, time_main, time_rel)
    else:
        bucket = acc.buckets[start] = SplitTime(start, time_main, time_rel)
    return bucket


def _window_key(acc: Accumulator, start: int) -> int:
    """Before a new bucket at ``start``: the window of its own, the oldest start, the shared key."""
    if acc.total is NO_SUMS:  # the first bucket: the window and its totals of its own from now on
        acc.buckets, acc.total = {}, Bucket(0)
    # One int per step start for every bucket and window key starting then, where each bucket
    # had its own (each computed afresh): 23 MB of the 730,000 buckets of 10,000 agents. Only
    # recent starts are kept (the windows of one hour are a few dozen steps).
    shared = _STARTS.get(start)
    if shared is None:
        if len(_STARTS) >= 512:
            _STARTS.clear()
        shared = _STARTS[start] = start
    if acc.oldest is None or shared < acc.oldest:
        acc.oldest = shared
    return shared


def prune(acc: Accumulator, plan: Plan, now: int) -> int:
    """Sliding: drop buckets that left the window, subtracting them from the running totals.

    O(1) when nothing left; returns how many of the dropped buckets held something (a value that
    moves only with its window changed only then: an empty bucket leaving changes no value).
    """
    oldest = acc.oldest
    if oldest is None or plan.kind != "Sliding":
        return 0
    step = plan.step
    first = (now // step) * step - plan.reach  # ``plan.window_start(now)``, inlined
    if oldest >= first:
        return 0
    buckets, total = acc.buckets, acc.total
    held = 0
    # Bucket starts are multiples of the step: the buckets that left are at the steps from the
    # oldest to the window's start (usually one), or all of them when the clock jumped further.
    gone_starts = range(oldest, first, step) if first - oldest <= step * len(buckets) else [
        s for s in buckets if s < first]
    for start in gone_starts:
        gone = buckets.pop(start, None)
        if gone is not None and gone.holds_something():
            total.subtract(gone)
            held += 1
    if not buckets:
        acc.oldest = None
        return held
    start = first  # the new oldest: the first step from the window's start that holds a bucket
    for _ in range(_OLDEST_SCAN):
        if start in buckets:
            acc.oldest = start
            return held
        start += step
    acc.oldest = min(buckets)  # a sparse window: the keys themselves
    return held


#: Steps ``prune`` looks through for the new oldest bucket before taking the minimum of the keys.
_OLDEST_SCAN = 8


def bucket_for(acc: Accumulator, plan: Plan, t: int, now: int) -> Bucket | None:
    """The bucket a contribution at ``t`` goes to, or None when its interval is closed (late)."""
    if plan.kind == "Sliding":
        step = plan.step
        start = (t // step) * step
        if start < plan.window_start(now if now > t else t):
            return None
        return _sliding_bucket(acc, start, None)
    bucket = acc.bucket
    if bucket is None or t < bucket.start:
        return None
    if plan.kind == "SinceLogin" and (acc.closed or (acc.logout is not None and t > acc.logout)):
        return None
    if bucket.__class__ is _FreshBucket:  # the caller writes to it: a bucket of its own first
        return _own_bucket(acc)
    return bucket


def session_open(acc: Accumulator, plan: Plan) -> bool:
    return plan.kind != "SinceLogin" or (acc.bucket is not None and not acc.closed)


# ----------------------------------------------------------------------------------------- timeline


def accrue(acc: Accumulator, plan: Plan, to_t: int, now: int) -> None:
    """Integrate CurrentNumber(M) over ``[accrued_to, to_t]`` into the buckets (area, extremes)."""
    tl, n = acc.accrued_to, acc.count
    if to_t <= tl:
        return
    acc.accrued_to = to_t
    if not plan.timeline:
        return
    if plan.kind == "Sliding":
        step = plan.step
        cur = max(tl, plan.window_start(to_t))
        while cur < to_t:  # at most the window's buckets, whatever the gap
            start = (cur // step) * step
            end = min(start + step, to_t)
            bucket = _sliding_bucket(acc, start, n)
            bucket.widen(n)
            area = n * (end - cur)
            bucket.area += area
            acc.total.area += area
            cur = end
        prune(acc, plan, max(now, to_t))
        return
    bucket = acc.bucket
    if bucket is None or (plan.kind == "SinceLogin" and acc.closed):
        return
    end = to_t if plan.kind != "SinceLogin" or acc.logout is None else min(to_t, acc.logout)
    begin = max(tl, bucket.start)
    if end > begin and n:
        _own_bucket(acc).area += n * (end - begin)


def change_count(acc: Accumulator, plan: Plan, t: int, delta: int, now: int) -> None:
    """CurrentNumber(M) changes by ``delta`` at ``t`` (applied at the accrued time if ``t`` is late)."""
    at = t if t > acc.accrued_to else acc.accrued_to
    accrue(acc, plan, at, now)
    before = acc.count
    acc.count = after = before + delta
    if not plan.timeline:
        return
    bucket = bucket_for(acc, plan, at, now)
    if bucket is not None:
        bucket.widen(before)
        bucket.widen(after)
    if before <= 0 < after:
        prev = acc.continuous_prev
        acc.continuous_since = prev if acc.continuous_lost == at and prev is not None else at
        acc.continuous_lost = acc.continuous_prev = None
    elif after <= 0 < before:
        acc.continuous_lost, acc.continuous_prev, acc.continuous_since = at, acc.continuous_since, None


# -------------------------------------------------------------------------------------- completions


def complete(acc: Accumulator, plan: Plan, end: int, dur: int, start: int, in_m: bool, in_r: bool,
             now: int) -> None:
    """A completed matching action (durable End, momentary, retrospective) of duration ``dur`` ms."""
    if not (in_m or in_r):
        return
    dur = int(dur)
    if dur < 0:
        dur = 0
    rng = plan.stat.time_range
    in_range = rng is None or rng.contains(dur / 1000)
    kind = plan.kind
    if kind == "Selection":
        keep = plan.selection_keep
        item = Completion(end, dur, start, in_range)
        for flag, rows in ((in_m, acc.selected_main), (in_r, acc.selected_rel)):
            if flag:
                rows.append(item)
                if len(rows) > keep:
                    del rows[0]
        return
    if kind == "Growing":  # ``bucket_for``, inlined for the most common profile
        bucket = acc.bucket
        if bucket is not None and end < bucket.start:
            bucket = None
        elif bucket.__class__ is _FreshBucket:  # the shared new interval: one of its own first
            bucket = _own_bucket(acc)
    else:
        bucket = bucket_for(acc, plan, end, now)
    if bucket is None:
        acc.late += 1
        return
    total = acc.total  # Sliding running totals (None otherwise)
    # A bucket's first duration is held as the object given, not as ``0 + dur``: that makes an int
    # object of its own (32 bytes) for each sum of each bucket. tracemalloc counted 25 MiB of them at
    # the end of a 10,000-agent replay; its RSS there fell by 13 MiB.
    if in_m:
        bucket.number_main += 1
        sum_ = bucket.adjusted_main
        bucket.adjusted_main = sum_ + dur if sum_ else dur
        if bucket.max_duration is None or dur > bucket.max_duration:
            bucket.max_duration = dur
        if bucket.min_duration is None or dur < bucket.min_duration:
            bucket.min_duration = dur
        if in_range:
            bucket.range_number += 1
            sum_ = bucket.range_time
            bucket.range_time = sum_ + dur if sum_ else dur
        if total is not None:
            total.number_main += 1
            total.adjusted_main += dur
            if in_range:
                total.range_number += 1
                total.range_time += dur
    if in_r:
        bucket.number_rel += 1
        sum_ = bucket.adjusted_rel
        bucket.adjusted_rel = sum_ + dur if sum_ else dur
        if total is not None:
            total.number_rel += 1
            total.adjusted_rel += dur
    if plan.split:
        _split(acc, plan, bucket, start, end, in_m, in_r, now)


def _split(acc: Accumulator, plan: Plan, bucket: Bucket, start: int, end: int, in_m: bool, in_r: bool,
           now: int) -> None:
    """TotalTime: only the part of [start, end] inside the interval (Sliding: per bucket)."""
    if plan.kind == "Sliding":
        step = plan.step
        b = max((start // step) * step, plan.window_start(now if now > end else end))
        buckets, total, last = acc.buckets, acc.total, bucket.start
        while b <= last:  # at most the window's buckets
            overlap = (end if end < b + step else b + step) - (start if start > b else b)
            if overlap > 0:
                target = buckets.get(b)
                if target is None:  # an earlier step: a split time only, until more is written
                    whole = overlap == step
                    if whole:  # a whole step: the plan's one int, not one of its own
                        overlap = step
                    _split_bucket(acc, b, overlap if in_m else 0, overlap if in_r else 0, whole)
                else:
                    if target.__class__ is _WholeStep:  # shared: one of its own before adding
                        target = buckets[b] = SplitTime(target.start, target.time_main, target.time_rel)
                    if in_m:
                        target.time_main += overlap
                    if in_r:
                        target.time_rel += overlap
                if in_m:
                    total.time_main += overlap
                if in_r:
                    total.time_rel += overlap
            b += step
        return
    ms = max(0, end - max(start, bucket.start))
    if in_m:
        bucket.time_main += ms
    if in_r:
        bucket.time_rel += ms


# ------------------------------------------------------------------------------------------ actions


def flags(stat: Statistic, name: str, attrs_source: dict[str, Any]) -> tuple[bool, bool]:
    """Whether ``name`` with these attributes counts for M and for R (masks, then the filter)."""
    in_m = stat.stat_type.main_mask.matches(name)
    in_r = stat.stat_type.rel_mask.matches(name)
    if (in_m or in_r) and stat.filter is not None:
        attrs = attributes(attrs_source.get("UserData"), attrs_source.get("Reason"))
        if not evaluate(stat.filter.expr, attrs):
            return False, False
    return in_m, in_r


def instance_key(action: dict[str, Any], member: str) -> str:
    """The key of a durable action's instance in ``acc.open``: its Start and End find each other."""
    interaction, media = action.get("InteractionID") or "", action.get("MediaTypeID") or ""
    return f"{member}|{action['Action']}|{interaction}|{media}"


def apply_action(acc: Accumulator, plan: Plan, action: dict[str, Any], member: str, now: int,
                 key: str | None = None) -> bool:
    """DNAction subject: one action instance; returns whether the accumulator changed.

    ``key``: the durable action's :func:`instance_key` when the caller has it (the engine makes it
    once per action for all its statistics)."""
    stat = plan.stat
    media = stat.stat_type.media_types
    if media is not None:
        m = action.get("MediaTypeID")
        if m is not None and m not in media:
            return False
    name, kind, t = action["Action"], action.get("Kind"), action["EventTime"]
    if stat.filter is None:  # masks only: the same answer for every action of this name
        cached = plan.masks.get(name)
        if cached is None:
            st = stat.stat_type
            cached = plan.masks[name] = (st.main_mask.matches(name), st.rel_mask.matches(name))
        in_m, in_r = cached
    else:
        in_m, in_r = flags(stat, name, action)
    if kind == "Durable":
        if key is None:
            key = instance_key(action, member)
        if action.get("Phase") == "Start":
            if key in acc.open or not (in_m or in_r):
                return False
            acc.open = open_ = _entries(acc.open)
            # interned: one key string for every accumulator holding the instance, where each kept its
            # own (61 MB of keys at 10,000 agents)
            open_[sys.intern(key)] = shared_instance(t, name, in_m, in_r)
            if in_m:
                change_count(acc, plan, t, +1, now)
            return True
        inst = acc.open.pop(key, None)
        if not acc.open:  # a dict emptied keeps its table (232 bytes): back to the shared empty one
            acc.open = NO_ENTRIES
        if inst is not None and inst.main:
            change_count(acc, plan, t, -1, now)
        start, dur = _start_and_duration(action, t, inst.start if inst else None)
        complete(acc, plan, t, dur, start, in_m, in_r, now)
        return inst is not None or in_m or in_r
    if not (in_m or in_r):
        return False
    if kind == "Retrospective":
        start, dur = _start_and_duration(action, t, None)
    else:
        start, dur = t, 0
    complete(acc, plan, t, dur, start, in_m, in_r, now)
    return True


def _start_and_duration(action: dict[str, Any], t: int, open_start: int | None) -> tuple[int, int]:
    dur = action.get("DurationMs")
    start = action.get("StartTime")
    if dur is None:
        base = start if start is not None else open_start if open_start is not None else t
        dur = t - int(base)
    if start is None:
        start = t - int(dur)
    return int(start), int(dur)


# ------------------------------------------------------------------------------------------ status


def apply_status(acc: Accumulator, plan: Plan, member: str, view: dict[str, Any], t: int, now: int) -> bool:
    """Status subjects: the member's status is now ``view`` (``status.status_view``) at ``t``.

    A change of status or reason ends the member's status instance (a completion, unless it lasted
    0 ms) and starts a new one; the status name's ``since`` survives a reason-only change.
    """
    entry = acc.members.get(member)
    status, reason, user = view["Status"], view["Reason"], view["UserData"]
    if entry is not None and entry.status == status and entry.reason == reason:
        changed = entry.media != view["Media"] or entry.dnd != view["DoNotDisturb"]
        entry.media, entry.dnd = view["Media"], view["DoNotDisturb"]
        return changed
    since, previous = t, None
    if entry is not None:
        _end_status(acc, plan, member, t, now)
        previous = (entry.status, entry.since, t)
        if entry.status == status:
            since = entry.since
        elif entry.previous and entry.previous[0] == status and entry.previous[2] == entry.at == t:
            # back to the status left at this same instant: the 0 ms status in between is no break
            since, previous = entry.previous[1], entry.previous
    acc.members = members = _entries(acc.members)
    members[member] = MemberStatus(status, reason, user, t, since, view["Media"], view["DoNotDisturb"],
                                       previous)
    stat = plan.stat
    if stat.filter is None:  # masks only: the same answer for every status of this name
        cached = plan.masks.get(status)
        if cached is None:
            st = stat.stat_type
            cached = plan.masks[status] = (st.main_mask.matches(status), st.rel_mask.matches(status))
        in_m, in_r = cached
    else:
        in_m, in_r = flags(stat, status, {"UserData": user, "Reason": reason})
    if in_m or in_r:
        acc.open = open_ = _entries(acc.open)
        open_[sys.intern(f"{member}|status")] = shared_instance(t, status, in_m, in_r)
        if in_m:
            change_count(acc, plan, t, +1, now)
    return True


def _end_status(acc: Accumulator, plan: Plan, member: str, t: int, now: int) -> None:
    inst = acc.open.pop(f"{member}|status", None)
    if inst is None:
        return
    if not acc.open:  # as in ``apply_action``: an emptied dict back to the shared empty one
        acc.open = NO_ENTRIES
    if inst.main:
        change_count(acc, plan, t, -1, now)
    if t > inst.start:
        complete(acc, plan, t, t - inst.start, inst.start, inst.main, inst.rel, now)


def remove_member(acc: Accumulator, plan: Plan, member: str, t: int, now: int) -> bool:
    """A member left the group at ``t``: its ongoing instances complete there, for this group."""
    changed = False
    if acc.members.pop(member, None) is not None:
        _end_status(acc, plan, member, t, now)
        changed = True
    for key in sorted(k for k in acc.open if k.startswith(member + "|")):
        inst = acc.open.pop(key)
        if not acc.open:
            acc.open = NO_ENTRIES
        if inst.main:
            change_count(acc, plan, t, -1, now)
        complete(acc, plan, t, max(0, t - inst.start), inst.start, inst.main, inst.rel, now)
        changed = True
    return changed


# --------------------------------------------------------------------------------------- SinceLogin


def login(acc: Accumulator, plan: Plan, t: int, now: int) -> None:
    """SinceLogin: a new session starts at ``t`` (the caller closed the previous one)."""
    accrue(acc, plan, t, now)
    acc.bucket = Bucket(t, max_current=acc.count, min_current=acc.count)
    acc.login, acc.logout, acc.closed = t, None, False
    acc.accrued_to = max(acc.accrued_to, t)


def logout(acc: Accumulator, t: int) -> None:
    """SinceLogin: the session ends at ``t``; it stays open to actions at ``t`` until closed."""
    if acc.bucket is not None and not acc.closed:
        acc.logout = t


def pending_logout(acc: Accumulator, plan: Plan) -> int | None:
    if plan.kind != "SinceLogin" or acc.bucket is None or acc.closed:
        return None
    return acc.logout


def close_session(acc: Accumulator, plan: Plan, now: int) -> None:
    accrue(acc, plan, acc.logout, now)
    acc.closed = True


# ------------------------------------------------------------------------------------------ Growing


def reset(acc: Accumulator, plan: Plan, at: int, now: int) -> None:
    """Growing: close the interval at ``at`` and start the next one at zero."""
    accrue(acc, plan, at, now)
    acc.bucket = fresh_bucket(plan, at) if acc.count == 0 else Bucket(at, max_current=acc.count,
                                                                        min_current=acc.count)


# -------------------------------------------------------------------------------------------- merge


def merge(plan: Plan, left: Accumulator, right: Accumulator) -> Accumulator:
    """The accumulator of the whole from two partials over disjoint members' actions.

    Both partials must be at the same clock (intervals aligned). Raises ``ValueError`` for the
    categories :func:`mergeable` rejects.
    """
    if not mergeable(plan.stat):
        raise ValueError(
            f"statistic {plan.stat.name!r}: {plan.stat.stat_type.category} cannot be merged from partials "
            "(an extreme or a continuous run of a sum is not determined by those of its parts)"
        )
    # Bring both time lines to the same instant first, so their integrals cover the same span.
    left, right = copy.deepcopy(left), copy.deepcopy(right)
    until = max(left.accrued_to, right.accrued_to)
    accrue(left, plan, until, until)
    accrue(right, plan, until, until)
    out = accumulator_class(plan)(left.names, min(left.seen, right.seen))
    out.open = {**left.open, **right.open} or NO_ENTRIES
    out.count = left.count + right.count
    out.accrued_to = max(left.accrued_to, right.accrued_to)
    out.members = {**left.members, **right.members} or NO_ENTRIES
    out.late = left.late + right.late
    if plan.kind == "Sliding":
        out.buckets, out.total = {}, Bucket(0)
        for part in (left, right):
            for start, b in part.buckets.items():
                into = out.buckets.get(start)
                if into is None:
                    into = out.buckets[start] = Bucket(start)
                into.add_sums(b)
                into.merge_extremes(b)
            out.total.add_sums(part.total)  # the running totals are the sums of the buckets held
        out.oldest = min(out.buckets, default=None)
    else:
        out.bucket = _merge_bucket(left.bucket, right.bucket)
    if plan.kind == "Selection":
        keep = plan.selection_keep
        out.selected_main = sorted(left.selected_main + right.selected_main, key=lambda c: c.end)[-keep:]
        out.selected_rel = sorted(left.selected_rel + right.selected_rel, key=lambda c: c.end)[-keep:]
    elif plan.kind == "SinceLogin":
        out.login = _first(left.login, right.login)
        out.logout, out.closed = left.logout if left.logout is not None else right.logout, left.closed
    return out


def _first(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _merge_bucket(a: Bucket | None, b: Bucket | None) -> Bucket | None:
    if a is None or b is None:
        return a if b is None else b
    out = Bucket(min(a.start, b.start))
    out.add_sums(a)
    out.add_sums(b)
    out.merge_extremes(a)
    out.merge_extremes(b)
    return out


def adopt_timeline(acc: Accumulator, whole: Accumulator, plan: Plan, at: int) -> None:
    """The whole's own time line on ``acc``, then its count's change at ``at``.

    ``acc`` is the merge of the partials (:func:`merge_all`): its sums are right and its count is
    the sum's, but the extremes, integral and continuous run of a sum are not made of the parts'.
    ``whole`` is the merged accumulator before this change, brought to ``at`` (accrued with its old
    count): its time line is the sum's up to ``at``; the count then moves to ``acc``'s, as
    :func:`change_count` moves one engine's.
    """
    if not plan.timeline:
        return
    new = acc.count
    if plan.kind == "Sliding":
        for b in acc.buckets.values():
            b.area, b.max_current, b.min_current = 0, None, None
        for start, w in whole.buckets.items():
            b = _sliding_bucket(acc, start, None)
            b.area, b.max_current, b.min_current = w.area, w.max_current, w.min_current
        if acc.total is not NO_SUMS:  # the shared empty total's area is 0 already
            acc.total.area = sum(b.area for b in acc.buckets.values())
    elif acc.bucket is not None and whole.bucket is not None:
        b, w = _own_bucket(acc), whole.bucket
        b.area, b.max_current, b.min_current = w.area, w.max_current, w.min_current
    acc.continuous_since = whole.continuous_since
    acc.continuous_lost = whole.continuous_lost
    acc.continuous_prev = whole.continuous_prev
    acc.count, acc.accrued_to = whole.count, whole.accrued_to
    change_count(acc, plan, at, new - whole.count, at)


def merge_all(plan: Plan, parts: list[Accumulator]) -> Accumulator:
    """:func:`merge` of several partials in one pass (stage 4, per update): each partial's buckets
    are added once, where folding :func:`merge` would copy the growing result at every step.

    The partials must be at one instant already (their intervals aligned, accrued to the same time);
    they are not changed, and the result shares their member statuses. Raises ``ValueError`` for the
    categories :func:`mergeable_in_order` rejects; for the timeline categories the result's time
    line is not the whole's until :func:`adopt_timeline` gives it.
    """
    if not mergeable_in_order(plan.stat):
        return merge(plan, parts[0], parts[-1])  # raises, with the reason
    first = parts[0]
    out = accumulator_class(plan)(first.names, min(p.seen for p in parts))
    opens: dict[str, Instance] = {}
    members: dict[str, MemberStatus] = {}
    for p in parts:
        if p.open:
            opens.update(p.open)
        if p.members:
            members.update(p.members)
    out.open = opens or NO_ENTRIES
    out.members = members or NO_ENTRIES
    out.count = sum(p.count for p in parts)
    out.accrued_to = max(p.accrued_to for p in parts)
    out.late = sum(p.late for p in parts)
    if plan.kind == "Sliding":
        buckets: dict[int, Bucket] = {}
        total = Bucket(0)
        for p in parts:
            for start, b in p.buckets.items():
                into = buckets.get(start)
                if into is None:
                    into = buckets[start] = Bucket(start)
                into.add_sums(b)
                into.merge_extremes(b)
            total.add_sums(p.total)  # the running totals are the sums of the buckets held
        out.buckets, out.total, out.oldest = buckets, total, min(buckets, default=None)
    else:
        held = [p.bucket for p in parts if p.bucket is not None]
        if held:
            bucket = Bucket(min(b.start for b in held))
            for b in held:
                bucket.add_sums(b)
                bucket.merge_extremes(b)
            out.bucket = bucket
    if plan.kind == "Selection":
        keep = plan.selection_keep
        out.selected_main = sorted((c for p in parts for c in p.selected_main), key=lambda c: c.end)[-keep:]
        out.selected_rel = sorted((c for p in parts for c in p.selected_rel), key=lambda c: c.end)[-keep:]
    elif plan.kind == "SinceLogin":
        logins = [p.login for p in parts if p.login is not None]
        out.login = min(logins) if logins else None
        out.logout = next((p.logout for p in parts if p.logout is not None), None)
        out.closed = first.closed
    return out
