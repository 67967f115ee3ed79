"""The janitor: leases that run out are destroyed, their owners warned first.

    extend     extend-ttl: push an expiry back, capped at now + max_ttl
    ladder     the warning ladder (24h, 2h, 30m before expiry) and the warning text
    sweep      claim what expired, have it destroyed, record the outcome; warn
    summary    what one sweep did
    dispatch   how a destroy is done: here, by CodeBuild or by a GitHub workflow
    notify     console, SNS and webhook notifications
    httppost   one JSON POST (webhooks, GitHub)
    tfstate    counting the resources of a state document
    package    the Lambda's zip: handler + this package + ephemera.leases + their imports

This package and `ephemera.leases` are the janitor Lambda's closure: they import only
the standard library, boto3 and each other (plus `ephemera.errors` and
`ephemera.durations`), which `make test` checks (import-linter) and the packager
enforces. This file imports nothing, so the Lambda loads only what it uses.
"""
