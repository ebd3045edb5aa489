"""The Avro schemas (``schemas/*.avsc``), loaded once and shared by every codec.

An installed wheel carries the ``.avsc`` files as ``pipeline/_schemas`` (pyproject force-include);
an editable install or a plain checkout has them in the repository's ``schemas/``. We look in that
order so the same code works in both without configuration.

Earlier versions of a schema stay in ``schemas/previous/<Name>.<n>.avsc``: records already on a
topic keep the fingerprint they were written with, and are read by Avro schema resolution into the
current schema (new fields take their defaults). Schemas change only by adding optional fields with
defaults, so every earlier version resolves.

Each schema is parsed on its own (its own named-type registry) because every ``.avsc`` is
self-contained; sharing one registry would make re-parsing fail on duplicate names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

#: The record types, by their Avro name (also the ``.avsc`` file stem).
RECORD_TYPES: tuple[str, ...] = ("ReportingEvent", "ActionRecord", "StatValue", "DeadLetter", "LateRecord")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def schema_dir() -> Path:
    """The directory holding the ``.avsc`` files: the wheel's copy first, then the checkout's."""
    for candidate in (_PACKAGE_DIR / "_schemas", _PACKAGE_DIR.parent / "schemas"):
        if (candidate / "ReportingEvent.avsc").is_file():
            return candidate
    raise FileNotFoundError(
        f"Avro schemas not found in {_PACKAGE_DIR / '_schemas'} or {_PACKAGE_DIR.parent / 'schemas'}"
    )


def _strip_logical_types(node: Any) -> Any:
    """A copy of a schema without ``logicalType`` annotations.

    We keep times as epoch-ms ints in memory; fastavro would turn ``timestamp-millis`` into
    ``datetime`` objects. The parsing canonical form ignores logical types, so the stripped schema
    writes identical bytes and has the identical fingerprint.
    """
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


def rabin_fingerprint(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of ``data`` as an unsigned 64-bit int (Avro spec algorithm)."""
    fp = _EMPTY
    table = _fp_table()
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


_EMPTY = 0xC15D213AA4D7A795


@cache
def _fp_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


@dataclass(frozen=True)
class LoadedSchema:
    """One record type: its raw JSON, the parsed schema used for I/O, and its identity."""

    name: str
    raw: dict[str, Any]
    parsed: Any  # fastavro's parsed schema, logical types stripped (times stay int ms)
    canonical: str  # parsing canonical form
    fingerprint: int  # CRC-64-AVRO of the canonical form

    @property
    def fingerprint_bytes(self) -> bytes:
        """The 8 bytes that follow the single-object marker (little-endian, as the spec says)."""
        return self.fingerprint.to_bytes(8, "little")

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.raw["fields"]]

    def required_fields(self) -> list[str]:
        """Fields without a default whose type does not admit null."""
        out = []
        for f in self.raw["fields"]:
            t = f["type"]
            nullable = isinstance(t, list) and "null" in t
            if not nullable and "default" not in f:
                out.append(f["name"])
        return out


@cache
def load_schema(name: str) -> LoadedSchema:
    """The schema of record type ``name`` (one of :data:`RECORD_TYPES`), parsed once."""
    if name not in RECORD_TYPES:
        raise KeyError(f"unknown record type {name!r}; expected one of {', '.join(RECORD_TYPES)}")
    return _load_file(name, schema_dir() / f"{name}.avsc")


@cache
def schemas_by_fingerprint() -> dict[int, LoadedSchema]:
    """All four schemas keyed by fingerprint (how a decoder recognises a message)."""
    return {s.fingerprint: s for s in (load_schema(n) for n in RECORD_TYPES)}


def _load_file(name: str, path: Path) -> LoadedSchema:
    raw = json.loads(path.read_text(encoding="utf-8"))
    parsed = parse_schema(_strip_logical_types(raw), named_schemas={})
    canonical = to_parsing_canonical_form(parsed)
    return LoadedSchema(name, raw, parsed, canonical, rabin_fingerprint(canonical.encode("utf-8")))


@cache
def previous_schemas_by_fingerprint() -> dict[int, LoadedSchema]:
    """Earlier versions of the schemas (``previous/<Name>.<n>.avsc``) keyed by fingerprint.

    A decoder reads such a message with the earlier schema as the writer's and the current one as
    the reader's, so consumers see one shape whatever version wrote the record.
    """
    out: dict[int, LoadedSchema] = {}
    for path in sorted((schema_dir() / "previous").glob("*.avsc")):
        name = path.name.split(".")[0]
        if name in RECORD_TYPES:
            loaded = _load_file(name, path)
            out[loaded.fingerprint] = loaded
    return out
