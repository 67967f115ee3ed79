"""Loading and validation: what is accepted, and the exact message for what is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ephemera.errors import EXIT_INVALID
from ephemera.mockapi.checker import MISSING_ACTION
from ephemera.mockapi.expectations import check_files, load_file, parse
from ephemera.mockapi.model import ExpectationsError, JsonBody, StringBody

FILE = "expectations/x.json"


def problems(document: Any) -> list[str]:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(ExpectationsError) as caught:
        parse(text, FILE)
    assert caught.value.exit_code == EXIT_INVALID
    return caught.value.problems


def one(**fields: Any) -> list[dict[str, Any]]:
    """A list holding one valid expectation, with `fields` replacing its parts."""
    return [{"httpRequest": {"path": "/a"}, "httpResponse": {}, **fields}]


# accepted ----------------------------------------------------------------------------


def test_the_demo_file_is_valid(repo_root: Path) -> None:
    loaded = load_file(repo_root / "expectations" / "local-demo.json")
    assert len(loaded) >= 6
    assert {e.id for e in loaded} >= {"list-pets", "get-pet", "create-pet", "admin-stats"}


def test_a_single_object_is_one_expectation() -> None:
    [e] = parse(json.dumps({"httpRequest": {"path": "/a"}, "httpResponse": {}}), FILE)
    assert e.position == 0
    assert e.request.path is not None and e.request.path.source == "/a"


def test_an_empty_list_is_valid() -> None:
    assert parse("[]", FILE) == []


def test_defaults() -> None:
    [e] = parse(json.dumps([{"httpResponse": {}}]), FILE)
    assert (e.priority, e.times, e.id) == (0, None, None)
    assert (e.response.status, e.response.reason, e.response.body) == (200, None, b"")
    assert e.response.headers == () and e.response.delay == 0
    assert e.request.method is None and e.request.body is None


def test_times_priority_and_id() -> None:
    [a, b, c] = parse(
        json.dumps(
            [
                {"id": "x", "priority": 5, "httpResponse": {}, "times": {"remainingTimes": 2}},
                {"httpResponse": {}, "times": {"remainingTimes": 3, "unlimited": False}},
                # MockServer exports unlimited times with remainingTimes 0
                {"httpResponse": {}, "times": {"remainingTimes": 0, "unlimited": True}},
            ]
        ),
        FILE,
    )
    assert (a.id, a.priority, a.times, a.label) == ("x", 5, 2, "[0] x")
    assert (b.times, b.position, b.label) == (3, 1, "[1]")
    assert c.times is None


def test_request_bodies() -> None:
    bodies = [
        "text",
        {"type": "STRING", "string": "part", "subString": True},
        {"type": "JSON", "json": {"a": 1}},
        {"type": "JSON", "json": "[1, 2]", "matchType": "STRICT"},
        {"a": 1},
        [1],
    ]
    parsed = parse(
        json.dumps([{"httpRequest": {"body": b}, "httpResponse": {}} for b in bodies]), FILE
    )
    assert [e.request.body for e in parsed] == [
        StringBody("text"),
        StringBody("part", substring=True),
        JsonBody({"a": 1}),
        JsonBody([1, 2], strict=True),
        JsonBody({"a": 1}),
        JsonBody([1]),
    ]


@pytest.mark.parametrize(
    ("body", "payload", "content_type"),
    [
        ("plain", b"plain", None),
        ({"a": "é"}, '{"a": "é"}'.encode(), "application/json"),
        ([1, 2], b"[1, 2]", "application/json"),
        ({"type": "JSON", "json": {"a": 1}}, b'{"a": 1}', "application/json"),
        ({"type": "JSON", "json": '{"a":1}'}, b'{"a":1}', "application/json"),  # sent as written
        (
            {"type": "JSON", "json": {}, "contentType": "application/x+json"},
            b"{}",
            "application/x+json",
        ),
        ({"type": "STRING", "string": "s"}, b"s", None),
        ({"type": "STRING", "string": "<p/>", "contentType": "text/html"}, b"<p/>", "text/html"),
    ],
)
def test_response_bodies(body: Any, payload: bytes, content_type: str | None) -> None:
    [e] = parse(json.dumps(one(httpResponse={"body": body})), FILE)
    assert e.response.body == payload
    expected_headers = (("Content-Type", content_type),) if content_type else ()
    assert e.response.headers == expected_headers


def test_response_headers_both_forms_and_explicit_content_type_wins() -> None:
    [a, b] = parse(
        json.dumps(
            [
                {
                    "httpResponse": {
                        "headers": {"X-One": ["1", "2"], "content-type": "text/json"},
                        "body": {"a": 1},
                    }
                },
                {"httpResponse": {"headers": [{"name": "X-Two", "values": ["2"]}]}},
            ]
        ),
        FILE,
    )
    assert a.response.headers == (("X-One", "1"), ("X-One", "2"), ("content-type", "text/json"))
    assert b.response.headers == (("X-Two", "2"),)


def test_status_reason_and_delay() -> None:
    [e] = parse(
        json.dumps(
            one(
                httpResponse={
                    "statusCode": 418,
                    "reasonPhrase": "Teapot",
                    "delay": {"timeUnit": "SECONDS", "value": 2},
                }
            )
        ),
        FILE,
    )
    assert (e.response.status, e.response.reason, e.response.delay) == (418, "Teapot", 2.0)
    [e] = parse(
        json.dumps(one(httpResponse={"delay": {"timeUnit": "MILLISECONDS", "value": 250}})), FILE
    )
    assert e.response.delay == pytest.approx(0.25)


# refused: exact messages -------------------------------------------------------------


def test_invalid_json_names_line_and_column() -> None:
    assert problems('[\n  {"httpResponse": {},}\n]') == [
        f"{FILE}:2:23: invalid JSON: Expecting property name enclosed in double quotes"
    ]


def test_nan_is_not_json() -> None:
    assert problems('[{"httpResponse": {}, "priority": NaN}]') == [
        f"{FILE}: invalid JSON: NaN is not valid JSON"
    ]


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (
            one(timeToLive={"timeUnit": "SECONDS", "timeToLive": 1, "endDate": 1}),
            "[0].timeToLive.endDate",
        ),
        (one(httpRequest={"socketAddress": {}}), "[0].httpRequest.socketAddress"),
        (one(httpRequest={"secure": True}), "[0].httpRequest.secure"),
        (one(httpRequest={"keepAlive": True}), "[0].httpRequest.keepAlive"),
        (one(httpResponse={"connectionOptions": {}}), "[0].httpResponse.connectionOptions"),
        (one(times={"remainingTimes": 1, "forever": True}), "[0].times.forever"),
        (
            one(httpRequest={"cookies": [{"name": "a", "value": "b", "x": 1}]}),
            "[0].httpRequest.cookies[0].x",
        ),
        (
            one(httpRequest={"body": {"type": "JSON", "json": {}, "contentType": "x"}}),
            "[0].httpRequest.body.contentType",
        ),
        (
            one(httpRequest={"headers": [{"name": "a", "values": ["b"], "not": True}]}),
            "[0].httpRequest.headers[0].not",
        ),
        (
            one(httpResponse={"delay": {"timeUnit": "SECONDS", "value": 1, "x": 1}}),
            "[0].httpResponse.delay.x",
        ),
    ],
)
def test_each_unsupported_field_is_named_by_its_path(document: Any, path: str) -> None:
    assert problems(document) == [f"{FILE}: {path}: not supported by the local mock API"]


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    document = [
        {"httpRequest": {"path": "/ok"}, "httpResponse": {}},
        {"httpResponse": {}},
        {"httpRequest": {"secure": True, "path": "/a("}, "httpResponse": {"x": {}}},
    ]
    assert problems(document) == [
        f"{FILE}: [2].httpRequest.secure: not supported by the local mock API",
        f"{FILE}: [2].httpRequest.path: invalid regular expression "
        "(missing ), unterminated subpattern at position 2); "
        "escape special characters to match them literally",
        f"{FILE}: [2].httpResponse.x: not supported by the local mock API",
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (3, "(document): must be a list of expectations or a single expectation object"),
        (["x"], "[0]: must be an expectation object"),
        ([{"httpRequest": {"path": "/a"}}], f"[0].httpResponse: {MISSING_ACTION}"),
        (one(id=3), "[0].id: must be a string"),
        (one(priority="high"), "[0].priority: must be an integer"),
        (one(priority=True), "[0].priority: must be an integer"),
        (one(httpRequest="/a"), "[0].httpRequest: must be an object"),
        (one(httpRequest={"method": 1}), "[0].httpRequest.method: must be a string"),
        (
            one(httpRequest={"headers": {"Accept": ["*/*"]}}),
            "[0].httpRequest.headers.Accept[0]: invalid regular expression (nothing to repeat "
            "at position 0); escape special characters to match them literally",
        ),
        (
            one(httpRequest={"headers": "Accept: x"}),
            '[0].httpRequest.headers: must be an object or a list of {"name", "values"} objects',
        ),
        (
            one(httpRequest={"queryStringParameters": {"a": [1]}}),
            "[0].httpRequest.queryStringParameters.a: must be a string or a list of strings",
        ),
        (
            one(httpRequest={"queryStringParameters": [{"values": ["1"]}]}),
            "[0].httpRequest.queryStringParameters[0].name: must be a string",
        ),
        (
            one(httpRequest={"queryStringParameters": ["a=1"]}),
            '[0].httpRequest.queryStringParameters[0]: must be an object {"name": ..., '
            '"values": [...]}',
        ),
        (one(httpRequest={"body": 3}), "[0].httpRequest.body: must be a string or a body object"),
        (
            one(httpRequest={"body": {"type": "XML_SCHEMA", "xmlSchema": "<x/>"}}),
            "[0].httpRequest.body.type: 'XML_SCHEMA' is not supported by the local mock API "
            "(supported: STRING, REGEX, JSON, JSON_SCHEMA, JSON_PATH, XPATH, XML, PARAMETERS, "
            "BINARY)",
        ),
        (
            one(httpRequest={"body": {"type": "STRING", "string": 1}}),
            "[0].httpRequest.body.string: must be a string",
        ),
        (
            one(httpRequest={"body": {"type": "STRING", "string": "a", "subString": "yes"}}),
            "[0].httpRequest.body.subString: must be true or false",
        ),
        (one(httpRequest={"body": {"type": "JSON"}}), "[0].httpRequest.body.json: missing"),
        (
            one(httpRequest={"body": {"type": "JSON", "json": "{bad"}}),
            "[0].httpRequest.body.json: not valid JSON: Expecting property name enclosed in "
            "double quotes (line 1, column 2)",
        ),
        (
            one(httpRequest={"body": {"type": "JSON", "json": {}, "matchType": "LOOSE"}}),
            "[0].httpRequest.body.matchType: must be one of ONLY_MATCHING_FIELDS, STRICT",
        ),
        (
            one(httpRequest={"body": {"a": "${json-unit.any-string}"}}),
            "[0].httpRequest.body.a: json-unit placeholders are not supported by the local "
            "mock API",
        ),
        (one(httpResponse=[]), "[0].httpResponse: must be an object"),
        (
            one(httpResponse={"statusCode": "200"}),
            "[0].httpResponse.statusCode: must be an HTTP status code (100-599)",
        ),
        (
            one(httpResponse={"statusCode": 99}),
            "[0].httpResponse.statusCode: must be an HTTP status code (100-599)",
        ),
        (
            one(httpResponse={"reasonPhrase": "a\nb"}),
            "[0].httpResponse.reasonPhrase: must be a one-line string",
        ),
        (
            one(httpResponse={"headers": {"Content-Length": "3"}}),
            "[0].httpResponse.headers.Content-Length: set by the local mock API's HTTP server; "
            "remove it",
        ),
        (
            one(httpResponse={"headers": {"bad name": "x"}}),
            '[0].httpResponse.headers["bad name"]: not a valid HTTP header name',
        ),
        (
            one(httpResponse={"headers": {"X": ["a\r\nInjected: 1"]}}),
            "[0].httpResponse.headers.X[0]: must not contain line breaks",
        ),
        (
            one(httpResponse={"body": 42}),
            "[0].httpResponse.body: must be a string, a JSON object or array, or a body object",
        ),
        (
            one(httpResponse={"body": {"type": "XML_SCHEMA", "xmlSchema": ""}}),
            "[0].httpResponse.body.type: 'XML_SCHEMA' is not supported by the local mock API "
            "(supported: BINARY, JSON, STRING, XML)",
        ),
        (
            one(httpResponse={"delay": {"timeUnit": "WEEKS", "value": 1}}),
            "[0].httpResponse.delay.timeUnit: must be one of NANOSECONDS, MICROSECONDS, "
            "MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS",
        ),
        (
            one(httpResponse={"delay": {"timeUnit": "SECONDS", "value": -1}}),
            "[0].httpResponse.delay.value: must be an integer of at least 0",
        ),
        (
            one(httpResponse={"delay": 100}),
            "[0].httpResponse.delay: must be an object with timeUnit and value",
        ),
        (one(times=1), "[0].times: must be an object with remainingTimes and/or unlimited"),
        (one(times={"unlimited": "yes"}), "[0].times.unlimited: must be true or false"),
        (
            one(times={"remainingTimes": 1.5}),
            "[0].times.remainingTimes: must be an integer of at least 0",
        ),
    ],
)
def test_bad_values(document: Any, message: str) -> None:
    assert problems(document) == [f"{FILE}: {message}"]


def test_duplicate_keys_and_ids() -> None:
    text = (
        '[{"id": "a", "httpResponse": {}}, {"id": "a", "httpResponse": {}, "id": "b"},'
        ' {"id": "b", "httpResponse": {}}]'
    )
    assert problems(text) == [
        f"{FILE}: [1].id: duplicate key (JSON keeps only the last one)",
        f"{FILE}: [2].id: duplicate id 'b', also used by [1] "
        "(MockServer would replace the earlier expectation)",
    ]


def test_paths_in_a_single_object_file_have_no_index() -> None:
    assert problems({"httpResponse": {}, "httpRequest": {"secure": True}}) == [
        f"{FILE}: httpRequest.secure: not supported by the local mock API"
    ]


# files -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(ExpectationsError) as caught:
        load_file(missing)
    assert caught.value.problems == [
        f"{missing}: cannot read the expectation file: No such file or directory"
    ]


def test_check_files_reports_every_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(one()))
    bad1 = tmp_path / "bad1.json"
    bad1.write_text("{")
    bad2 = tmp_path / "bad2.json"
    bad2.write_text(json.dumps(one(httpRequest={"secure": True})))
    assert len(check_files([good])[good]) == 1
    with pytest.raises(ExpectationsError) as caught:
        check_files([good, bad1, bad2])
    assert caught.value.problems == [
        f"{bad1}:1:2: invalid JSON: Expecting property name enclosed in double quotes",
        f"{bad2}: [0].httpRequest.secure: not supported by the local mock API",
    ]
