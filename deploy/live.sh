#!/usr/bin/env bash
# `make run`, after the broker is up: the stream worker (with its wallboard) and the live simulator
# in one terminal. Ctrl-C stops both cleanly; the broker keeps running (`make stop` stops it).
#   BIN       the venv's bin directory (default .venv/bin)
#   CONFIG    worker configuration written by `mediastat simulate --write-config`
#   AGENTS    simulated agents (default 50), SPEED times faster than life (default 1)
#   WALLBOARD_PORT  wallboard port, or the next free one (default 8642)
set -u
# Background jobs of a script ignore SIGINT, so they are stopped with SIGTERM (both handle it cleanly).
BIN=${BIN:-.venv/bin}
CONFIG=${CONFIG:-.run/live.stats.yaml}
AGENTS=${AGENTS:-50}
SPEED=${SPEED:-1}
PORT=${WALLBOARD_PORT:-8642}

"$BIN/mediastat" worker --config "$CONFIG" --web-port "$PORT" --loglevel warning &
worker=$!
"$BIN/mediastat" simulate --live --agents "$AGENTS" --speed "$SPEED" &
simulator=$!

stop() {
  trap - INT TERM
  echo "stopping the simulator and the worker (the broker keeps running: make stop)" >&2
  kill -TERM "$simulator" 2>/dev/null
  kill -TERM "$worker" 2>/dev/null
  wait "$simulator" 2>/dev/null
  wait "$worker" 2>/dev/null
  exit 0
}
trap stop INT TERM
# Either one ending (the worker refusing its configuration, say) ends the run.
wait -n "$worker" "$simulator"
status=$?
kill -TERM "$simulator" 2>/dev/null
kill -TERM "$worker" 2>/dev/null
wait
exit "$status"
