"""Avro single-object encoding for Kafka messages and JSON Lines for files.

Kafka messages carry one record each in the Avro *single-object encoding*: the marker ``C3 01``,
the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing canonical form, then
the schemaless Avro body. Any consumer holding our ``.avsc`` files can decode them without a schema
registry, and the fingerprint tells which of the four record types a message is.

Everything that goes wrong while decoding raises :class:`BadRecord` of kind ``decode``, so a worker
can dead-letter the message and carry on; nothing else escapes :func:`decode`.

JSON Lines carry the same field names; times are ISO-8601 strings there (``to_iso``) and epoch-ms
ints in memory. A DeadLetter's ``Payload`` (bytes) becomes a UTF-8 string, or base64 with
``PayloadEncoding: "base64"`` when the bytes are not UTF-8 (records.md).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate

from pipeline.records.avro_writer import Unsupported, compile_writer
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import (
    RECORD_TYPES,
    load_schema,
    previous_schemas_by_fingerprint,
    schemas_by_fingerprint,
)
from pipeline.records.times import TIME_FIELDS, iso, parse_time, to_iso

MARKER = b"\xc3\x01"
HEADER_LEN = len(MARKER) + 8

#: Upper bound on a single message; anything larger is refused before decoding (defends against
#: corrupt length prefixes making fastavro allocate huge buffers).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


# ------------------------------------------------------------------------------ CurrentState


def state_for_output(state: dict[str, Any]) -> dict[str, Any]:
    """A CurrentState structure with its ``Since`` as an ISO time (JSON and Avro's JSON string)."""
    out = dict(state)
    if isinstance(out.get("Since"), int) and not isinstance(out["Since"], bool):
        out["Since"] = iso(out["Since"])  # cached: a state's records share their Since
    return out


#: ``json.dumps(…, separators=(",", ":"))`` without making an encoder per call (what ``dumps`` does
#: for any argument other than its defaults: most of the cost of a CurrentState's text).
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


def state_text(state: dict[str, Any]) -> str:
    """A CurrentState as the JSON text a StatValue's Avro ``State`` holds."""
    return _COMPACT(state_for_output(state))


def state_from_output(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    if isinstance(out.get("Since"), str):
        out["Since"] = parse_time(out["Since"], "State.Since")
    return out


# --------------------------------------------------------------------------------------- Avro


#: Compiled writers of our record types (``avro_writer``), made when first used; None: not compiled.
_WRITERS: dict[str, Any] = {}


def _writer(record_type: str) -> Any:
    if record_type not in _WRITERS:
        _WRITERS[record_type] = compile_writer(load_schema(record_type).raw)
    return _WRITERS[record_type]


def encode(record_type: str, record: dict[str, Any]) -> bytes:
    """``record`` (times as int ms) → single-object-encoded bytes of schema ``record_type``.

    Absent optional fields are written as null. A record that does not fit the schema raises
    :class:`BadRecord` (``missing-field`` or ``wrong-type``) naming the field, never a fastavro error.
    The body is written by the schema's compiled writer (:mod:`pipeline.records.avro_writer`), or by
    fastavro for a value that writer leaves to it.
    """
    record = _as_written(record_type, record)
    writer = _writer(record_type)
    if writer is not None:
        try:
            return MARKER + load_schema(record_type).fingerprint_bytes + writer(record)
        except Unsupported:
            pass
    return _fastavro(record_type, record)


def fastavro_encode(record_type: str, record: dict[str, Any]) -> bytes:
    """:func:`encode` by fastavro alone (the reference the compiled writers are tested against)."""
    return _fastavro(record_type, _as_written(record_type, record))


def _as_written(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """A StatValue's ``State`` as the JSON string the schema holds."""
    if record_type == "StatValue" and isinstance(record.get("State"), dict):
        record = {**record, "State": state_text(record["State"])}
    return record


def _fastavro(record_type: str, record: dict[str, Any]) -> bytes:
    schema = load_schema(record_type)
    buf = io.BytesIO()
    buf.write(MARKER)
    buf.write(schema.fingerprint_bytes)
    try:
        schemaless_writer(buf, schema.parsed, record)
    except Exception as exc:  # fastavro raises TypeError/ValueError/AttributeError/... for bad data
        raise _explain_encode_failure(record_type, record, exc) from None
    return buf.getvalue()


def _explain_encode_failure(record_type: str, record: dict[str, Any], exc: Exception) -> BadRecord:
    """Turn a fastavro write failure into a BadRecord that names the offending field."""
    schema = load_schema(record_type)
    if not isinstance(record, dict):
        return BadRecord("wrong-type", f"{record_type} must be a dict, got {type(record).__name__}")
    for name in schema.required_fields():
        if record.get(name) is None:
            return BadRecord("missing-field", f"{record_type}.{name} is required")
    for field in schema.parsed["fields"]:
        name = field["name"]
        if name in record and not _fits(record[name], field["type"]):
            return BadRecord(
                "wrong-type", f"{record_type}.{name} has the wrong type ({type(record[name]).__name__})"
            )
    return BadRecord("wrong-type", f"{record_type} cannot be encoded: {exc}")


def _fits(value: Any, avro_type: Any) -> bool:
    """fastavro's ``validate``, which itself raises for some values (a one-item tuple in a union)."""
    try:
        return bool(validate(value, avro_type, raise_errors=False))
    except Exception:
        return False


def fingerprint_of(record_type: str) -> bytes:
    """The 10-byte header (marker + fingerprint) that starts every message of ``record_type``."""
    return MARKER + load_schema(record_type).fingerprint_bytes


def decode(data: bytes, expected: str | None = None) -> tuple[str, dict[str, Any]]:
    """Single-object-encoded bytes → ``(record_type, record)``; times come back as int ms.

    ``expected`` restricts the accepted record type. Too short, bad marker, unknown or unexpected
    fingerprint, truncated, corrupt or over-long body: :class:`BadRecord` ``decode`` naming it.
    """
    if expected is not None and expected not in RECORD_TYPES:
        raise KeyError(f"unknown record type {expected!r}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadRecord("decode", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER_LEN:
        raise BadRecord("decode", f"message too short for Avro single-object encoding ({len(data)} bytes)")
    if data[:2] != MARKER:
        raise BadRecord("decode", f"not Avro single-object encoding: marker {data[:2].hex()} is not c301")
    if len(data) > MAX_MESSAGE_BYTES:
        raise BadRecord("decode", f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    fp = int.from_bytes(data[2:HEADER_LEN], "little")
    schema = schemas_by_fingerprint().get(fp)
    writer = schema
    if schema is None and fp in previous_schemas_by_fingerprint():
        writer = previous_schemas_by_fingerprint()[fp]
        schema = load_schema(writer.name)
    if schema is None or writer is None:
        raise BadRecord("decode", f"unknown schema fingerprint {data[2:HEADER_LEN].hex()}")
    if expected is not None and schema.name != expected:
        raise BadRecord("decode", f"expected a {expected} but the fingerprint is that of {schema.name}")
    body = io.BytesIO(data)
    body.seek(HEADER_LEN)
    try:
        record = schemaless_reader(body, writer.parsed, None if writer is schema else schema.parsed)
    except (EOFError, StopIteration):
        raise BadRecord("decode", f"truncated {schema.name} body") from None
    except UnicodeDecodeError:
        raise BadRecord("decode", f"corrupt {schema.name} body: a string is not valid UTF-8") from None
    except MemoryError:
        raise BadRecord("decode", f"corrupt {schema.name} body: impossible length prefix") from None
    except Exception as exc:  # struct.error, IndexError (bad union index), ValueError, ...
        raise BadRecord("decode", f"corrupt {schema.name} body ({type(exc).__name__}: {exc})") from None
    leftover = len(data) - body.tell()
    if leftover:
        raise BadRecord("decode", f"corrupt {schema.name} body: {leftover} unexpected trailing bytes")
    if schema.name == "StatValue" and isinstance(record.get("State"), str):
        try:
            record["State"] = state_from_output(json.loads(record["State"]))
        except (ValueError, BadRecord):
            raise BadRecord("decode", "corrupt StatValue: State is not a JSON CurrentState") from None
    return schema.name, record


def read_avro_file(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of an Avro object container file (``.avro``), with times as int ms.

    The writer schema embedded in the file decides the fields; timestamp logical types come back
    from fastavro as ``datetime`` and are turned into epoch ms here, so callers see the same shapes
    as from JSON Lines. A file that is not an Avro container, or whose data is cut short or corrupt,
    raises :class:`BadRecord` ``decode`` (when it is met: the records before it are yielded).
    """
    with open(path, "rb") as fo:
        try:
            reader = fastavro.reader(fo)
        except Exception as exc:
            raise BadRecord("decode", f"{path} is not an Avro container file ({exc})") from None
        count = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except Exception as exc:  # truncated or corrupt block: fastavro raises whatever it met
                raise BadRecord(
                    "decode", f"{path}: corrupt or truncated Avro data at record {count + 1} ({exc!r})"
                ) from None
            count += 1
            yield _times_to_ms(record)


def write_avro_file(path: str | Path, record_type: str, records: list[dict[str, Any]]) -> None:
    """Write ``records`` (times as int ms) to an Avro container file of ``record_type``.

    Used by tests and tools that produce ``.avro`` inputs for ``replay``.
    """
    with open(path, "wb") as fo:
        fastavro.writer(fo, load_schema(record_type).parsed, records)


def _times_to_ms(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, dict):
        return {k: _times_to_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times_to_ms(v) for v in value]
    if isinstance(value, datetime):
        return parse_time(value)
    return value


# --------------------------------------------------------------------------------- JSON Lines


def to_json(record: dict[str, Any]) -> str:
    """A record → one compact JSON line; times as ISO strings, key order preserved.

    ``Payload`` bytes (DeadLetter) become UTF-8 text, or base64 plus ``PayloadEncoding: "base64"``.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            out[key] = to_iso(value)
        elif key == "State" and isinstance(value, dict):
            out[key] = state_for_output(value)
        elif key == "Action" and isinstance(value, dict):  # a LateRecord's action record
            out[key] = json.loads(to_json(value))
        elif isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            try:
                out[key] = raw.decode("utf-8")
            except UnicodeDecodeError:
                out[key] = base64.b64encode(raw).decode("ascii")
                out[f"{key}Encoding"] = "base64"
        else:
            out[key] = value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def record_from_json(record_type: str, line: str | bytes) -> dict[str, Any]:
    """One JSON line → record of ``record_type`` with times as int ms (the inverse of :func:`to_json`).

    Bad JSON or a non-object raises :class:`BadRecord` ``decode``; a bad time raises ``bad-time``.
    Field-level validation of events is :mod:`pipeline.records.validation`'s job, not this one's.
    """
    if record_type not in RECORD_TYPES:
        raise KeyError(f"unknown record type {record_type!r}")
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRecord("decode", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRecord("decode", f"a JSON line must hold an object, not {type(obj).__name__}")
    for key in TIME_FIELDS:
        if obj.get(key) is not None:
            obj[key] = parse_time(obj[key], key)
    if record_type == "StatValue" and isinstance(obj.get("State"), dict):
        obj["State"] = state_from_output(obj["State"])
    if record_type == "LateRecord" and isinstance(obj.get("Action"), dict):
        obj["Action"] = record_from_json("ActionRecord", json.dumps(obj["Action"]))
    if record_type == "DeadLetter" and isinstance(obj.get("Payload"), str):
        encoding = obj.pop("PayloadEncoding", None)
        if encoding == "base64":
            try:
                obj["Payload"] = base64.b64decode(obj["Payload"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRecord("decode", "Payload is marked base64 but is not valid base64") from None
        else:
            obj["Payload"] = obj["Payload"].encode("utf-8")
    return obj
