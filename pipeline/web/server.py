"""The worker's web server (aiohttp): wallboard, server push, query API, ``/metrics``, ``/health``.

Routes:

* ``GET /`` — the wallboard page; its script and style are served from ``/static/`` out of the
  package (no CDN: contact centres often have no internet on the wallboard's network).
* ``GET /api/stream?statistic=NAME…`` — Server-Sent Events: a ``snapshot`` of the current values,
  then ``update`` batches as notifications arrive (the browser reconnects on its own).
* ``GET /api/wallboard`` — what the page lays out: groups, media, the statistics it shows.
* ``GET /api/statistics`` — every statistic with its stat type, category and objects.
* ``GET /api/values?statistic=&object_type=&object_id=[&tenant=]`` — the latest record; 404 with a
  message for an unknown statistic or an object without a value.
* ``GET /metrics`` — Prometheus text format; ``GET /health`` — liveness and what was read.

It listens on 127.0.0.1 by default (``worker --web-host``): a wallboard on a shared network goes
behind a proxy of the site's choosing. In a container, ``--web-host 0.0.0.0`` lets the platform's
probes and a Prometheus scraper reach ``/health`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from aiohttp import web

from pipeline.web import metrics
from pipeline.web.store import StatStore, as_json

HOST = "127.0.0.1"
DEFAULT_PORT = 8642
#: The statistics the wallboard shows (per-media group counts are added from the configuration).
WALLBOARD_STATS: tuple[str, ...] = (
    "Agent_Current_State_Reasons",
    "Agents_Available",
    "Agents_Routable",
    "Agents_Not_Ready",
    "Agents_In_DND",
    "Channels_Logged_In",
    "Interactions_In_Hand",
    "Handled",
    "Average_Handle_Time",
    "Queue_Depth",
    "Oldest_Waiting",
    "Queue_Entered",
    "Queue_Abandoned",
)
PER_MEDIA_PREFIXES: tuple[str, ...] = ("Agents_Available_", "Agents_Routable_", "Agents_Not_Ready_")
PUSH_BATCH_S = 0.1
STATIC = resources.files("pipeline.web") / "static"
STATIC_TYPES = {
    ".html": "text/html",
    ".js": "application/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def layout(store: StatStore, groups: Mapping[str, list[str]]) -> dict[str, Any]:
    """What the page shows: groups and their members, the media with per-media counts, statistics."""
    names = set(store.statistics)
    media = sorted({n[len(p) :] for n in names for p in PER_MEDIA_PREFIXES if n.startswith(p)})
    shown = [n for n in WALLBOARD_STATS if n in names or not names]
    shown += sorted(n for n in names if n.startswith(PER_MEDIA_PREFIXES))
    return {"groups": {g: sorted(m) for g, m in groups.items()}, "media": media, "statistics": shown}


def make_app(
    store: StatStore,
    registry=None,
    groups: Mapping[str, list[str]] | None = None,
    info: Mapping[str, Any] | None = None,
) -> web.Application:
    """The aiohttp application over ``store`` (``registry``: what ``/metrics`` renders)."""
    app = web.Application()
    started = time.time()
    page = layout(store, groups or {})
    registry = registry if registry is not None else metrics.build_registry({}, store=store)

    async def index(_request: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "wallboard.html").read_bytes(), content_type="text/html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if "/" in name or name.startswith(".") or not (STATIC / name).is_file():
            raise web.HTTPNotFound(text=f"no such file: {name}")
        suffix = name[name.rfind(".") :]
        return web.Response(
            body=(STATIC / name).read_bytes(), content_type=STATIC_TYPES.get(suffix, "text/plain")
        )

    async def wallboard(_request: web.Request) -> web.Response:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return web.json_response({**page, "now": now})

    async def statistics(_request: web.Request) -> web.Response:
        return web.json_response({"statistics": store.catalog()})

    async def values(request: web.Request) -> web.Response:
        q = request.query
        missing = [p for p in ("statistic", "object_type", "object_id") if not q.get(p)]
        if missing:
            return web.json_response(
                {"error": f"missing query parameter(s): {', '.join(missing)}"}, status=400
            )
        name = q["statistic"]
        if not store.known(name):
            return web.json_response(
                {"error": f"unknown statistic {name!r}: GET /api/statistics lists them"}, status=404
            )
        rec = store.get(name, q["object_type"], q["object_id"], q.get("tenant"))
        if rec is None:
            return web.json_response(
                {"error": f"no value of {name} for {q['object_type']} {q['object_id']!r} yet"}, status=404
            )
        out = as_json(rec)
        return web.json_response({"value": out["Value"], "state": out.get("State"), "record": out})

    async def stream(request: web.Request) -> web.StreamResponse:
        wanted = frozenset(request.query.getall("statistic", [])) or None
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = store.subscribe(wanted)
        try:
            snapshot = [as_json(r) for r in store.snapshot(wanted)]
            await response.write(_sse("snapshot", snapshot))
            while True:
                try:
                    first = await asyncio.wait_for(queue.get(), timeout=15.0)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await asyncio.sleep(PUSH_BATCH_S)  # gather what arrives with it
                batch = [first] + [queue.get_nowait() for _ in range(queue.qsize())]
                latest = {(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"]): r for r in batch}
                await response.write(_sse("update", [as_json(r) for r in latest.values()]))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.unsubscribe(queue)
        return response

    async def metrics_page(_request: web.Request) -> web.Response:
        body = metrics.render(registry)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "uptime_s": round(time.time() - started, 1),
                "statistic_records_read": store.received,
                "values": len(store.latest),
                **dict(info or {}),
            }
        )

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/wallboard", wallboard)
    app.router.add_get("/api/statistics", statistics)
    app.router.add_get("/api/values", values)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/health", health)
    return app


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def free_port(preferred: int, host: str = HOST, tries: int = 50) -> int:
    """``preferred`` if free, else the next free port above it (0: any free port)."""
    for port in [0] if preferred == 0 else range(preferred, preferred + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError(f"no free port in {preferred}..{preferred + tries - 1} on {host}")


async def serve(
    app: web.Application, port: int = DEFAULT_PORT, host: str = HOST
) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner (``await runner.cleanup()`` stops it) and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    chosen = free_port(port, host)
    site = web.TCPSite(runner, host, chosen)
    await site.start()
    return runner, chosen
