"""Avro bodies written by writers compiled once per schema, for the records the pipeline makes.

fastavro's ``schemaless_writer`` walks the schema for every record: about 21 µs for a StatValue and
more for an ActionRecord's 31 fields, a tenth of a worker's time for its action records alone. A
schema's shape does not change, so :func:`compile_writer` turns it once into nested functions, one
per field, each checking its value's type and appending its bytes (Avro's "Binary Encoding": a long
zig-zag then base-128 little-endian; a string its length then UTF-8; a union the branch's index
then the branch; maps and arrays one block then a zero count).

A writer only writes what it is sure fastavro writes the same way, byte for byte: a value of another
Python type than the one the pipeline makes (a float for a long, a ``datetime`` for a timestamp, a
tuple for an array, a missing required field) raises :class:`Unsupported`, and the caller
(:func:`pipeline.records.codec.encode`) gives the record to fastavro, which writes it or says which
field is wrong. Schemas with types the pipeline's records do not use (enums, fixed, floats, unions of
two non-null branches) are not compiled (:func:`compile_writer` returns None).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

#: A writer appends a value's bytes to a list (joined once per record).
Write = Callable[[Any, list], None]

_LONG_LOW, _LONG_HIGH = -(1 << 63), 1 << 63
_INT_LOW, _INT_HIGH = -(1 << 31), 1 << 31
_DOUBLE = struct.Struct("<d").pack


class Unsupported(Exception):
    """A value the compiled writer does not write itself: fastavro writes (or refuses) the record."""


def long_bytes(n: int) -> bytes:
    """An Avro long: zig-zag, then base-128 groups, low first."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(long_bytes(n) for n in range(64))  # lengths of most strings


def string_bytes(text: str) -> bytes:
    data = text.encode("utf-8")
    n = len(data)
    return (_SMALL[n] if n < 64 else long_bytes(n)) + data


def _string(value: Any, out: list) -> None:
    if value.__class__ is not str:
        raise Unsupported
    out.append(string_bytes(value))  # a lone surrogate raises UnicodeEncodeError: see ``body``


def _optional_string(value: Any, out: list) -> None:
    """``["null", "string"]``, the most common field of our records, in one call."""
    if value is None:
        out.append(b"\x00")
    elif value.__class__ is str:
        out.append(b"\x02" + string_bytes(value))
    else:
        raise Unsupported


def _long(value: Any, out: list) -> None:
    if value.__class__ is not int or not _LONG_LOW <= value < _LONG_HIGH:
        raise Unsupported
    out.append(long_bytes(value))


def _int(value: Any, out: list) -> None:
    if value.__class__ is not int or not _INT_LOW <= value < _INT_HIGH:
        raise Unsupported
    out.append(long_bytes(value))


def _double(value: Any, out: list) -> None:
    kind = value.__class__
    if kind is float:
        out.append(_DOUBLE(value))
    elif kind is int:
        try:
            out.append(_DOUBLE(float(value)))
        except OverflowError:
            raise Unsupported from None
    else:
        raise Unsupported


def _boolean(value: Any, out: list) -> None:
    if value is True:
        out.append(b"\x01")
    elif value is False:
        out.append(b"\x00")
    else:
        raise Unsupported


def _bytes(value: Any, out: list) -> None:
    if value.__class__ is not bytes:
        raise Unsupported
    out.append(long_bytes(len(value)))
    out.append(value)


def _null(value: Any, out: list) -> None:
    if value is not None:
        raise Unsupported


_PRIMITIVES: dict[str, Write] = {
    "string": _string, "long": _long, "int": _int, "double": _double, "boolean": _boolean,
    "bytes": _bytes, "null": _null,
}


class _NotCompiled(Exception):
    """A schema with a type this module does not write."""


def _optional(branch: Write) -> Write:
    def write(value: Any, out: list) -> None:
        if value is None:
            out.append(b"\x00")
        else:
            out.append(b"\x02")
            branch(value, out)

    return write


def _map(values: Write) -> Write:
    def write(value: Any, out: list) -> None:
        if value.__class__ is not dict:
            raise Unsupported
        if value:
            out.append(long_bytes(len(value)))
            for key, item in value.items():
                _string(key, out)
                values(item, out)
        out.append(b"\x00")

    return write


def _array(items: Write) -> Write:
    def write(value: Any, out: list) -> None:
        if value.__class__ is not list:
            raise Unsupported
        if value:
            out.append(long_bytes(len(value)))
            for item in value:
                items(item, out)
        out.append(b"\x00")

    return write


_MISSING = object()


def _record(fields: list[tuple[str, Write, Any]]) -> Write:
    """A record's fields in order; a field absent from the dict is written as its schema default
    when it has one (fastavro does the same), as None otherwise."""

    def write(value: Any, out: list) -> None:
        if value.__class__ is not dict:
            raise Unsupported
        get = value.get
        for name, field, default in fields:
            if default is _MISSING:
                field(get(name), out)
            else:
                item = get(name, _MISSING)
                field(default if item is _MISSING else item, out)

    return write


def _compile(node: Any, named: dict[str, Write], namespace: str) -> Write:
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return _PRIMITIVES[node]
        found = named.get(node) or named.get(f"{namespace}.{node}")
        if found is None:
            raise _NotCompiled(f"unknown named type {node}")
        return found
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if node and node[0] == "null" and len(node) == 2:
            if node[1] == "string":
                return _optional_string
            return _optional(_compile(node[1], named, namespace))
        raise _NotCompiled(f"union {branches}")
    if not isinstance(node, dict):
        raise _NotCompiled(repr(node))
    kind = node.get("type")
    if kind == "map":
        return _map(_compile(node["values"], named, namespace))
    if kind == "array":
        return _array(_compile(node["items"], named, namespace))
    if kind == "record":
        ns = node.get("namespace", namespace)
        fields: list[tuple[str, Write, Any]] = []
        write = _record(fields)
        name = node["name"] if "." in node["name"] else f"{ns}.{node['name']}"
        named[name] = write
        for field in node["fields"]:
            default = field.get("default", _MISSING)
            if default is None or isinstance(field["type"], list):
                default = _MISSING  # a union's default is its first branch, null here: get() gives it
            fields.append((field["name"], _compile(field["type"], named, ns), default))
        return write
    if kind in _PRIMITIVES:  # {"type": "long", "logicalType": …}: the underlying type's bytes
        return _PRIMITIVES[kind]
    raise _NotCompiled(f"type {kind}")


def compile_writer(schema: dict[str, Any]) -> Callable[[dict[str, Any]], bytes] | None:
    """``record → Avro body`` for a record schema (raw JSON, as in the ``.avsc``), or None when it has
    a type this module does not write. The function raises :class:`Unsupported` for a value it
    does not write itself."""
    try:
        write = _compile(schema, {}, schema.get("namespace", ""))
    except _NotCompiled:
        return None

    def body(record: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        try:
            write(record, out)
        except UnicodeEncodeError:  # a lone surrogate in a string: fastavro refuses it, naming the field
            raise Unsupported from None
        return b"".join(out)

    return body
