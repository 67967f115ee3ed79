"""The command line: what each Invoke task does (`commands`), behind the one
top-level handler that maps errors to exit codes (`handler`)."""
