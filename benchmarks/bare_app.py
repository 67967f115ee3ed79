"""`python -m benchmarks.bare_app PORT asgi|starlette`: the baselines of the mock API
benchmark, on exactly the server the mock API runs on (`ephemera.mockapi.server.Server`:
uvicorn, the same protocol, limits and timeouts), so a ratio measures what the mock API
itself costs.

- `asgi`: a bare ASGI callable (reads the request, answers a fixed JSON body): the
  floor of any app on this server;
- `starlette`: a bare Starlette app with one route answering the same body: the
  uvicorn + Starlette app the issue's reference measurement used.
"""

from __future__ import annotations

import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ephemera.mockapi.server import Server, bind_socket
from ephemera.mockapi.settings import Settings

BODY = b'[{"id": 1, "name": "Tom", "species": "cat"}]'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def pets(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


APPS = {"asgi": bare_asgi, "starlette": Starlette(routes=[Route("/pets", pets)])}


def main(port: int, kind: str) -> None:
    server = Server(APPS[kind], bind_socket("127.0.0.1", port, "bare app"), Settings())
    print(f"bare {kind} app listening on 127.0.0.1:{server.port}", flush=True)
    server.run()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
