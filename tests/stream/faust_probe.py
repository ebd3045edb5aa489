"""A minimal Faust worker for tests: counts ReportingEvents per agent in a RocksDB table.

Run as ``python -m tests.stream.faust_probe BOOTSTRAP IN_TOPIC OUT_TOPIC DATA_DIR APP_ID``. It uses
the project's app factory (``kafka://``, ``store="rocksdb://"``, raw bytes + our Avro codec), so the
test proves the real configuration rather than a look-alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import faust

from pipeline.records.codec import decode, encode
from pipeline.records.keys import agent_key
from pipeline.stats.config import Config
from pipeline.stream.app import create_app
from pipeline.stream.settings import Settings


def build(bootstrap: str, in_topic: str, out_topic: str, data_dir: Path, app_id: str) -> faust.App:
    settings = Settings(bootstrap=bootstrap, config=Config(), data_dir=data_dir, app_id=app_id)
    app, _ = create_app(settings, stages=())
    source = app.topic(in_topic)
    sink = app.topic(out_topic)
    # Tables serialise with json whatever the app default is (raw), so keys/values may be str/int.
    counts = app.Table("counts", default=int, partitions=1, key_type=str, value_type=int)

    @app.agent(source)
    async def count(stream):  # noqa: ANN001 - faust's stream type
        async for event in stream.events():
            _, record = decode(event.value, expected="ReportingEvent")
            agent = agent_key(record["TenantID"], record["AgentID"])
            counts[agent] += 1
            stat = {
                "Statistic": "Events",
                "StatType": "Probe",
                "Category": "TotalNumber",
                "ObjectType": "Agent",
                "ObjectID": record["AgentID"],
                "TenantID": record["TenantID"],
                "TimeProfile": "Default",
                "Value": float(counts[agent]),
                "Unit": "count",
                "EmittedAt": record["EventTime"],
                "Reason": "Change",
            }
            await sink.send(key=agent.encode(), value=encode("StatValue", stat))

    return app


if __name__ == "__main__":
    bootstrap, in_topic, out_topic, data_dir, app_id = sys.argv[1:6]
    faust.Worker(
        build(bootstrap, in_topic, out_topic, Path(data_dir), app_id), loglevel="warning"
    ).execute_from_commandline()
