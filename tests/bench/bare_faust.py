"""The bench's bare faust agent: what faust itself allows on this broker, for the worker's ratio.

Consume raw bytes, write one RocksDB table entry, produce one record per event with ``await
topic.send`` — no decoding, no domain logic. Built by the project's app factory (``kafka://``,
``store="rocksdb://"``, raw serialisers), so it pays exactly the framework costs the worker pays,
and runs under the worker's ``faust_worker`` (logging at WARNING builds no DEBUG record there).

    python -m tests.bench.bare_faust BOOTSTRAP IN_TOPIC OUT_TOPIC DATA_DIR APP_ID
"""

from __future__ import annotations

import sys
from pathlib import Path

import faust

from pipeline.stats.config import Config
from pipeline.stream.app import create_app
from pipeline.stream.settings import Settings


def build(bootstrap: str, in_topic: str, out_topic: str, data_dir: Path, app_id: str) -> faust.App:
    settings = Settings(bootstrap=bootstrap, config=Config(), data_dir=data_dir, app_id=app_id)
    app, _ = create_app(settings, stages=())
    source = app.topic(in_topic)
    sink = app.topic(out_topic)
    last_offset = app.Table("last-offset", default=int, partitions=1, key_type=str, value_type=int)

    @app.agent(source)
    async def bare(stream):  # noqa: ANN001 - faust's stream type
        async for event in stream.events():
            key = event.key or b""
            last_offset[key.decode("utf-8", "replace")] = event.message.offset  # the one table write
            await sink.send(key=key, value=event.value)

    return app


if __name__ == "__main__":
    bootstrap, in_topic, out_topic, data_dir, app_id = sys.argv[1:6]
    from pipeline.stream.worker import faust_worker

    app = build(bootstrap, in_topic, out_topic, Path(data_dir), app_id)
    faust_worker(app, "warning").execute_from_commandline()
