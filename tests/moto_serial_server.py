"""moto's server, answering one request at a time: `python tests/moto_serial_server.py HOST PORT`.

Real DynamoDB makes each conditional write atomic; moto's in-memory backends are not
thread-safe, so under its threaded server two conditional PutItems can both pass the
same version check. Serialising requests gives the tests DynamoDB's atomicity while the
clients still race between their reads and their conditional writes, which is what the
compare-and-swap tests are about. Connections are still accepted concurrently.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)
