"""The ``mediastat`` command: one subcommand per row of :data:`COMMANDS`.

Each row names a module exposing ``add_arguments(parser)`` and ``run(args) -> int``; adding a row
is the only step needed to add a subcommand. Modules are imported when the parser is built, so a
broken module fails loudly rather than silently disappearing from ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: (name, one-line help, module)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("broker", "start, stop or show the local Kafka broker (KRaft, 127.0.0.1)", "pipeline.kafka.broker"),
    ("topics", "create the pipeline's topics (idempotent)", "pipeline.kafka.admin"),
    ("feed", "send a JSON Lines (or .avro) file of events to <prefix>.events", "pipeline.kafka.feed"),
    ("tail", "print a topic's records as JSON Lines", "pipeline.kafka.tail"),
    ("worker", "run the Faust stream worker (all stages)", "pipeline.stream.worker"),
    ("replay", "run a file of events through the core offline: actions (and statistics) to files",
     "pipeline.replay"),
    ("stattypes", "import Stat Server stat types, profiles, ranges and filters into YAML",
     "pipeline.stats.importer"),
    ("simulate", "write a simulated contact-centre day of events (JSON Lines)", "pipeline.simulate"),
)


def build_parser() -> argparse.ArgumentParser:
    from pipeline import __version__

    parser = argparse.ArgumentParser(
        prog="mediastat",
        description="Interaction Server reporting events in, Stat Server actions and statistics out.",
    )
    parser.add_argument("--version", action="version", version=f"mediastat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, module_name in COMMANDS:
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
