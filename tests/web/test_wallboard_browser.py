"""The wallboard in a real headless Chromium (Debian's package, driven by Playwright for Python).

Broker, worker and live simulator run as in ``make run``; the page must show the agents, and a
state change fed into Kafka must appear on it within 5 s, with no reload (asserted under
``CI=true``; elsewhere the time is measured and printed: a shared machine's load is not the
product's). The screenshot is saved
with the test's output (its path is printed; ``MEDIASTAT_WALLBOARD_PNG`` copies it elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.records.times import to_iso
from tests.conftest import _on_ci
from tests.stream.harness import REPO, Pipeline

pytestmark = pytest.mark.integration

#: The page must show a change within 5 s. Asserted on CI, where the machine runs nothing else;
#: on a shared development machine the test waits up to 30 s and prints the time it measured.
LIMIT_S = 5.0 if _on_ci() else 30.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_fail() -> None:
    if not os.path.exists(CHROMIUM):
        message = "chromium not found: apt-get install -y chromium (.ci/run does it)"
        if _on_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _send(bootstrap: str, topic: str, event: dict) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=event["AgentID"].encode(), value=json.dumps(event).encode())
    assert producer.flush(10) == 0


def test_wallboard_shows_agents_and_a_state_change_within_5s(kafka_bootstrap: str, tmp_path: Path):
    _browser_or_fail()
    from playwright.sync_api import sync_playwright

    config = tmp_path / "live.yaml"
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="wall")
    done = pipe.cli("simulate", "--agents", "6", "--write-config", str(config))
    assert done.returncode == 0, done.stderr
    worker = pipe.start_worker(web_port=0)
    sim_log = open(tmp_path / "simulate.log", "w")
    sim = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "simulate", "--live", "--agents", "6", "--speed", "2"],
        cwd=REPO,
        env=pipe._env(),
        stdout=sim_log,
        stderr=subprocess.STDOUT,
    )
    shot = tmp_path / "wallboard.png"
    try:
        url = pipe.web_url(worker)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.wait_for_function("document.querySelectorAll('.agent').length >= 6", timeout=90_000)
            assert page.locator(".conn.up").count() == 1  # server push connected

            topic = pipe.topic("events")
            agent = {"AgentID": "a900", "PlaceID": "p900", "TenantID": "t1"}
            now = int(time.time() * 1000)
            login = {
                "Event": "EventAgentLogin",
                "EventTime": to_iso(now),
                **agent,
                "MediaList": [{"MediaTypeID": "email", "Ready": True}],
            }
            _send(kafka_bootstrap, topic, login)
            card = "document.querySelector('[data-agent=\"a900\"]')"
            page.wait_for_function(f"{card} && {card}.dataset.status === 'Available'", timeout=30_000)

            started = time.monotonic()
            not_ready = {
                "Event": "EventNotReadyForMedia",
                "EventTime": to_iso(int(time.time() * 1000)),
                **agent,
                "MediaTypeID": "email",
                "Reason": {"ReasonCode": "Lunch"},
            }
            _send(kafka_bootstrap, topic, not_ready)
            page.wait_for_function(f"{card}.dataset.status === 'Blocked'", timeout=LIMIT_S * 1000)
            elapsed = time.monotonic() - started
            text = page.locator('[data-agent="a900"]').inner_text()
            assert "Not ready" in text and "Lunch" in text
            page.wait_for_timeout(1500)  # let the times tick once more before the picture
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        print(f"\nstate change on the page {elapsed:.1f} s after it was sent; screenshot: {shot}")
        if os.environ.get("MEDIASTAT_WALLBOARD_PNG"):
            shutil.copy(shot, os.environ["MEDIASTAT_WALLBOARD_PNG"])
    finally:
        sim.terminate()
        sim.wait(30)
        sim_log.close()
        pipe.stop_all()
    assert shot.stat().st_size > 10_000
