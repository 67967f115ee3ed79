"""The actions: responses (cookies, binary bodies), templates, httpError, and what
stays refused. MockServer's files are under mockserver/mockserver-core/src/main/java/
org/mockserver/ in mock-server/mockserver."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ephemera.mockapi.checker import CALLBACK_REFUSED, FORWARD_REFUSED
from ephemera.mockapi.expectations import parse
from ephemera.mockapi.model import ExpectationsError
from ephemera.mockapi.templates import JAVASCRIPT_REFUSED

from .helpers import app_of, http, raw_exchange, serving


def problems(expectation: dict[str, Any]) -> list[str]:
    with pytest.raises(ExpectationsError) as caught:
        parse(json.dumps([expectation]), "t.json")
    return caught.value.problems


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# responses: mappers/MockServerHttpResponseToFullHttpResponse.java ----------------------


def test_response_cookies_become_set_cookie_headers() -> None:
    # setCookies: one Set-Cookie per cookie, unless the headers already carry it
    [e] = parse(
        json.dumps(
            {
                "httpResponse": {
                    "cookies": {"session": "abc", "theme": "dark"},
                    "headers": {"Set-Cookie": ["theme=dark; Path=/"]},
                }
            }
        ),
        "t.json",
    )
    assert e.response.headers == (
        ("Set-Cookie", "theme=dark; Path=/"),
        ("Set-Cookie", "session=abc"),
    )


def test_the_getting_started_example_over_http() -> None:
    # MockServer's Getting Started page: a response with a cookie and a header
    expectation = {
        "httpRequest": {"method": "GET", "path": "/view/cart", "cookies": {"session": "4930456"}},
        "httpResponse": {
            "body": "some_response_body",
            "cookies": {"session": "4930456"},
            "headers": {"Content-Type": ["text/plain"]},
        },
    }
    with serving(app_of(expectation)) as url:
        answer = http(url + "/view/cart", headers={"Cookie": "session=4930456"})
        missing = http(url + "/view/cart")
    assert (answer.status, answer.body) == (200, b"some_response_body")
    assert answer.headers["set-cookie"] == "session=4930456"
    assert missing.status == 404


def test_a_binary_response_body() -> None:
    # serialization/deserializers/body/BodyWithContentTypeDTODeserializer.java: base64
    data = bytes(range(256))
    body = {
        "type": "BINARY",
        "base64Bytes": base64.b64encode(data).decode(),
        "contentType": "image/png",
    }
    with serving(app_of({"httpResponse": {"body": body}})) as url:
        answer = http(url + "/logo.png")
    assert answer.body == data
    assert answer.headers["content-type"] == "image/png"


# templates: templates/engine/mustache/MustacheTemplateEngine.java, ---------------------
# templates/engine/velocity/VelocityTemplateEngine.java, model/HttpRequestTemplateObject.java

MUSTACHE = (
    "{'statusCode': 200, 'headers': {'X-Path': ['{{ request.path }}']}, "
    "'body': 'id={{ request.pathParameters.id.0 }} q={{ request.queryStringParameters.q.0 }} "
    "ua={{ request.headers.User-Agent.0 }} c={{ request.cookies.c }} "
    "m={{ request.method }} missing=[{{ request.nothing }}] esc={{ request.body }}'}"
)
VELOCITY = """#if ( $request.method == 'POST' && $request.path == '/somePath' )
    {'statusCode': 201, 'body': "$!request.headers['User-Agent'][0] n=$request.headers.size()"}
#else
    {'statusCode': 406, 'body': "$!request.body"}
#end"""


def template(engine: str, text: str, **request: Any) -> dict[str, Any]:
    return {
        "httpRequest": request,
        "httpResponseTemplate": {"templateType": engine, "template": text},
    }


def test_a_mustache_template() -> None:
    expectation = template(
        "MUSTACHE", MUSTACHE, path="/items/{id}", pathParameters={"id": ["[0-9]+"]}
    )
    with serving(app_of(expectation)) as url:
        answer = http(
            url + "/items/7?q=x",
            method="PUT",
            body=b"<a&b>",
            headers={"User-Agent": "ua1", "Cookie": "c=v"},
        )
    assert answer.status == 200
    assert answer.headers["x-path"] == "/items/7"
    # jmustache escapes HTML by default (MockServer does not turn it off)
    assert answer.body == b"id=7 q=x ua=ua1 c=v m=PUT missing=[] esc=&lt;a&amp;b&gt;"


def test_a_mustache_json_path_lambda() -> None:
    text = "{{#jsonPath}}$.name{{/jsonPath}}{'statusCode': 200, 'body': 'hi {{jsonPathResult}}'}"
    with serving(app_of(template("MUSTACHE", text))) as url:
        answer = http(url + "/", method="POST", body=b'{"name": "Ada"}')
    assert answer.body == b"hi Ada"


def test_the_velocity_example_of_mockservers_documentation() -> None:
    with serving(app_of(template("VELOCITY", VELOCITY))) as url:
        posted = http(url + "/somePath", method="POST", body=b"x", headers={"User-Agent": "ua2"})
        other = http(url + "/other", method="POST", body=b"the body")
    assert posted.status == 201
    assert posted.body.startswith(b"ua2 n=") and int(posted.body[6:]) >= 4  # Host, UA, ...
    assert (other.status, other.body) == (406, b"the body")


def test_a_template_whose_output_is_not_a_response_answers_404() -> None:
    # templates/engine/serializer/HttpTemplateOutputDeserializer.java: invalid output is
    # logged, the request gets 404 and the expectation's use is counted
    bad = template("MUSTACHE", "not json at all")
    bad["times"] = {"remainingTimes": 1}
    app = app_of(bad)
    with serving(app) as url:
        assert http(url + "/").status == 404
        assert app.store.active() == []


@pytest.mark.parametrize(
    ("engine", "text", "message"),
    [
        ("JAVASCRIPT", "return {statusCode: 200};", None),
        ("MUSTACHE", "{{#jwt}}x{{/jwt}}", "uses 'jwt'"),
        ("VELOCITY", "#set($b = $json.parse($request.body))", "uses 'json'"),
        ("MUSTACHE", "{{#a}}x{{/b}}", "not a valid mustache template"),
        ("VELOCITY", "#if($a", "not a valid velocity template"),
    ],
)
def test_refused_templates(engine: str, text: str, message: str | None) -> None:
    [found] = problems(template(engine, text))
    if message is None:
        assert found == f"t.json: [0].httpResponseTemplate.templateType: {JAVASCRIPT_REFUSED}"
    else:
        assert found.startswith(f"t.json: [0].httpResponseTemplate.template: {message}")


# httpError: mock/action/http/HttpErrorActionHandler.java --------------------------------


def test_http_error_drops_the_connection() -> None:
    app = app_of({"httpRequest": {"path": "/drop"}, "httpError": {"dropConnection": True}})
    with serving(app) as url:
        answer = raw_exchange(port_of(url), b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
        assert http(url + "/mockserver/status").status == 200
    assert answer == b""
    assert [e.request.path for e in app.journal.entries()] == ["/drop"]


def test_http_error_writes_raw_bytes() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nodd"
    error = {"dropConnection": True, "responseBytes": base64.b64encode(raw).decode()}
    with serving(app_of({"httpError": error})) as url:
        assert raw_exchange(port_of(url), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == raw


# refused, with the reason ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("httpForward", FORWARD_REFUSED),
        ("httpOverrideForwardedRequest", FORWARD_REFUSED),
        ("httpForwardTemplate", FORWARD_REFUSED),
        ("httpResponseObjectCallback", CALLBACK_REFUSED),
        ("httpResponseClassCallback", CALLBACK_REFUSED),
    ],
)
def test_forwarding_and_callbacks_are_refused_with_the_reason(field: str, message: str) -> None:
    assert problems({"httpRequest": {"path": "/"}, field: {}}) == [
        f"t.json: [0].{field}: {message}"
    ]
