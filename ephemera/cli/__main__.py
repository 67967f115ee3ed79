"""`python -m ephemera.cli`: the `ephemera` command without its console script (how the
provisioning API starts a run with the very interpreter it runs on)."""

from ephemera.cli.main import main

main()
