"""Which Kafka to talk to: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else the running local broker.

Every CLI tool and the worker go through :func:`resolve_bootstrap`, so pointing the whole product
at an existing cluster is one environment variable, and the zero-configuration path is
``mediastat broker start``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "KAFKA_BOOTSTRAP_SERVERS"


class NoKafka(RuntimeError):
    """No bootstrap address could be found; the message says how to provide one."""


def resolve_bootstrap(explicit: str | None = None, state_dir: Path | None = None) -> str:
    """``explicit`` (a ``--bootstrap`` option), else the environment, else the local broker's address."""
    if explicit:
        return explicit
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    from pipeline.kafka.broker import running_state

    state = running_state(state_dir)
    if state is not None:
        return state.bootstrap
    raise NoKafka(
        f"no Kafka to talk to: set {ENV_VAR}=host:port, pass --bootstrap, "
        "or start the local broker with `mediastat broker start`"
    )
