"""The one error type for input that cannot be processed.

Decoding bytes and validating an event both raise :class:`BadRecord`; callers route it to the
dead-letter topic (or ``--dead-letters-out``) with ``kind`` and ``reason``. Nothing else about bad
input is ever raised out of a worker.
"""

from __future__ import annotations

#: The kinds of bad record, as written to ``DeadLetter.ErrorKind``.
ERROR_KINDS = (
    "decode",  # bytes that do not decode (Avro marker/fingerprint/body, JSON syntax, encoding)
    "missing-field",  # a required field is absent or null
    "unknown-event",  # Event is not one of events.md's names
    "wrong-type",  # a field has the wrong type
    "bad-time",  # a time that cannot be parsed
    "bad-value",  # a value outside its enumeration (InteractionType, PartyType, ...)
    "future-time",  # EventTime too far ahead of the wall clock (pipeline.records.future)
    "too-large",  # a valid event too large for a Kafka message (dead-lettered by ``feed``)
)


class BadRecord(ValueError):
    """A record that cannot be processed; ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, reason: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown BadRecord kind {kind!r}")
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
