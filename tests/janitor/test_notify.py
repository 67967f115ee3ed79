"""Notifiers: console + log file, SNS (moto server), webhook (a local HTTP server)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ephemera.errors import UsageError
from ephemera.janitor.notify import (
    ConsoleNotifier,
    MultiNotifier,
    Notification,
    NotifyError,
    RoutingNotifier,
    SnsNotifier,
    WebhookNotifier,
    notifier_for,
)

EVENT = Notification(
    env="qa",
    kind="warning",
    subject="[ephemera] qa expires in 1h 59m (2h warning)",
    text="Environment qa (owner alice@example.com) expires …\n  make extend-ttl ENV=qa HOURS=4",
    data={"rung": "2h"},
)


class Hook:
    """A local HTTP server standing in for a webhook: records requests, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.reply = b"ok"
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                hook.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(hook.status)
                self.send_header("Content-Length", str(len(hook.reply)))
                self.end_headers()
                self.wfile.write(hook.reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_notification_kinds_are_checked() -> None:
    with pytest.raises(ValueError):
        Notification(env="qa", kind="shout", subject="s", text="t")


def test_console_prints_and_appends_a_json_line(tmp_path: Path) -> None:
    log = tmp_path / ".ephemera" / "notifications.log"
    out = io.StringIO()
    notifier = ConsoleNotifier(log, stream=out)
    notifier.send(EVENT)
    notifier.send(EVENT)
    assert "[warning] [ephemera] qa expires" in out.getvalue()
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    entry = json.loads(lines[0])
    assert entry["env"] == "qa" and entry["kind"] == "warning"
    assert entry["data"] == {"rung": "2h"} and "make extend-ttl" in entry["text"]


def test_sns_publishes_to_the_topic(moto) -> None:
    sns = moto.client("sns")
    sqs = moto.client("sqs")
    topic = sns.create_topic(Name="ephemera-notify")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    SnsNotifier(sns, topic).send(EVENT)

    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == EVENT.subject
    assert envelope["Message"] == EVENT.text
    assert envelope["MessageAttributes"]["env"]["Value"] == "qa"


def test_sns_subject_is_flattened_and_capped(moto) -> None:
    class Capture:
        def publish(self, **kwargs):
            self.kwargs = kwargs

    client = Capture()
    long = Notification(env="qa", kind="failed", subject="x" * 150 + "\nsecond", text="t")
    SnsNotifier(client, "arn:aws:sns:us-east-1:123456789012:t").send(long)
    assert len(client.kwargs["Subject"]) == 100 and "\n" not in client.kwargs["Subject"]


def test_sns_errors_become_notify_errors(moto) -> None:
    sns = moto.client("sns")
    missing = "arn:aws:sns:us-east-1:123456789012:missing"
    with pytest.raises(NotifyError, match="publish failed"):
        SnsNotifier(sns, missing).send(EVENT)


def test_webhook_posts_slack_compatible_json(hook: Hook) -> None:
    WebhookNotifier(hook.url).send(EVENT)
    [request] = hook.requests
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["text"].startswith("*[ephemera] qa expires")
    assert "make extend-ttl ENV=qa HOURS=4" in body["text"]
    assert body["ephemera"]["env"] == "qa" and body["ephemera"]["kind"] == "warning"


def test_webhook_errors_are_reported_as_notify_errors(hook: Hook) -> None:
    hook.status = 500
    hook.reply = b"no_service"
    secret_url = hook.url + "/services/T000/B000/secret-token"
    with pytest.raises(NotifyError, match="HTTP 500: no_service") as caught:
        WebhookNotifier(secret_url).send(EVENT)
    assert "secret-token" not in str(caught.value)  # the URL's path is the secret
    assert "webhook http://127.0.0.1/…" in str(caught.value)
    hook.close()
    with pytest.raises(NotifyError, match="webhook"):
        WebhookNotifier(hook.url, timeout=2).send(EVENT)  # nothing listens any more


def test_webhook_passes_its_timeout_to_the_opener() -> None:
    seen = {}

    def opener(request, timeout):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    with pytest.raises(NotifyError, match="timed out"):
        WebhookNotifier("https://hooks.example.com/x", opener=opener, timeout=3).send(EVENT)
    assert seen == {"timeout": 3}
    with pytest.raises(UsageError):
        WebhookNotifier("file:///etc/passwd")


def test_multi_sends_to_all_even_when_one_fails(tmp_path: Path) -> None:
    class Broken:
        def send(self, event):
            raise NotifyError("webhook down")

    log = tmp_path / "n.log"
    multi = MultiNotifier([Broken(), ConsoleNotifier(log, stream=io.StringIO())])
    with pytest.raises(NotifyError, match="webhook down"):
        multi.send(EVENT)
    assert len(log.read_text().splitlines()) == 1


def test_routing_picks_a_notifier_per_env(tmp_path: Path) -> None:
    made = []

    def factory(env: str) -> ConsoleNotifier:
        made.append(env)
        return ConsoleNotifier(tmp_path / f"{env}.log", stream=io.StringIO())

    routing = RoutingNotifier(factory)
    routing.send(EVENT)
    routing.send(EVENT)
    assert made == ["qa"]
    assert len((tmp_path / "qa.log").read_text().splitlines()) == 2


def test_notifier_for_builds_what_the_notify_block_asks_for(moto, hook, tmp_path) -> None:
    log = tmp_path / "notifications.log"
    default = notifier_for({}, log_path=log)
    assert isinstance(default, ConsoleNotifier) and default.log_path == log
    assert isinstance(notifier_for({"email": ["a@example.com"]}, log_path=log), ConsoleNotifier)
    assert isinstance(notifier_for({"webhook": hook.url}), WebhookNotifier)

    topic = moto.client("sns").create_topic(Name="t")["TopicArn"]
    both = notifier_for(
        {"console": True, "webhook": hook.url, "sns_topic_arn": topic},
        moto.session(),
        log_path=log,
        endpoint_url=moto.endpoint,
    )
    assert isinstance(both, MultiNotifier)
    assert [type(n) for n in both.notifiers] == [ConsoleNotifier, WebhookNotifier, SnsNotifier]
    both.notifiers[0].stream = io.StringIO()
    both.send(EVENT)  # every channel works against the local stand-ins
    assert len(hook.requests) == 1 and log.exists()

    class Env:
        notify = {"webhook": hook.url}

    assert isinstance(notifier_for(Env()), WebhookNotifier)


def test_notifier_for_rejects_bad_blocks() -> None:
    with pytest.raises(UsageError, match="unknown key"):
        notifier_for({"slack": "x"})
    with pytest.raises(UsageError, match="needs an AWS session"):
        notifier_for({"sns_topic_arn": "arn:aws:sns:us-east-1:1:t"})
    with pytest.raises(UsageError, match="expected a URL"):
        notifier_for({"webhook": ["x"]})
