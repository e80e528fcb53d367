"""``archspec serve``: a page on localhost that redraws a spec within moments of each save.

Starlette serves three routes and nothing else (no file browsing): ``/`` the page, ``/state``
the current :class:`~.preview.Preview` as JSON, ``/events`` the same as a stream of server-sent
events, one per change.  A watchfiles task watches the folders of the spec and of every file it
extends (editors save by renaming, so files alone would be lost), redraws in a worker thread,
and wakes the streams; the page swaps in the new drawing without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from archspec.integrations.serve.preview import DrawOptions, Preview, redraw

HEARTBEAT_SECONDS = 0.5
"""How often an idle event stream checks whether the server is stopping (and keeps the connection warm)."""


class PreviewState:
    """The current preview and a way to wait for the next one (one event loop, no locks needed)."""

    def __init__(self, options: DrawOptions, style: str) -> None:
        self.options = options
        self.style = style
        self.preview = redraw(options, Preview())
        self._changed = asyncio.Event()

    async def refresh(self) -> None:
        self.preview = await asyncio.to_thread(redraw, self.options, self.preview)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def next_change(self, timeout: float) -> bool:
        """Wait for a new preview; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(asyncio.shield(self._changed.wait()), timeout)
        except asyncio.TimeoutError:
            return False
        return True


async def watch_spec(state: PreviewState, stop: asyncio.Event) -> None:
    """Redraw whenever one of the spec's files changes, until ``stop``; the set of files is
    taken afresh after each redraw (an edit may add or drop an ``extends``)."""
    from watchfiles import awatch

    while not stop.is_set():
        files = set(state.preview.files)
        folders = sorted({str(path.parent) for path in files if path.parent.is_dir()})
        if not folders:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            continue

        def ours(change: Any, path: str, watched: set[Path] = files) -> bool:
            return Path(path).resolve() in watched

        try:
            async for _ in awatch(*folders, watch_filter=ours, stop_event=stop, step=30, debounce=400,
                                  rust_timeout=int(HEARTBEAT_SECONDS * 1000), yield_on_timeout=False):
                await state.refresh()
                if set(state.preview.files) != files:
                    break
        except OSError:  # a watched folder went away: look again shortly, the server keeps running
            await asyncio.sleep(HEARTBEAT_SECONDS)


def create_app(state: PreviewState, stopping: Callable[[], bool]) -> Any:
    """The ASGI application; ``stopping`` says when the server is shutting down, so that open
    event streams end and Ctrl-C stops the server at once."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    page = resources.files("archspec.integrations.serve").joinpath("page.html").read_text(encoding="utf-8")
    page = page.replace("__STYLE__", state.style)

    async def index(request: Any) -> HTMLResponse:
        return HTMLResponse(page)

    async def current(request: Any) -> JSONResponse:
        return JSONResponse(state.preview.as_json())

    async def events(request: Any) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            sent = -1
            while not stopping():
                preview = state.preview
                if preview.version != sent:
                    sent = preview.version
                    yield f"data: {json.dumps(preview.as_json())}\n\n"
                elif not await state.next_change(HEARTBEAT_SECONDS):
                    if await request.is_disconnected():
                        return
                    yield ": idle\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_spec(state, stop))
        try:
            yield
        finally:
            stop.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    return Starlette(routes=[Route("/", index), Route("/state", current), Route("/events", events)],
                     lifespan=lifespan)


def serve(options: DrawOptions, *, host: str = "127.0.0.1", port: int = 8765, style: str = "graph",
          announce: Callable[[str], None] = print) -> None:
    """Serve the live preview until interrupted (Ctrl-C, SIGTERM); announces the address once listening."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            for server in self.servers:
                for sock in server.sockets:
                    bound_host, bound_port = sock.getsockname()[:2]
                    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                    announce(f"serving {options.spec} at http://{shown}:{bound_port}/ (Ctrl-C to stop)")
                    return

    async def main() -> None:
        server: Server | None = None
        app = create_app(PreviewState(options, style), lambda: server is not None and server.should_exit)
        server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                       timeout_graceful_shutdown=1))
        await server.serve()

    asyncio.run(main())
