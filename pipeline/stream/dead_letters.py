"""Sending a dead letter from a stage: it never crashes the stage and never lets it move past its input.

The builder (:mod:`pipeline.records.deadletter`) already keeps a dead letter under the producer's
maximum. If the send fails anyway, the stage must not raise: a crashed faust agent is restarted
and its offset moves past the message, so the bad record would be on no topic. Instead the send is
retried until it succeeds, the stage waiting meanwhile, so the input stays unacknowledged:

* the broker or producer says the message is too large (a dead-letter topic configured with a
  smaller ``max.message.bytes``): the payload budget is halved and the letter rebuilt;
* any other failure (broker away, timeout): retry the same letter with a growing pause.

A stopping worker cancels the wait; the input was not acknowledged, so it is redelivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from confluent_kafka import KafkaError, KafkaException

from pipeline.records.codec import encode as codec_encode
from pipeline.records.deadletter import MAX_DEAD_LETTER_BYTES, MAX_KEY_BYTES, build_dead_letter
from pipeline.records.errors import BadRecord

log = logging.getLogger(__name__)

#: Below this budget halving stops: the letter is then provenance and reason with a few bytes.
MIN_BUDGET_BYTES = 4096
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 30.0

Send = Callable[[bytes | None, bytes], Awaitable[None]]


def _single_object(letter: dict) -> bytes:
    return codec_encode("DeadLetter", letter)


def too_large(exc: BaseException) -> bool:
    """Whether a send failed because the message is over a size limit (ours or the broker's)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MessageSizeTooLargeError | RecordTooLargeError):
            return True
        if isinstance(seen, KafkaException) and seen.args and isinstance(seen.args[0], KafkaError):
            if seen.args[0].code() in _TOO_LARGE_CODES:  # librdkafka's own limit, or the broker's
                return True
        seen = seen.__cause__ or seen.__context__
    return False


_TOO_LARGE_CODES = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})


async def send_dead_letter(
    send: Send,
    key: bytes | None,
    payload: bytes,
    bad: BadRecord,
    *,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    time_ms: Callable[[], int],
    budget: int = MAX_DEAD_LETTER_BYTES,
    encode: Callable[[dict], bytes] | None = None,
) -> dict:
    """Send one dead letter through ``send(key, value)`` (which waits for the acknowledgement),
    retrying as the module says; returns the letter sent. ``encode`` frames the letter (default:
    Avro single-object encoding; a stage passes its settings' serialization)."""
    key = None if key is None else bytes(key)[:MAX_KEY_BYTES]
    pause = FIRST_PAUSE_S
    while True:
        letter = build_dead_letter(
            payload,
            bad,
            source_topic=source_topic,
            source_partition=source_partition,
            source_offset=source_offset,
            time_ms=time_ms(),
            max_bytes=budget - len(key or b""),
        )
        try:
            await send(key, (encode or _single_object)(letter))
            return letter
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            where = f"{source_topic}:{source_partition}:{source_offset}"
            if too_large(exc) and budget > MIN_BUDGET_BYTES:
                budget = max(MIN_BUDGET_BYTES, budget // 2)
                log.warning("dead letter of %s too large (%s); retrying with %d bytes", where, exc, budget)
                continue
            log.warning("dead letter of %s not sent (%r); retrying in %.1f s", where, exc, pause)
            await asyncio.sleep(pause)
            pause = min(MAX_PAUSE_S, pause * 2)
