"""Puts the web side into a worker process: the statistic-topic reader and the server, as app tasks.

The worker calls :func:`attach` once with its Faust app; nothing in the stages depends on it. The
server starts with the worker, prints ``wallboard: http://127.0.0.1:PORT/`` and stops with it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.stats.config import Config
from pipeline.web import metrics, reader, server
from pipeline.web.store import StatStore

log = logging.getLogger(__name__)


def store_for(config: Config) -> StatStore:
    return StatStore(
        (s.name, s.stat_type.name, s.stat_type.category, s.stat_type.objects) for s in config.statistics
    )


def consumer_lag(app, inputs: Iterable[str]) -> Mapping[tuple[str, int], int]:
    """Messages not yet read per assigned partition of the input topics (high water − next offset)."""
    wanted = set(inputs)
    consumer = app.consumer
    out: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic not in wanted:
            continue
        high = consumer.highwater(tp)
        if high is None:
            continue
        read = consumer._read_offset.get(tp)
        committed = consumer._committed_offset.get(tp)
        position = read + 1 if read is not None else committed if committed is not None else 0
        out[(tp.topic, tp.partition)] = max(0, int(high) - int(position))
    return out


def attach(app, settings: Any, topics, port: int, host: str = server.HOST) -> StatStore:
    """Register the web side's tasks on ``app`` (built from the worker's ``Settings``); returns the store.

    Duck-typed on ``settings`` (``config``, ``kafka`` or ``bootstrap``) so that ``web`` does not import
    ``stream``.
    """
    from pipeline.telemetry import STAGES

    config, bootstrap = settings.config, getattr(settings, "kafka", None) or settings.bootstrap
    stat_topics = [topics.stat(name) for name in config.stat_types]
    inputs = [topics.events, topics.agent_inputs, topics.stats_inputs, topics.stat_partials]
    store = store_for(config)
    registry = metrics.build_registry(STAGES, lag=lambda: consumer_lag(app, inputs), store=store)
    web_app = server.make_app(
        store,
        registry,
        groups={g: sorted(m) for g, m in config.groups.agents.items()},
        info={"app_id": app.conf.id},
    )

    @app.task
    async def web_side() -> None:
        stop = asyncio.Event()
        runner, chosen = await server.serve(web_app, port, host)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # an address a browser can open
        print(f"wallboard: http://{shown}:{chosen}/", file=sys.stderr, flush=True)
        try:
            while True:
                try:
                    await reader.follow(
                        bootstrap, stat_topics, store, stop, getattr(settings, "serialization", None)
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the broker went away: keep serving, read again later
                    log.warning("wallboard: reading statistics failed (%s); retrying", exc)
                    await asyncio.sleep(2.0)
        finally:
            stop.set()
            await runner.cleanup()

    return store
