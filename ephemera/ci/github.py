"""The GitHub REST API, the few calls CI needs: comments, reactions, labels, a user's
permission, the pull request of a commit, workflow runs and their re-run.

`GitHub.from_environ` reads what a workflow job has: GITHUB_REPOSITORY, GITHUB_TOKEN
(the job's own token, never logged) and GITHUB_API_URL. The API must be https, or a
loopback address (the tests' fake API on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ephemera.errors import EphemeraError, UsageError

API_VERSION = "2022-11-28"
WRITE = ("admin", "maintain", "write")  # roles that may run commands
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class GitHubError(EphemeraError):
    """A call to the GitHub API failed: names the call and GitHub's answer."""

    def __init__(self, where: str, status: int, detail: str) -> None:
        self.status = status
        super().__init__(f"GitHub API {where}: HTTP {status}: {detail[:500]}")


@dataclass(frozen=True)
class GitHub:
    repository: str  # owner/name
    token: str
    api_url: str = "https://api.github.com"
    timeout: float = 20.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> GitHub:
        repository, token = environ.get("GITHUB_REPOSITORY", ""), environ.get("GITHUB_TOKEN", "")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository) or not token:
            raise UsageError("GITHUB_REPOSITORY (owner/name) and GITHUB_TOKEN must be set")
        api = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        parsed = urllib.parse.urlparse(api)
        if parsed.scheme != "https" and not (
            parsed.scheme == "http" and parsed.hostname in _LOOPBACK
        ):
            raise UsageError(f"GITHUB_API_URL: {api!r} is not an https URL")
        return cls(repository, token, api)

    # ------------------------------------------------------------------ transport

    def call(
        self, method: str, path: str, payload: Any = None, query: Mapping[str, Any] | None = None
    ) -> tuple[Any, dict[str, str]]:
        """(the JSON answer or None, the response headers); GitHubError otherwise."""
        url = path if path.startswith(self.api_url) else f"{self.api_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in from_environ
            url,
            data=None if payload is None else json.dumps(payload).encode(),
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "ephemera-ci",
                **({"Content-Type": "application/json"} if payload is not None else {}),
            },
        )
        where = f"{method} {urllib.parse.urlparse(url).path}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            raise GitHubError(where, exc.code, exc.read().decode(errors="replace")) from None
        except (OSError, ValueError) as exc:
            raise GitHubError(where, 0, f"{type(exc).__name__}: {exc}") from None
        return (json.loads(body) if body.strip() else None), headers

    def pages(self, path: str, query: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list (Link: rel="next")."""
        items: list[Any] = []
        url: str | None = path
        params: Mapping[str, Any] | None = {"per_page": 100, **(query or {})}
        while url:
            data, headers = self.call("GET", url, query=params)
            items.extend(data if isinstance(data, list) else [])
            link = _NEXT.search(headers.get("Link") or headers.get("link") or "")
            url, params = (link.group(1), None) if link else (None, None)
        return items

    @property
    def _repo(self) -> str:
        return f"/repos/{self.repository}"

    # ----------------------------------------------------------------- the calls

    def permission(self, user: str) -> str:
        """`user`'s role on the repository (admin, maintain, write, triage, read, none)."""
        try:
            data, _ = self.call("GET", f"{self._repo}/collaborators/{_quote(user)}/permission")
        except GitHubError as exc:
            if exc.status == 404:
                return "none"
            raise
        data = data or {}
        return str(data.get("role_name") or data.get("permission") or "none")

    def can_write(self, user: str) -> bool:
        return self.permission(user) in WRITE

    def react(self, comment_id: int, content: str) -> None:
        self.call(
            "POST",
            f"{self._repo}/issues/comments/{int(comment_id)}/reactions",
            {"content": content},
        )

    def comments(self, issue: int) -> list[dict[str, Any]]:
        return self.pages(f"{self._repo}/issues/{int(issue)}/comments")

    def create_comment(self, issue: int, body: str) -> dict[str, Any]:
        data, _ = self.call("POST", f"{self._repo}/issues/{int(issue)}/comments", {"body": body})
        return data or {}

    def update_comment(self, comment_id: int, body: str) -> None:
        self.call("PATCH", f"{self._repo}/issues/comments/{int(comment_id)}", {"body": body})

    def labels(self, issue: int) -> list[str]:
        return [item["name"] for item in self.pages(f"{self._repo}/issues/{int(issue)}/labels")]

    def add_labels(self, issue: int, names: list[str]) -> None:
        self.call("POST", f"{self._repo}/issues/{int(issue)}/labels", {"labels": names})

    def remove_label(self, issue: int, name: str) -> None:
        self.call("DELETE", f"{self._repo}/issues/{int(issue)}/labels/{_quote(name)}")

    def pull_request(self, number: int) -> dict[str, Any]:
        data, _ = self.call("GET", f"{self._repo}/pulls/{int(number)}")
        return data or {}

    def pulls_of_commit(self, sha: str) -> list[dict[str, Any]]:
        return self.pages(f"{self._repo}/commits/{_quote(sha)}/pulls")

    def workflow_runs(self, workflow: str, head_sha: str) -> list[dict[str, Any]]:
        data, _ = self.call(
            "GET",
            f"{self._repo}/actions/workflows/{_quote(workflow)}/runs",
            query={"head_sha": head_sha, "event": "pull_request", "per_page": 100},
        )
        return list((data or {}).get("workflow_runs") or [])

    def rerun(self, run_id: int) -> None:
        self.call("POST", f"{self._repo}/actions/runs/{int(run_id)}/rerun", {})


def _quote(text: str) -> str:
    return urllib.parse.quote(str(text), safe="")
