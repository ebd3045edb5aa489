"""Where the specification is, for ``make spec-check`` only: ``$MEDIASTAT_SPEC_DIR``, else
``shared/spec`` beside the checkout (as on the development machine).

The everyday suite never reads it (it has its own scenarios in ``tests/scenarios``), so a clone with
nothing beside it tests completely; ``--spec-check`` refuses to start when the folder is missing
rather than passing with nothing checked.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("MEDIASTAT_SPEC_DIR") or ROOT.parent / "shared" / "spec")
SCENARIOS = SPEC_DIR / "scenarios"


def missing_spec() -> str | None:
    """Why the spec's scenarios cannot be checked here, or None when they can."""
    if not list(SCENARIOS.glob("*.events.jsonl")):
        return (
            f"no specification scenarios at {SCENARIOS}: set MEDIASTAT_SPEC_DIR to the specification "
            "folder (the one holding scenarios/) to run make spec-check"
        )
    return None
