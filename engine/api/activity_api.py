"""`GET /kubedeck/v1/activity?since=N[&limit=M]`: the activity stream (engine/activity.py).

A kubedeck extension, behind the API's bearer token like every other path. The answer
is `{"items": [...entries after N, oldest first...], "last": the newest sequence number,
"first": the oldest one still in the ring}`; a client polls with `since=<last it saw>`
and knows it missed entries when `first > since + 1`. Entries are dicts with the ring's
fields (`seq`, `start`, `end`, `component`, `instance`, `verb`, `kind`, `namespace`,
`name`, `detail`), times in seconds since the epoch. Any other API server answers 404,
which is how the TUI knows to build its views from Events alone.

Wiring (server.py): `ActivityApi().install(app)`.
"""

from __future__ import annotations

from aiohttp import web

from .. import activity

PATH = "/kubedeck/v1/activity"


class ActivityApi:
    def __init__(self, ring: activity.Activity | None = None) -> None:
        self.ring = ring or activity.RING

    def install(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.get)

    async def get(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
            limit = int(request.query["limit"]) if "limit" in request.query else None
        except ValueError:
            raise ValueError("since and limit must be integers") from None  # the server's 400
        ring = self.ring.ring
        first = ring[0][0] if ring else 0
        return web.json_response({"items": self.ring.since(since, limit), "first": first,
                                  "last": self.ring.last_seq()})
