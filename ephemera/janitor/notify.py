"""Notifications: TTL warnings, destroys, failed destroys.

A `Notifier` has one method, `send(event)`. A notifier that cannot deliver
raises `NotifyError`; the sweep catches it and reports it in its summary, so a
dead webhook never stops a sweep. This module imports nothing outside the
standard library (it is packaged into the janitor Lambda); AWS clients come
from a session passed in.

Which notifiers are used comes from the `notify` block of `_defaults.yaml`
merged with the environment's own (see `notifier_for`):

    notify:
      console: true                 # print + append to .ephemera/notifications.log
      webhook: https://hooks…       # JSON POST with a Slack-compatible `text`
      sns_topic_arn: arn:aws:sns:…  # publish to an SNS topic
      email: [alice@example.com]    # SNS e-mail subscriptions, made by Terraform
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.httppost import Opener, PostFailed, post_json

WARNING = "warning"
DESTROYED = "destroyed"
FAILED = "failed"
DISPATCHED = "dispatched"
KINDS = (WARNING, DESTROYED, FAILED, DISPATCHED)

NOTIFY_KEYS = ("console", "webhook", "sns_topic_arn", "email")


class NotifyError(EphemeraError):
    """A notification could not be delivered."""


@dataclass(frozen=True)
class Notification:
    env: str
    kind: str  # one of KINDS
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"notification kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": None if self.at is None else self.at.isoformat(),
            "env": self.env,
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


class Notifier(Protocol):
    def send(self, event: Notification) -> None: ...


class ConsoleNotifier:
    """Prints each notification (to stderr: stdout may carry JSON) and appends it as
    one JSON line to `log_path`."""

    def __init__(self, log_path: Path | None = None, stream: TextIO | None = None) -> None:
        self.log_path = log_path
        self.stream = stream

    def send(self, event: Notification) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"[{event.kind}] {event.subject}\n{event.text}", file=stream, flush=True)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(event.to_json() + "\n")


def _sns_subject(subject: str) -> str:
    """SNS subjects: at most 100 characters, no line breaks."""
    flat = " ".join(subject.split())
    return flat if len(flat) <= 100 else flat[:99] + "…"


class SnsNotifier:
    """Publishes to an SNS topic (its e-mail subscriptions are made by Terraform)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def send(self, event: Notification) -> None:
        try:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=_sns_subject(event.subject),
                Message=event.text,
                MessageAttributes={
                    "env": {"DataType": "String", "StringValue": event.env},
                    "kind": {"DataType": "String", "StringValue": event.kind},
                },
            )
        except Exception as exc:  # botocore errors: reported, not raised past the sweep
            raise NotifyError(f"sns {self.topic_arn}: publish failed: {exc}") from exc


class WebhookNotifier:
    """A JSON POST with a Slack-compatible `text` field (plus the event under `ephemera`)."""

    def __init__(self, url: str, opener: Opener | None = None, timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"notify.webhook: {url!r} is not an http(s) URL")
        self.url = url
        self.opener = opener
        self.timeout = timeout

    def send(self, event: Notification) -> None:
        payload = {"text": f"*{event.subject}*\n{event.text}", "ephemera": event.to_dict()}
        try:
            status, text = post_json(self.url, payload, opener=self.opener, timeout=self.timeout)
        except PostFailed as exc:
            raise NotifyError(f"webhook {self.shown}: {exc.detail}") from exc
        if not 200 <= status < 300:
            raise NotifyError(f"webhook {self.shown}: HTTP {status}: {text[:500]}")

    @property
    def shown(self) -> str:
        """Scheme and host only: a webhook URL's path is its secret (Slack, Teams)."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}/…"


class MultiNotifier:
    """Sends to every notifier; one failing does not stop the others."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def send(self, event: Notification) -> None:
        errors = []
        for notifier in self.notifiers:
            try:
                notifier.send(event)
            except Exception as exc:
                errors.append(str(exc))
        if errors:
            raise NotifyError("; ".join(errors))


class RoutingNotifier:
    """Picks a notifier per environment (`factory(env)`, cached), e.g. from its `notify` block."""

    def __init__(self, factory: Callable[[str], Notifier]) -> None:
        self.factory = factory
        self._cache: dict[str, Notifier] = {}

    def send(self, event: Notification) -> None:
        if event.env not in self._cache:
            self._cache[event.env] = self.factory(event.env)
        self._cache[event.env].send(event)


def notifier_for(
    settings: Mapping[str, Any] | Any,
    session: Any = None,
    *,
    log_path: Path | None = None,
    opener: Opener | None = None,
    endpoint_url: str | None = None,
    where: str = "notify",
) -> Notifier:
    """The notifier a `notify` block asks for.

    `settings` is the merged `notify` mapping (defaults < env file), or anything
    with a `.notify` mapping (an `Environment`). `console: true` (also the choice
    when nothing is configured) → ConsoleNotifier(log_path); `webhook: url` →
    WebhookNotifier; `sns_topic_arn: arn` → SnsNotifier with an SNS client from
    `session`; `email` is ignored here (SNS subscriptions made by Terraform).
    Several → a MultiNotifier.
    """
    block = getattr(settings, "notify", settings)
    block = dict(block or {})
    unknown = sorted(set(block) - set(NOTIFY_KEYS))
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(NOTIFY_KEYS)})"
        )
    chosen: list[Notifier] = []
    if block.get("console"):
        chosen.append(ConsoleNotifier(log_path))
    webhook = block.get("webhook")
    if webhook:
        if not isinstance(webhook, str):
            raise UsageError(f"{where}.webhook: expected a URL, got {webhook!r}")
        chosen.append(WebhookNotifier(webhook, opener=opener))
    topic = block.get("sns_topic_arn")
    if topic:
        if session is None:
            raise UsageError(f"{where}.sns_topic_arn: needs an AWS session (target aws)")
        client = session.client("sns", endpoint_url=endpoint_url)
        chosen.append(SnsNotifier(client, str(topic)))
    if not chosen:
        return ConsoleNotifier(log_path)
    return chosen[0] if len(chosen) == 1 else MultiNotifier(chosen)
