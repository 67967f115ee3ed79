"""A fake of the GitHub REST API for the tests: real HTTP on 127.0.0.1 (a random
port), the calls ephemera.ci.github makes, with their status codes, pagination (Link:
rel="next") and bearer-token authentication; everything it was asked is recorded."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "fake-token"
REPO = "acme/infra"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


@dataclass
class State:
    roles: dict[str, str] = field(default_factory=dict)  # user → role_name
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: list[tuple[int, str]] = field(default_factory=list)
    labels: dict[int, set[str]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)  # plan.yml's runs
    reruns: list[int] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def comment(self, issue: int, body: str, user: dict[str, str] = BOT) -> dict[str, Any]:
        item = {"id": self.new_id(), "body": body, "user": dict(user)}
        self.comments.setdefault(issue, []).append(item)
        return item


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^/repos/{REPO}" + p + "$"), name)
    for m, p, name in [
        ("GET", r"/collaborators/(?P<user>[^/]+)/permission", "permission"),
        ("POST", r"/issues/comments/(?P<id>\d+)/reactions", "react"),
        ("GET", r"/issues/(?P<n>\d+)/comments", "list_comments"),
        ("POST", r"/issues/(?P<n>\d+)/comments", "create_comment"),
        ("PATCH", r"/issues/comments/(?P<id>\d+)", "update_comment"),
        ("GET", r"/issues/(?P<n>\d+)/labels", "list_labels"),
        ("POST", r"/issues/(?P<n>\d+)/labels", "add_labels"),
        ("DELETE", r"/issues/(?P<n>\d+)/labels/(?P<name>[^/]+)", "remove_label"),
        ("GET", r"/pulls/(?P<n>\d+)", "pull"),
        ("GET", r"/commits/(?P<sha>[0-9a-f]+)/pulls", "commit_pulls"),
        ("GET", r"/actions/workflows/plan\.yml/runs", "runs"),
        ("POST", r"/actions/runs/(?P<id>\d+)/rerun", "rerun"),
    ]
]


class Handler(BaseHTTPRequestHandler):
    state: State
    base: str

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, data: Any = None, headers: dict[str, str] | None = None):
        body = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.state.calls.append((method, url.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "Bad credentials"})
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length)) if length else None
        for route_method, pattern, name in ROUTES:
            match = pattern.match(url.path)
            if match and route_method == method:
                return getattr(self, name)(match.groupdict(), query, payload)
        return self._answer(404, {"message": "Not Found"})

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # ---------------------------------------------------------------- the routes

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> None:
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            rest = urllib.parse.urlencode({**query, "page": page + 1})
            headers["Link"] = f'<{self.base}{path}?{rest}>; rel="next"'
        self._answer(200, chunk, headers)

    def permission(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        role = self.state.roles.get(urllib.parse.unquote(args["user"]))
        if role is None:
            return self._answer(404, {"message": "Not Found"})
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        self._answer(200, {"permission": legacy, "role_name": role})

    def react(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        self.state.reactions.append((int(args["id"]), payload["content"]))
        self._answer(201, {"content": payload["content"]})

    def list_comments(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        path = f"/repos/{REPO}/issues/{args['n']}/comments"
        self._page(self.state.comments.get(int(args["n"]), []), query, path)

    def create_comment(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        self._answer(201, self.state.comment(int(args["n"]), payload["body"]))

    def update_comment(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        for items in self.state.comments.values():
            for item in items:
                if item["id"] == int(args["id"]):
                    item["body"] = payload["body"]
                    return self._answer(200, item)
        self._answer(404, {"message": "Not Found"})

    def list_labels(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        names = sorted(self.state.labels.get(int(args["n"]), set()))
        self._page([{"name": n} for n in names], query, f"/repos/{REPO}/issues/{args['n']}/labels")

    def add_labels(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        self.state.labels.setdefault(int(args["n"]), set()).update(payload["labels"])
        self._answer(200, [{"name": n} for n in sorted(self.state.labels[int(args["n"])])])

    def remove_label(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        names = self.state.labels.get(int(args["n"]), set())
        name = urllib.parse.unquote(args["name"])
        if name not in names:
            return self._answer(404, {"message": "Label does not exist"})
        names.discard(name)
        self._answer(200, [])

    def pull(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        pull = self.state.pulls.get(int(args["n"]))
        self._answer(200, pull) if pull else self._answer(404, {"message": "Not Found"})

    def commit_pulls(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        numbers = self.state.commit_pulls.get(args["sha"], [])
        self._page([self.state.pulls[n] for n in numbers], query, "")

    def runs(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        found = [
            r
            for r in self.state.runs
            if r["head_sha"] == query.get("head_sha") and r["event"] == query.get("event")
        ]
        self._answer(200, {"total_count": len(found), "workflow_runs": found})

    def rerun(self, args: dict[str, str], query: dict[str, str], payload: Any) -> None:
        run = next((r for r in self.state.runs if r["id"] == int(args["id"])), None)
        if run is None:
            return self._answer(404, {"message": "Not Found"})
        if run["status"] != "completed":
            return self._answer(403, {"message": "This workflow is already running"})
        self.state.reruns.append(run["id"])
        self._answer(201, {})


@contextmanager
def fake_github() -> Iterator[tuple[State, dict[str, str]]]:
    """The fake API, serving on 127.0.0.1; yields its state and the environment a job
    would have (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, the run's link)."""
    state = State()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    environ = {
        "GITHUB_API_URL": handler.base,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "77",
    }
    try:
        yield state, environ
    finally:
        server.shutdown()
        server.server_close()
