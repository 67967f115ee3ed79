"""A local mock HTTP API speaking MockServer's REST API, for the `local` target's
mock-api stacks.

The Terraform stack starts it as a detached process (`python -m ephemera.mockapi start`,
configured through `MOCKAPI_*` environment variables) and stops it on destroy. On the
`aws` target the same expectation files are served by a real MockServer, so this
follows MockServer's semantics, read from its source (mock-server/mockserver), and
refuses at start what it does not implement instead of quietly ignoring it. The
README's "Mock API" section lists what is supported and what is refused, and why.

Modules, one concern each:

- `model`: the typed, frozen expectations;
- `checkbase`, `checkbodies`, `checkresponse`, `checker`: JSON → model, every problem
  as `file: json.path: message`; `expectations`: files and control-plane bodies;
- `textmatch`, `matching`, `bodies`: pure matching (strings and multimaps, requests,
  bodies); `templates`: MUSTACHE and VELOCITY responses;
- `store`: the expectations in match order, with times and time to live;
  `journal`: the bounded record of requests; `wire`: both as MockServer's JSON;
- `controlplane`, `verify`: the REST control plane; `controltoken`: its bearer token;
- `app`: the ASGI app; `protocol`, `server`: uvicorn under it, with its limits;
  `requestlog`: the rotated log;
- `process`: start/stop of the detached server, its pidfile and readiness check;
  `settings`: the `MOCKAPI_*` variables; `__main__`: the command line.
"""
