"""Response templates (`httpResponseTemplate`) in MUSTACHE and VELOCITY.

MockServer renders a template against the request, then reads the text as a lenient
JSON httpResponse (mockserver-core/.../templates/engine/mustache/
MustacheTemplateEngine.java, .../velocity/VelocityTemplateEngine.java,
.../templates/engine/model/HttpRequestTemplateObject.java). Here:

- MUSTACHE with pystache, set up as MockServer sets up jmustache: a missing name
  renders "", HTML escaping as jmustache's, lists indexed as `{{request.headers.host.0}}`,
  maps with `keySet`, `values` and `entrySet`, and the `jsonPath` / `xPath` lambdas;
- VELOCITY with airspeed (a Python implementation of Velocity's language), with the
  Java methods templates call on maps and lists (`size()`, `containsKey()`, ...);
- the variables `request`, `now`, `now_epoch`, `now_iso_8601`, `now_rfc_1123`,
  `uuid`, `rand_int`, `rand_int_10`, `rand_int_100`, `rand_bytes[_16|_32|_64|_128]`
  (.../templates/engine/TemplateFunctions.java).

Refused at load, with the reason: JAVASCRIPT templates, and templates that use
MockServer's Java helpers (`jwt`, `strings`, `jsonTransform`, `dates`, `calc`) or
Velocity tools (`$json`, `$math`, ...), which no Python library provides.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import airspeed
import pystache
from lxml import etree

from ephemera.mockapi.bodies import XML_PARSER

ENGINES = ("MUSTACHE", "VELOCITY")
JAVASCRIPT_REFUSED = (
    "JAVASCRIPT templates are not supported by the local mock API: MockServer runs "
    "them on the JVM's JavaScript engine, which has no faithful Python counterpart; "
    "use MUSTACHE or VELOCITY"
)
_HELPERS = ("jwt", "strings", "jsonTransform", "dates", "calc")
_VELOCITY_TOOLS = ("json", "xml", "math", "number", "display", "esc", "date", "collection")
_MUSTACHE_HELPER = re.compile(r"\{\{[#^/&{]?\s*(" + "|".join(_HELPERS) + r")\b")
_VELOCITY_HELPER = re.compile(
    r"\$!?\{?(" + "|".join(_HELPERS + _VELOCITY_TOOLS) + r")\b(?=[.}(]|\s|$)"
)
# jmustache's Escapers.HTML
_HTML = str.maketrans(
    {
        "&": "&amp;",
        "'": "&#39;",
        '"': "&quot;",
        "<": "&lt;",
        ">": "&gt;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)
# the Java methods Velocity templates call on maps and lists (airspeed's extension point)
airspeed.__additional_methods__.setdefault(dict, {}).update(
    {
        "size": len,
        "containsKey": lambda self, name: name in self,
        "entrySet": lambda self: [_Entry(k, v) for k, v in self.items()],
    }
)
airspeed.__additional_methods__.setdefault(list, {}).update({"isEmpty": lambda self: not self})


class TemplateError(Exception):
    """A template that cannot be compiled or rendered; the message says why."""


def compile_template(engine: str, text: str) -> Any:
    helper = (_MUSTACHE_HELPER if engine == "MUSTACHE" else _VELOCITY_HELPER).search(text)
    if helper:
        raise TemplateError(
            f"uses {helper.group(1)!r}, a MockServer template helper the local mock API "
            "does not have (it is Java code in MockServer)"
        )
    try:
        if engine == "MUSTACHE":
            return pystache.parse(text)
        template = airspeed.Template(text)
        template.ensure_compiled()
        return template
    except (pystache.parser.ParsingError, airspeed.TemplateSyntaxError) as exc:
        raise TemplateError(f"not a valid {engine.lower()} template: {exc}") from None


def render(engine: str, compiled: Any, request: dict[str, Any]) -> str:
    """The template's text for one request (`request_model` gives `request`)."""
    try:
        if engine == "MUSTACHE":
            return _render_mustache(compiled, request)
        return str(compiled.merge({"request": request, **_functions()}))
    except Exception as exc:  # noqa: BLE001 - a template's runtime error is the user's
        raise TemplateError(f"{engine.lower()} template failed: {exc}") from None


def request_model(
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]],
    cookies: list[tuple[str, str]],
    path_parameters: list[tuple[str, str]],
    body: bytes,
    keep_alive: bool,
) -> dict[str, Any]:
    """`HttpRequestTemplateObject`: names as received, multi-values as lists."""
    return {
        "method": method,
        "path": path,
        "pathParameters": _multi(path_parameters),
        "queryStringParameters": _multi(query),
        "headers": _multi(headers),
        "cookies": dict(cookies),
        "body": body.decode("utf-8", errors="replace"),
        "secure": False,
        "keepAlive": keep_alive,
    }


def parse_output(text: str) -> Any:
    """The rendered text as JSON, leniently as MockServer's Jackson mapper reads it:
    single quotes, unquoted names, comments and trailing commas allowed (JSON5)."""
    import json5

    try:
        return json5.loads(text)
    except ValueError as exc:
        raise TemplateError(f"the rendered template is not JSON: {exc}") from None


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def _functions() -> dict[str, Any]:
    now = datetime.now(UTC)
    values: dict[str, Callable[[], str]] = {
        "now": lambda: now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "now_epoch": lambda: str(int(now.timestamp())),
        "now_iso_8601": lambda: now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "now_rfc_1123": lambda: format_datetime(now, usegmt=True),
        "uuid": lambda: str(uuid.uuid4()),
        "rand_int": lambda: str(random.randrange(10)),
        "rand_int_10": lambda: str(random.randrange(10)),
        "rand_int_100": lambda: str(random.randrange(100)),
    }
    for size in (16, 32, 64, 128):
        values[f"rand_bytes_{size}"] = _random_bytes(size)
    values["rand_bytes"] = _random_bytes(16)
    return {name: _Lazy(supplier) for name, supplier in values.items()}


def _random_bytes(size: int) -> Callable[[], str]:
    return lambda: base64.b64encode(secrets.token_bytes(size)).decode("ascii")


class _Lazy:
    """A value computed when a template uses it (Velocity prints it, Mustache calls it)."""

    def __init__(self, supplier: Callable[[], str]) -> None:
        self._supplier = supplier

    def __str__(self) -> str:
        return self._supplier()

    def __call__(self) -> str:
        return self._supplier()


class _Entry:
    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value

    def getKey(self) -> str:  # noqa: N802 - Java's Map.Entry, as templates call it
        return self.key

    def getValue(self) -> Any:  # noqa: N802
        return self.value


# mustache ------------------------------------------------------------------------------


class _JavaMap(dict[str, Any]):
    """A map as jmustache shows one: its keys, plus `keySet`, `values`, `entrySet`."""

    _VIEWS = ("keySet", "values", "entrySet")

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self._VIEWS

    def __getitem__(self, name: str) -> Any:
        if super().__contains__(name):
            return super().__getitem__(name)
        if name == "keySet":
            return _JavaList(self.keys())
        if name == "values":
            return _JavaList(super().values())
        return _JavaList(_Entry(k, v) for k, v in self.items())


class _JavaList(list[Any]):
    """A list whose items are also named by index (`{{request.headers.host.0}}`)."""

    def __getattr__(self, name: str) -> Any:
        if name.isdigit() and int(name) < len(self):
            return self[int(name)]
        raise AttributeError(name)


def _java(value: Any) -> Any:
    if isinstance(value, dict):
        return _JavaMap({k: _java(v) for k, v in value.items()})
    if isinstance(value, list):
        return _JavaList(_java(v) for v in value)
    return value


def _render_mustache(compiled: Any, request: dict[str, Any]) -> str:
    data: dict[str, Any] = {"request": _java(request), **_functions()}
    body = request["body"]

    def json_path(text: str) -> str:
        from jsonpath_ng.ext import parse as parse_jsonpath

        found = [m.value for m in parse_jsonpath(text.strip()).find(json.loads(body))]
        data["jsonPathResult"] = _java(found[0] if len(found) == 1 else found)
        return ""

    def x_path(text: str) -> str:
        result = etree.fromstring(body.encode("utf-8"), XML_PARSER).xpath(text.strip())
        if isinstance(result, list):
            return (
                "".join(result[0].itertext())
                if result and hasattr(result[0], "itertext")
                else (str(result[0]) if result else "")
            )
        return str(result)

    data["jsonPath"] = json_path
    data["xPath"] = x_path
    renderer = pystache.Renderer(missing_tags="ignore", escape=lambda s: s.translate(_HTML))
    return str(renderer.render(compiled, data))
