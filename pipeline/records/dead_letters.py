"""The dead-letter record (records.md, ``DeadLetter``): built here for the worker and for replay.

Stage 1 and ``mediastat replay`` must dead-letter the same input with the same fields, so both
build the record with :func:`dead_letter`; only where the input came from differs (a topic partition
and offset, or a file and line number).
"""

from __future__ import annotations

from pipeline.records.errors import BadRecord


def dead_letter(
    payload: bytes,
    bad: BadRecord,
    *,
    source_topic: str,
    source_partition: int | None,
    source_offset: int,
    time_ms: int,
) -> dict:
    """A ``DeadLetter`` for ``payload`` (the original bytes), refused with ``bad``'s kind and reason.

    ``time_ms`` is when it was dead-lettered: the wall clock on Kafka, the event clock in replay.
    """
    return {
        "Payload": payload,
        "SourceTopic": source_topic,
        "SourcePartition": source_partition,
        "SourceOffset": source_offset,
        "ErrorKind": bad.kind,
        "Reason": bad.reason,
        "Time": time_ms,
    }
