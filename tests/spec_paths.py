"""Where the spec's worked scenarios are: ``$MEDIASTAT_SPEC_DIR``, else ``shared/spec`` beside the
checkout (as on CI). A missing spec fails the tests that need it rather than skipping them."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("MEDIASTAT_SPEC_DIR") or ROOT.parent / "shared" / "spec")
SCENARIOS = SPEC_DIR / "scenarios"


def scenario(name: str) -> Path:
    path = SCENARIOS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set MEDIASTAT_SPEC_DIR to the spec folder")
    return path
