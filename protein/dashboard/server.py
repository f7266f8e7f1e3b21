"""``protein dashboard``: a local web page that follows the studies of a storage live.

Read-only: the routes only read studies (``data.Feed``); there is no route that writes. It
binds 127.0.0.1 unless told otherwise, and any other address needs a token, which every
data route then checks (the page asks for it). The page is ``page.html_page`` and draws its
plots with the plotly.js that ships inside the plotly Python package: no CDN, works offline.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path
from typing import Any

from protein.dashboard.data import Feed, study_row
from protein.dashboard.page import html_page, plotly_js
from protein.errors import ProteinError, TrialError, require
from protein.storage import open_backend
from protein.study import Study


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Studies:
    """The storage's studies, each followed by one ``Feed`` (made on first use). Every
    feed reads through the one open backend (one SQLite file handle or PostgreSQL pool for
    the process, however many studies the storage holds); the routes run on the server's
    one event-loop thread, and a feed's background importance fit reads no storage."""

    def __init__(self, storage_url: str, only: str | None, out_dir: str) -> None:
        self.backend = open_backend(storage_url)
        self.only = only
        self.out_dir = Path(out_dir)
        self.feeds: dict[str, Feed] = {}

    def names(self) -> list[str]:
        names = self.backend.study_names()
        return [n for n in names if self.only is None or n == self.only]

    def feed(self, name: str) -> Feed:
        if name not in self.names():
            raise KeyError(name)
        if name not in self.feeds:
            self.feeds[name] = Feed(Study.load(name, self.backend), self.out_dir / name)
        return self.feeds[name]

    def listing(self) -> list[dict[str, Any]]:
        return [study_row(self.feed(n)) for n in self.names()]


def build_app(storage_url: str, study: str | None = None, out_dir: str = "runs",
              token: str | None = None) -> Any:
    """The Starlette app: the page, plotly.js, and three read-only JSON routes."""
    require("starlette", "dashboard", "protein dashboard")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    studies = Studies(storage_url, study, out_dir)
    for name in studies.names():  # read every study now, not on the first page load
        studies.feed(name).since(0)
    page = html_page(live=True, needs_token=token is not None)

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def denied() -> JSONResponse:
        return JSONResponse({"error": "this dashboard needs its token"}, status_code=401)

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def plotly(request: Request) -> Response:
        return Response(plotly_js(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    async def listing(request: Request) -> JSONResponse:
        if not authorised(request):
            return denied()
        return JSONResponse({"studies": studies.listing()})

    def _feed(request: Request) -> Feed | JSONResponse:
        """The study the route names, or the answer that refuses it (no token, no study)."""
        if not authorised(request):
            return denied()
        name = request.path_params["name"]
        try:
            return studies.feed(name)
        except KeyError:
            return JSONResponse({"error": f"no study {name!r} here"}, status_code=404)

    async def one(request: Request) -> JSONResponse:
        feed = _feed(request)
        if isinstance(feed, JSONResponse):
            return feed
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return JSONResponse({"error": "since must be a whole number"}, status_code=400)
        return JSONResponse(feed.since(since))

    async def logs(request: Request) -> JSONResponse:
        feed = _feed(request)
        if isinstance(feed, JSONResponse):
            return feed
        try:
            return JSONResponse(feed.trial_logs(int(request.path_params["trial"])))
        except TrialError as e:
            return JSONResponse({"error": str(e)}, status_code=404)

    return Starlette(routes=[
        Route("/", index), Route("/plotly.min.js", plotly),
        Route("/api/studies", listing), Route("/api/studies/{name}", one),
        Route("/api/studies/{name}/trials/{trial:int}/logs", logs),
    ])


def serve(storage_url: str, study: str | None, host: str, port: int, out_dir: str,
          token: str | None) -> None:
    """Serve the dashboard until Ctrl-C."""
    if not is_loopback(host) and not token:
        raise ProteinError(
            f"--host {host}: the dashboard would be open to the network; give --token "
            "SECRET (the page asks for it), or leave --host out to bind 127.0.0.1")
    uvicorn = require("uvicorn", "dashboard", "protein dashboard")
    app = build_app(storage_url, study, out_dir, token)
    uvicorn.run(app, host=host, port=port, log_level="warning")
