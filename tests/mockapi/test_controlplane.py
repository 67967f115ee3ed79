"""The REST control plane over real HTTP: status codes, bodies and messages as
MockServer's mock/HttpState.java (#handle, #clear, #retrieve, #reset) and
log/MockServerEventLog.java (#verify) write them (files under mockserver/
mockserver-core/src/main/java/org/mockserver/ in mock-server/mockserver)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ephemera.mockapi.app import MockApp

from .helpers import Reply, app_of, http, serving

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


class Api:
    def __init__(self, url: str, app: MockApp) -> None:
        self.url, self.app = url, app

    def put(self, endpoint: str, body: Any = None, query: str = "") -> Reply:
        data = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        target = f"{self.url}/mockserver/{endpoint}" + (f"?{query}" if query else "")
        return http(target, "PUT", data, AUTH)

    def get(self, path: str, **headers: str) -> Reply:
        return http(self.url + path, headers=headers)


@pytest.fixture
def api() -> Iterator[Api]:
    catch_all = {"id": "catch-all", "priority": -10, "httpResponse": {"statusCode": 299}}
    app = app_of(catch_all, token=TOKEN)
    with serving(app) as url:
        yield Api(url, app)


def retrieve(api: Api, kind: str, body: Any = None) -> Any:
    reply = api.put("retrieve", body, f"type={kind}&format=json")
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def test_put_expectation_returns_201_and_the_expectations_as_stored(api: Api) -> None:
    reply = api.put("expectation", {"httpRequest": {"path": "/a"}, "httpResponse": {"body": "A"}})
    assert reply.status == 201
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    [stored] = json.loads(reply.body)
    assert stored["httpRequest"] == {"path": "/a"}
    assert (stored["priority"], stored["times"], stored["timeToLive"]) == (
        0,
        {"unlimited": True},
        {"unlimited": True},
    )
    assert len(stored["id"]) == 36  # a UUID, as MockServer gives one
    assert api.get("/a").body == b"A"


def test_an_array_and_upsert_by_id(api: Api) -> None:
    # mock/RequestMatchers.java#add: the same id replaces the expectation in place
    first = [
        {"id": "x", "httpRequest": {"path": "/u"}, "httpResponse": {"body": "one"}},
        {"id": "y", "httpRequest": {"path": "/u"}, "httpResponse": {"body": "other"}},
    ]
    assert api.put("expectation", first).status == 201
    assert api.get("/u").body == b"one"
    again = {"id": "x", "httpRequest": {"path": "/u"}, "httpResponse": {"body": "two"}}
    assert api.put("expectation", again).status == 201
    assert api.get("/u").body == b"two"  # kept its place, before y
    ids = [e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")]
    assert ids == ["x", "y", "catch-all"]


def test_an_invalid_expectation_is_400_and_adds_nothing(api: Api) -> None:
    body = [
        {"httpRequest": {"path": "/ok"}, "httpResponse": {}},
        {"httpRequest": {"path": "/bad"}, "httpForward": {"host": "example.com"}},
    ]
    reply = api.put("expectation", body)
    assert reply.status == 400
    assert reply.body.decode() == (
        "PUT /mockserver/expectation: [1].httpForward: forwarding is not supported by the local "
        "mock API: it would make the mock a proxy that sends requests to other hosts"
    )
    assert [e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")] == ["catch-all"]


def test_a_lenient_json_body_is_read_as_mockserver_reads_it(api: Api) -> None:
    lenient = b"{httpRequest: {path: '/l'}, httpResponse: {body: 'L',},} // comment"
    assert api.put("expectation", lenient).status == 201
    assert api.get("/l").body == b"L"


def test_control_plane_paths_never_reach_expectations(api: Api) -> None:
    # HttpState#handle takes every PUT to a control path, also the legacy /<name>
    reply = api.put("verify", {"httpRequest": {"path": "/never-sent"}})
    assert reply.status == 406
    assert http(api.url + "/retrieve", "PUT", b"", AUTH).headers["deprecated"] == (
        '"/retrieve" is deprecated use "/mockserver/retrieve" instead'
    )
    assert retrieve(api, "REQUESTS") == []  # control-plane requests are never recorded
    assert api.get("/mockserver/expectation").status == 299  # a GET is the data plane


def test_verify_passes_with_202(api: Api) -> None:
    api.get("/hello")
    assert api.put("verify", {"httpRequest": {"path": "/hello"}}).status == 202  # once
    api.get("/hello")
    twice = {"httpRequest": {"path": "/hello"}, "times": {"atLeast": 2, "atMost": 2}}
    assert api.put("verify", twice).status == 202
    assert (
        api.put("verify", {"httpRequest": {"path": "/hello"}, "times": {"atLeast": 1}}).status
        == 202
    )


def test_verify_failure_message(api: Api) -> None:
    # MockServerEventLog#verify; VerificationTimes#toString; Jackson's pretty printer
    api.get("/hello?x=1", **{"X-Tag": "t"})
    reply = api.put("verify", {"httpRequest": {"path": "/never"}, "times": {"atLeast": 1}})
    assert reply.status == 406
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    message = reply.body.decode()
    assert message.startswith(
        'Request not found at least once, expected:<{\n  "path" : "/never"\n}> but was:<{\n'
    )
    recorded = json.loads(message[message.index("but was:<") + 9 : -1])
    assert recorded["path"] == "/hello"
    assert recorded["queryStringParameters"] == {"x": ["1"]}
    assert recorded["headers"]["X-Tag"] == ["t"]
    assert (recorded["keepAlive"], recorded["secure"], recorded["method"]) == (False, False, "GET")


@pytest.mark.parametrize(
    ("times", "wording"),
    [
        (None, "exactly once"),
        ({"atLeast": 2}, "at least 2 times"),
        ({"atMost": 0}, "at most 0 times"),
        ({"atLeast": 0, "atMost": 0}, "exactly 0 times"),
        ({"atLeast": 2, "atMost": 3}, "between 2 and 3 times"),
        ({"count": 2, "exact": True}, "exactly 2 times"),
    ],
)
def test_verify_times_wording(api: Api, times: Any, wording: str) -> None:
    api.get("/t")
    if times in ({"atMost": 0}, {"atLeast": 0, "atMost": 0}):
        body: dict[str, Any] = {"httpRequest": {"path": "/t"}, "times": times}
    else:
        body = {"httpRequest": {"path": "/other"}, **({"times": times} if times else {})}
    reply = api.put("verify", body)
    assert reply.status == 406
    assert reply.body.decode().startswith(f"Request not found {wording}, expected:<")


def test_verify_with_no_requests_and_with_many(api: Api) -> None:
    reply = api.put("verify", {"httpRequest": {"path": "/x"}})
    assert (
        reply.body.decode()
        == 'Request not found exactly once, expected:<{\n  "path" : "/x"\n}> but was:<[]>'
    )
    for _ in range(10):
        api.get("/x")
    reply = api.put("verify", {"httpRequest": {"path": "/x"}, "times": {"atMost": 2}})
    assert reply.body.decode().endswith("> but was found 10 times among 10 total requests")


def test_verify_by_expectation_id_counts_what_it_answered(api: Api) -> None:
    api.put("expectation", {"id": "hi", "httpRequest": {"path": "/hi"}, "httpResponse": {}})
    api.get("/hi")
    api.get("/elsewhere")
    assert api.put("verify", {"expectationId": {"id": "hi"}}).status == 202
    assert api.put("verify", {"expectationId": {"id": "catch-all"}}).status == 202
    unknown = api.put("verify", {"expectationId": {"id": "nope"}})
    assert (unknown.status, unknown.body) == (400, b"No expectation found with id nope")


def test_verify_sequence(api: Api) -> None:
    # MockServerEventLog#verify(VerificationSequence): a subsequence, in order
    for path in ("/a", "/x", "/b", "/c"):
        api.get(path)
    assert (
        api.put("verifySequence", {"httpRequests": [{"path": "/a"}, {"path": "/c"}]}).status == 202
    )
    reply = api.put("verifySequence", {"httpRequests": [{"path": "/c"}, {"path": "/a"}]})
    assert reply.status == 406
    assert reply.body.decode().startswith(
        'Request sequence not found, expected:<[ {\n  "path" : "/c"\n}, {\n  "path" : "/a"\n} ]> '
        "but was:<[ {"
    )


def test_retrieve_requests_responses_and_logs(api: Api) -> None:
    api.put("expectation", {"httpRequest": {"path": "/j"}, "httpResponse": {"body": {"a": 1}}})
    api.get("/j")
    api.get("/k")
    assert [r["path"] for r in retrieve(api, "REQUESTS")] == ["/j", "/k"]
    assert [r["path"] for r in retrieve(api, "requests", {"path": "/j"})] == ["/j"]
    pairs = retrieve(api, "REQUEST_RESPONSES")
    assert [(p["httpRequest"]["path"], p["httpResponse"]["statusCode"]) for p in pairs] == [
        ("/j", 200),
        ("/k", 299),
    ]
    assert pairs[0]["httpResponse"]["body"] == {"a": 1}
    assert retrieve(api, "RECORDED_EXPECTATIONS") == []
    logs = api.put("retrieve", None, "type=LOGS")
    assert logs.headers["content-type"] == "text/plain; charset=utf-8"
    entries = logs.body.decode().split("------------------------------------\n")
    assert len(entries) == 2 and "received request:" in entries[0]


def test_retrieve_active_expectations_with_a_filter_and_remaining_times(api: Api) -> None:
    twice = {"httpRequest": {"path": "/two"}, "httpResponse": {}, "times": {"remainingTimes": 2}}
    api.put("expectation", twice)
    api.get("/two")
    [found] = retrieve(api, "ACTIVE_EXPECTATIONS", {"path": "/two"})
    assert found["times"] == {"remainingTimes": 1}
    api.get("/two")
    assert retrieve(api, "ACTIVE_EXPECTATIONS", {"path": "/two"}) == []  # used up


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "type=bogus",
            '"bogus" is not a valid value for "type" parameter, only the following values are '
            "supported [logs, requests, request_responses, recorded_expectations, "
            "active_expectations]",
        ),
        (
            "format=yaml",
            '"yaml" is not a valid value for "format" parameter, only the following values are '
            "supported [java, json, log_entries]",
        ),
        (
            "type=REQUESTS&limit=5",
            "PUT /mockserver/retrieve: query parameter 'limit' is not supported by the local "
            "mock API",
        ),
    ],
)
def test_retrieve_refuses_bad_parameters(api: Api, query: str, message: str) -> None:
    reply = api.put("retrieve", None, query)
    assert (reply.status, reply.body.decode()) == (400, message)


def test_clear_by_matcher_id_and_type(api: Api) -> None:
    api.put("expectation", {"id": "a", "httpRequest": {"path": "/a"}, "httpResponse": {}})
    api.put("expectation", {"id": "b", "httpRequest": {"path": "/b"}, "httpResponse": {}})
    api.get("/a")
    api.get("/b")
    assert api.put("clear", {"path": "/a"}, "type=LOG").status == 200
    assert [r["path"] for r in retrieve(api, "REQUESTS")] == ["/b"]
    assert {e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")} == {"a", "b", "catch-all"}
    assert api.put("clear", {"path": "/a"}, "type=expectations").status == 200
    assert {e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")} == {"b", "catch-all"}
    assert api.put("clear", {"id": "b"}).status == 200  # all: the expectation and its log
    assert [e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")] == ["catch-all"]
    assert retrieve(api, "REQUESTS") == []
    bad = api.put("clear", None, "type=everything")
    assert bad.status == 400
    assert bad.body.decode() == (
        '"everything" is not a valid value for "type" parameter, only the following values are '
        "supported [log, expectations, all]"
    )


def test_a_clear_with_unknown_filters_clears_nothing(api: Api) -> None:
    # newer clients' clear_unmatched_expectations(): MockServer 5 would clear everything
    reply = api.put("clear", None, "type=expectations&unmatched=true")
    assert reply.status == 400
    assert [e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")] == ["catch-all"]


def test_reset_forgets_everything_and_does_not_reload_the_file(api: Api) -> None:
    # HttpState#reset; the initialisation file is loaded only at start
    api.get("/anything")
    assert api.put("reset", b'""').status == 200  # the npm client sends the JSON string ""
    assert retrieve(api, "ACTIVE_EXPECTATIONS") == []
    assert retrieve(api, "REQUESTS") == []
    assert api.get("/anything").status == 404


def test_changes_need_the_token(api: Api) -> None:
    # HttpState#controlPlaneRequestAuthenticated: 401 "Unauthorized for control plane"
    for endpoint in ("expectation", "clear", "reset", "retrieve", "verify"):
        reply = http(f"{api.url}/mockserver/{endpoint}", "PUT", b"", {"Authorization": "Bearer x"})
        assert (reply.status, reply.body) == (401, b"Unauthorized for control plane")
    assert http(api.url + "/mockserver/status", "PUT").status == 200
    assert [e["id"] for e in retrieve(api, "ACTIVE_EXPECTATIONS")] == ["catch-all"]


def test_time_to_live_runs_out() -> None:
    # matchers/TimeToLive.java: active until created + timeToLive (clock injected)
    now = [1000.0]
    app = app_of(
        {
            "httpRequest": {"path": "/ttl"},
            "httpResponse": {},
            "timeToLive": {"timeUnit": "SECONDS", "timeToLive": 60, "unlimited": False},
        },
        clock=lambda: now[0],
    )
    with serving(app) as url:
        assert http(url + "/ttl").status == 200
        now[0] += 59.9
        assert http(url + "/ttl").status == 200
        now[0] += 0.2
        assert http(url + "/ttl").status == 404


def test_times_empty_never_matches() -> None:
    # serialization/model/TimesDTO.java: {} reads as remainingTimes 0, unlimited false
    app = app_of({"httpRequest": {"path": "/z"}, "httpResponse": {}, "times": {}})
    with serving(app) as url:
        assert http(url + "/z").status == 404
