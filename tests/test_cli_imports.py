"""``mediastat`` imports the module of the command it runs only: ``replay`` has no use for
librdkafka, asyncio or ssl (about 10 MB of its memory), and the list of commands needs no import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.golden import scenario

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
from pipeline.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted(m for m in ("confluent_kafka", "asyncio", "ssl", "faust")
                                                  if m in sys.modules)}))
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_replay_does_not_load_the_kafka_client(tmp_path: Path) -> None:
    events = scenario("routed-emails.events.jsonl")
    done = _run("replay", str(events), "--stats-out", str(tmp_path / "s.jsonl"), "--quiet")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": []}
    assert (tmp_path / "s.jsonl").read_text().strip()  # it did run: statistic records written


def test_the_command_list_and_a_wrong_command_still_name_every_command() -> None:
    names = ("broker", "topics", "feed", "tail", "worker", "replay", "stattypes", "simulate")
    listed = _run("--help")
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in names)
    wrong = _run("replai", "x")
    assert wrong.returncode == 2
    assert "invalid choice: 'replai'" in wrong.stderr
    assert all(name in wrong.stderr for name in names)


def test_a_kafka_command_still_has_its_own_arguments() -> None:
    done = _run("tail", "--help")
    assert done.returncode == 0
    assert "usage: mediastat tail" in done.stdout and "--bootstrap" in done.stdout
