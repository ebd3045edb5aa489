"""Import Stat Server option sections into mediastat's statistics YAML (statistics.md).

Stat Server keeps stat types in its application options, exported from Configuration Manager as an
INI-style file: one ``[StatTypeName]`` section per stat type (``Category=``, ``Objects=``,
``Subject=``, ``MainMask=``, ``RelMask=``, ``MediaType=``) plus ``[TimeProfiles]``, ``[TimeRanges]``
and ``[Filters]``. Users migrating from Stat Server should not retype them, so this module turns such
a file into the YAML that :func:`pipeline.stats.config.load_config` reads, and proves it loads before
writing it: an import never produces a file the product would refuse.

CLI: ``mediastat stattypes import FILE [-o OUT.yaml] [--no-statistics]`` (:func:`add_arguments`,
:func:`run`).
"""

from __future__ import annotations

import argparse
import configparser
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.stats.config import DEFAULT_PROFILE, INTIMERANGE_CATEGORIES, ConfigError, parse_config

__all__ = ["StatServerImportError", "add_arguments", "convert", "import_file", "run", "to_yaml"]

Warn = Callable[[str], None]

#: Stat Server object names → ours (StagingArea is an interaction queue).
OBJECT_NAMES = {
    "agent": "Agent",
    "place": "Place",
    "groupagents": "GroupAgents",
    "groupplaces": "GroupPlaces",
    "stagingarea": "Queue",
    "tenant": "Tenant",
}
#: Stat type keys we translate, by their lower-case spelling (Stat Server option names ignore case).
STAT_TYPE_KEYS = {
    k.lower(): k for k in ("Category", "Objects", "Subject", "MainMask", "RelMask", "MediaType")
}
#: Keys Stat Server exports that carry no meaning here and are common enough not to warn about.
SILENT_KEYS = frozenset({"description"})
#: Stat Server application sections that are not stat types; skipped with a warning.
APPLICATION_SECTIONS = frozenset(
    {
        "statserver",
        "log",
        "log-extended",
        "log-filter",
        "log-filter-data",
        "java-config",
        "java-extensions",
        "sml",
        "license",
    }
)
SPECIAL_SECTIONS = {"timeprofiles": "time_profiles", "timeranges": "time_ranges", "filters": "filters"}


class StatServerImportError(ValueError):
    """An options file that cannot be imported; the message names the section and the problem."""


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _read_options(text: str, source: str) -> configparser.ConfigParser:
    # Only '=' separates (time profiles contain ':'); no interpolation (values may hold '%'); case of
    # option names is kept (profile names are case-sensitive); no DEFAULT section magic.
    parser = configparser.ConfigParser(
        delimiters=("=",), interpolation=None, default_section="\x00no-default", strict=True
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise StatServerImportError(f"{source}: not a valid options file: {exc.message}") from exc
    return parser


def convert(text: str, source: str, *, open_statistics: bool = True, warn: Warn = _stderr_warning) -> dict:
    """Stat Server options text → the configuration mapping of statistics.md (validated).

    Each stat type is opened as a statistic with the ``Default`` profile unless ``open_statistics``
    is false. An *InTimeRange stat type is opened with the file's only time range; with none or
    several it is left unopened (with a warning), since the choice is the user's.
    """
    options = _read_options(text, source)
    data: dict[str, Any] = {"time_profiles": {}, "time_ranges": {}, "filters": {}, "stat_types": {}}
    for section in options.sections():
        special = SPECIAL_SECTIONS.get(section.lower())
        items = dict(options.items(section))
        if special == "time_profiles":
            data[special].update(_time_profiles(items))
        elif special:
            data[special].update({name: value.strip() for name, value in items.items()})
        elif section.lower() in APPLICATION_SECTIONS:
            warn(f"{source}: [{section}]: an application section, not a stat type; skipped")
        else:
            data["stat_types"][section] = _stat_type(section, items, source, warn)

    if open_statistics:
        data["statistics"] = _statistics(data, source, warn)
    data = {key: value for key, value in data.items() if value}
    try:
        parse_config(data, f"{source} (imported)")
    except ConfigError as exc:
        raise StatServerImportError(str(exc)) from exc
    return data


def _time_profiles(items: dict[str, str]) -> dict[str, str]:
    """``Name=Growing,00:00`` and Stat Server's own ``Name,Growing=00:00`` both give ``Name``."""
    profiles: dict[str, str] = {}
    for key, value in items.items():
        name, comma, kind = key.partition(",")
        value = value.strip()
        if comma:
            profiles[name.strip()] = f"{kind.strip()},{value}" if value else kind.strip()
        else:
            profiles[name.strip()] = value
    return profiles


def _stat_type(section: str, items: dict[str, str], source: str, warn: Warn) -> dict[str, Any]:
    where = f"{source}: [{section}]"
    fields: dict[str, str] = {}
    for key, value in items.items():
        canonical = STAT_TYPE_KEYS.get(key.lower())
        if canonical:
            fields[canonical] = value.strip()
        elif key.lower() not in SILENT_KEYS:
            warn(f"{where}: key {key!r} is not used by mediastat; ignored")
    if not fields.get("Category"):
        raise StatServerImportError(f"{where}: missing Category (every stat type section needs one)")
    objects: list[str] = []
    for name in _split(fields.get("Objects", "")):
        ours = OBJECT_NAMES.get(name.lower())
        if ours is None:
            hint = (
                " (Stat Server's Queue is a voice ACD queue; interaction queues are StagingArea)"
                if name.lower() == "queue"
                else ""
            )
            raise StatServerImportError(
                f"{where}: Objects: unknown object type {name!r}{hint}; expected "
                "Agent, Place, GroupAgents, GroupPlaces, StagingArea or Tenant"
            )
        if ours not in objects:
            objects.append(ours)
    if not objects:
        raise StatServerImportError(f"{where}: missing Objects (e.g. Objects=Agent,GroupAgents)")

    stat_type: dict[str, Any] = {"Objects": objects, "Category": fields["Category"]}
    if fields.get("Subject"):
        stat_type["Subject"] = fields["Subject"]
    for mask in ("MainMask", "RelMask"):
        if _split(fields.get(mask, "")):
            stat_type[mask] = _split(fields[mask])
    if _split(fields.get("MediaType", "")):
        stat_type["MediaType"] = [m.lower() for m in _split(fields["MediaType"])]
    return stat_type


def _statistics(data: dict[str, Any], source: str, warn: Warn) -> list[dict[str, str]]:
    ranges = list(data["time_ranges"])
    statistics: list[dict[str, str]] = []
    for name, stat_type in data["stat_types"].items():
        entry = {"stat_type": name, "time_profile": DEFAULT_PROFILE}
        if stat_type["Category"] in INTIMERANGE_CATEGORIES:
            if len(ranges) != 1:
                warn(
                    f"{source}: [{name}]: category {stat_type['Category']} needs a time range and the file "
                    f"has {len(ranges) or 'none'}; not opened as a statistic (add one with a time_range)"
                )
                continue
            entry["time_range"] = ranges[0]
        statistics.append(entry)
    return statistics


# ----------------------------------------------------------------------------------------- writing


class _FlowMapping(dict):
    """A mapping written on one line (statistics entries)."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    flow = all(isinstance(item, str | int | float) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _represent_flow_mapping(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=True)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(_FlowMapping, _represent_flow_mapping)


def to_yaml(data: dict, source: str) -> str:
    """The configuration mapping as commented YAML, in the section order of statistics.md."""
    body = dict(data)
    if "statistics" in body:
        body["statistics"] = [_FlowMapping(entry) for entry in body["statistics"]]
    header = (
        f"# Imported from Stat Server options {source} by `mediastat stattypes import`.\n"
        "# Reference: docs/statistics-config.md\n"
    )
    return header + yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def import_file(path: str | Path, *, open_statistics: bool = True, warn: Warn = _stderr_warning) -> str:
    """Read a Stat Server options file and return the YAML text of its configuration."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StatServerImportError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise StatServerImportError(f"{source}: not UTF-8 text: {exc.reason}") from exc
    data = convert(text, source, open_statistics=open_statistics, warn=warn)
    out = to_yaml(data, Path(path).name)
    if yaml.safe_load(out) != data:  # the written text must mean exactly what was validated
        raise StatServerImportError(f"{source}: internal error: the YAML written does not read back the same")
    return out


# --------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mediastat stattypes``: for now its one sub-command, ``import``."""
    commands = parser.add_subparsers(dest="stattypes_command", metavar="COMMAND", required=True)
    imp = commands.add_parser(
        "import",
        help="convert Stat Server option sections into a statistics YAML file",
        description="Read stat types, [TimeProfiles], [TimeRanges] and [Filters] from a Stat Server "
        "options file (as exported from Configuration Manager) and write the YAML of "
        "docs/statistics-config.md. The result is checked to load before it is written.",
    )
    imp.add_argument("file", metavar="FILE", help="Stat Server options file (INI style)")
    imp.add_argument("-o", "--output", metavar="OUT.yaml", help="write here instead of standard output")
    imp.add_argument(
        "--no-statistics",
        action="store_true",
        help="only define stat types, profiles, ranges and filters; open no statistics",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``mediastat stattypes …``; 0 on success, 1 when the file cannot be read or imported."""
    if getattr(args, "stattypes_command", None) != "import":
        print("mediastat stattypes: expected a sub-command: import", file=sys.stderr)
        return 1
    try:
        text = import_file(args.file, open_statistics=not args.no_statistics)
    except StatServerImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"error: {args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
