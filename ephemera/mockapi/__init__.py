"""A local, MockServer-compatible mock HTTP API for the `local` target's mock-api stacks.

The Terraform stack starts it as a detached process (`python -m ephemera.mockapi start`,
configured through `MOCKAPI_*` environment variables) and stops it on destroy. On the
`aws` target the same expectation files are served by a real MockServer, so this
implements MockServer's semantics for the subset it supports, and refuses to start on
anything outside that subset instead of quietly ignoring it.

Modules, one concern each:

- `expectations`: load and validate an expectation file into frozen, typed objects;
- `matching`: pure functions deciding whether a request matches an expectation;
- `store`: the expectations in match order, with their remaining `times` (thread-safe);
- `server`: the werkzeug WSGI app, the health endpoint and the foreground server;
- `process`: start/stop of the detached server, its pidfile and readiness check;
- `settings`: the `MOCKAPI_*` environment variables;
- `__main__`: the command line (`start`, `stop`, `serve`, `check`) and exit codes.

Supported expectation fields (anything else is an error naming the file and JSON path):

- `id` (ignored for matching; duplicates are refused, MockServer would replace the
  earlier one), `priority` (highest first, then file order), `times`
  (`remainingTimes` / `unlimited`; an expectation that is used up lets the request
  fall through to the next match);
- `httpRequest`: `method`, `path`, `queryStringParameters`, `headers`, `body`;
- `httpResponse`: `statusCode`, `reasonPhrase`, `headers`, `body`, `delay`.

Matching rules, as MockServer's:

- strings (method, path, parameter and header names and values) match when equal, or
  when the expected string, read as a regular expression, matches the *whole* value.
  MockServer then retries both comparisons ignoring case, so all of them are
  case-insensitive. A blank expected string matches anything. Every expected string must
  therefore be a valid regular expression (Python `re` syntax): escape special
  characters (`\\*/\\*`) to match them literally;
- parameters and headers: each listed name must be present in the request, and each
  listed value must match one of the request's values for that name; extra names and
  values in the request are allowed; a name listed with no values only has to be present;
- body: a plain string must equal the request body; `{"type": "STRING", "string": s,
  "subString": true}` must occur in it; `{"type": "JSON", "json": j}` (or an untyped JSON
  object or array, as MockServer reads one) is compared with the request body parsed as
  JSON. `matchType` `ONLY_MATCHING_FIELDS` (default) is MockServer's lenient mode:
  objects may have extra fields, arrays may be in any order and have extra items (each
  expected item must match a different request item), numbers compare by value (1 ==
  1.0). `STRICT`: same fields, array order and length; only numbers compare by value.
- unmatched requests get 404 with an empty body; `PUT` or `GET /mockserver/status`
  answers `{"ports": [port], "version": "ephemera-mockapi"}`.
"""
