"""The provisioning API and dashboard (`ephemera serve`): the same lifecycle over HTTP.

tokens     bearer tokens: created once, kept as a salted scrypt hash, scopes
auth       who asks (401 without a valid token) and may it read (403)
jobs       a run started over HTTP and its state machine; the book of runs
worker     the bounded pool; the local launcher (the CLI in a child process)
remote     the CodeBuild launcher (runs dispatched to AWS)
audit      an audit record per change asked for (run records op audit:<action>)
models     request and response bodies (the OpenAPI document)
service    what the routes share: the environment exists, audit, book a run
envroutes  /v1/envs: status, detail, validate, cost, outputs, state, history, extend
runroutes  /v1/envs/{env}/runs, /v1/runs: start, follow (text, SSE), cancel
app        the FastAPI app: routers, body limit, strict headers, the dashboard (static/)
server     uvicorn on loopback; the pool stopped with the server
"""
