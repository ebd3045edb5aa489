"""The one place a DeadLetter record is built: stage 1, ``feed`` and ``replay`` all call it.

A dead letter carries the original bytes so an operator can see what was wrong. Those bytes can be
as large as the input topic allows, and a dead letter of payload plus provenance is larger still:
sent as it is, it can exceed the producer's maximum request (1,000,000 bytes by default in both
faust/aiokafka and librdkafka) or the dead-letter topic's maximum message (the broker's 1,048,588
by default), and then the bad record is on no topic at all. So the builder keeps the record under a
byte budget: when the payload does not fit, only its first bytes are kept, ``PayloadTruncated`` is
set and ``PayloadSize`` says how large the original was. Every dead letter records ``PayloadSize``,
so consumers never have to guess whether what they hold is whole.
"""

from __future__ import annotations

from pipeline.records.codec import encode
from pipeline.records.errors import BadRecord

#: The largest encoded dead letter (the message value, in bytes). 100,000 bytes under the
#: producers' default 1,000,000-byte request leave room for the key and the batch headers.
MAX_DEAD_LETTER_BYTES = 900_000

#: Reasons are short by construction (validation shortens values it quotes); this bound only keeps
#: a runaway reason from eating the payload's budget.
MAX_REASON_CHARS = 2_000

#: A dead letter's key (the bad record's own key) is cut to this: it only spreads dead letters over
#: partitions, and a huge one would take the payload's room.
MAX_KEY_BYTES = 1024

#: Room for the Avro length prefix of the payload (a zig-zag varint: 5 bytes cover 2 GiB).
_LENGTH_PREFIX = 5


def build_dead_letter(
    payload: bytes,
    bad: BadRecord,
    *,
    source_topic: str | None,
    source_partition: int | None,
    source_offset: int | None,
    time_ms: int,
    max_bytes: int = MAX_DEAD_LETTER_BYTES,
) -> dict:
    """A DeadLetter for ``payload`` whose Avro encoding (``encode("DeadLetter", …)``) is at most
    ``max_bytes`` long; the payload is cut to fit, never the provenance or the reason."""
    payload = bytes(payload)
    reason = bad.reason if len(bad.reason) <= MAX_REASON_CHARS else bad.reason[: MAX_REASON_CHARS - 1] + "…"
    letter = {
        "Payload": b"",
        "PayloadSize": len(payload),
        "PayloadTruncated": False,
        "SourceTopic": source_topic,
        "SourcePartition": source_partition,
        "SourceOffset": source_offset,
        "ErrorKind": bad.kind,
        "Reason": reason,
        "Time": time_ms,
    }
    room = max(0, max_bytes - len(encode("DeadLetter", letter)) - _LENGTH_PREFIX)
    if len(payload) > room:
        letter["PayloadTruncated"] = True
        payload = payload[:room]
    letter["Payload"] = payload
    return letter
