"""Stage 3's applied ActionIDs held compact (``pipeline.stats.applied``) read and write like the
plain dict of ``str`` ids they stand for, whatever the ids look like."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stats.applied import AppliedIds, kept_from

HEX = "0123456789abcdef"
_ids = st.one_of(
    st.text(HEX, min_size=32, max_size=32),  # the pipeline's ids
    st.text(HEX.upper(), min_size=32, max_size=32),  # the same numbers spelt otherwise
    st.text("0123456789abcdefABx_+- ", min_size=30, max_size=34),  # what int(…, 16) also accepts
    st.text(min_size=0, max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ids, st.integers(0, 100)), max_size=40), st.lists(_ids, max_size=10),
       st.integers(0, 100))
def test_applied_ids_are_the_plain_dict(writes: list[tuple[str, int]], probes: list[str], t: int) -> None:
    plain: dict[str, int] = {}
    held = AppliedIds()
    for action_id, at in writes:
        plain[action_id] = at
        held[action_id] = at
        assert action_id in held
    assert held == plain and plain == held and len(held) == len(plain)
    assert dict(held.items()) == plain and sorted(held) == sorted(plain) == sorted(held.keys())
    for action_id in [*probes, *(w for w, _ in writes)]:
        assert (action_id in held) == (action_id in plain)
        assert held.get(action_id) == plain.get(action_id)
    kept = kept_from(held, t)
    assert isinstance(kept, AppliedIds) and kept == {k: v for k, v in plain.items() if v >= t}
    assert kept_from(plain, t) == kept
    copied = AppliedIds(plain)
    copied.update({k: v + 1 for k, v in plain.items()})
    assert copied == {k: v + 1 for k, v in plain.items()}


def test_a_pipeline_action_id_is_held_as_its_number() -> None:
    held = AppliedIds()
    action_id = "08306228e6542f704231b733d6a3e0a6"
    held[action_id] = 5
    (key,) = dict.keys(held)
    assert key == int(action_id, 16) and sys.getsizeof(key) < sys.getsizeof(action_id)
    assert list(held) == [action_id] and held[action_id] == 5
    held["08306228E6542F704231B733D6A3E0A6"] = 6  # another id (one spelling per number)
    assert len(held) == 2 and held[action_id] == 5


def test_ids_that_int_would_read_as_one_number_stay_apart() -> None:
    plain = "0" * 31 + "1"
    lookalikes = ["0x" + "0" * 29 + "1", "0_" + "0" * 29 + "1", " " + "0" * 30 + "1", "+" + "0" * 30 + "1"]
    held = AppliedIds({plain: 1})
    for n, other in enumerate(lookalikes, start=2):
        assert other not in held
        held[other] = n
    assert held == {plain: 1, **{other: n for n, other in enumerate(lookalikes, start=2)}}
