"""The MOCKAPI_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ephemera.errors import UsageError
from ephemera.mockapi.settings import Settings, from_environ, pidfile_from_environ


def test_defaults_and_unset_paths(tmp_path: Path) -> None:
    s = from_environ({}, "mockapi start", cwd=tmp_path)
    assert s == Settings(bind="127.0.0.1", port=1080)


def test_empty_values_count_as_unset(tmp_path: Path) -> None:
    env = {"MOCKAPI_BIND": "", "MOCKAPI_PORT": "", "MOCKAPI_LOG": ""}
    assert from_environ(env, "mockapi start", cwd=tmp_path) == Settings()


def test_values_and_relative_paths_made_absolute(tmp_path: Path) -> None:
    env = {
        "MOCKAPI_BIND": "10.1.2.3",
        "MOCKAPI_PORT": "8081",
        "MOCKAPI_EXPECTATIONS": "/abs/x.json",
        "MOCKAPI_PIDFILE": "run/pid",
        "MOCKAPI_LOG": "run/log",
    }
    s = from_environ(env, "mockapi start", cwd=tmp_path)
    assert (s.bind, s.port) == ("10.1.2.3", 8081)
    assert s.expectations == Path("/abs/x.json")
    assert s.pidfile == tmp_path / "run" / "pid"
    assert s.log == tmp_path / "run" / "log"
    assert s.environment() == {
        "MOCKAPI_BIND": "10.1.2.3",
        "MOCKAPI_PORT": "8081",
        "MOCKAPI_EXPECTATIONS": "/abs/x.json",
        "MOCKAPI_PIDFILE": str(tmp_path / "run" / "pid"),
        "MOCKAPI_LOG": str(tmp_path / "run" / "log"),
    }


@pytest.mark.parametrize("port", ["0", "65536", "-1", "80a", "8.0"])
def test_bad_port(port: str) -> None:
    with pytest.raises(UsageError) as caught:
        from_environ({"MOCKAPI_PORT": port}, "mockapi start")
    assert caught.value.message == (
        f"mockapi start: MOCKAPI_PORT: must be a port number (1-65535): {port!r}"
    )


def test_bad_bind() -> None:
    with pytest.raises(UsageError) as caught:
        from_environ({"MOCKAPI_BIND": "127.0.0.1 ; rm"}, "mockapi serve")
    assert caught.value.message == "mockapi serve: MOCKAPI_BIND: not an address: '127.0.0.1 ; rm'"


def test_required_values_are_named() -> None:
    s = Settings()
    for require, name in [
        (s.require_expectations, "MOCKAPI_EXPECTATIONS"),
        (s.require_pidfile, "MOCKAPI_PIDFILE"),
        (s.require_log, "MOCKAPI_LOG"),
    ]:
        with pytest.raises(UsageError) as caught:
            require("mockapi start")
        assert caught.value.message == f"mockapi start: {name} is not set"


def test_stop_reads_only_the_pidfile(tmp_path: Path) -> None:
    env = {"MOCKAPI_PIDFILE": "pid", "MOCKAPI_PORT": "not a port"}
    assert pidfile_from_environ(env, "mockapi stop", cwd=tmp_path) == tmp_path / "pid"
    with pytest.raises(UsageError) as caught:
        pidfile_from_environ({}, "mockapi stop")
    assert caught.value.message == "mockapi stop: MOCKAPI_PIDFILE is not set"


def test_limits_from_variables_and_options(tmp_path: Path) -> None:
    env = {
        "MOCKAPI_JOURNAL_SIZE": "50",
        "MOCKAPI_MAX_BODY": "2048",
        "MOCKAPI_HEADER_TIMEOUT": "2.5",
    }
    s = from_environ(env, "mockapi serve", cwd=tmp_path, options={"journal_size": "7"})
    assert (s.journal_size, s.max_body, s.header_timeout) == (7, 2048, 2.5)  # the option wins
    assert (s.idle_timeout, s.max_connections, s.log_backups) == (5, 1000, 3)  # defaults
    assert s.environment() == {
        "MOCKAPI_BIND": "127.0.0.1",
        "MOCKAPI_PORT": "1080",
        "MOCKAPI_JOURNAL_SIZE": "7",
        "MOCKAPI_MAX_BODY": "2048",
        "MOCKAPI_HEADER_TIMEOUT": "2.5",
    }


@pytest.mark.parametrize(
    ("env", "options", "message"),
    [
        (
            {"MOCKAPI_JOURNAL_SIZE": "0"},
            {},
            "mockapi start: MOCKAPI_JOURNAL_SIZE: must be a whole number from 1 to 1e+07: '0'",
        ),
        (
            {},
            {"max_body": "10MB"},
            "mockapi start: --max-body: must be a whole number from 0 to 1.07374e+09: '10MB'",
        ),
        (
            {"MOCKAPI_HEADER_TIMEOUT": "soon"},
            {},
            "mockapi start: MOCKAPI_HEADER_TIMEOUT: must be a number from 0.1 to 3600: 'soon'",
        ),
    ],
)
def test_bad_limits(env: dict[str, str], options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        from_environ(env, "mockapi start", options=options)
    assert caught.value.message == message


def test_the_token_file_defaults_to_beside_the_pidfile(tmp_path: Path) -> None:
    s = from_environ({"MOCKAPI_PIDFILE": "run/mockapi.pid"}, "mockapi start", cwd=tmp_path)
    assert s.require_token_file("x") == tmp_path / "run" / "mockapi.token"
    explicit = from_environ({"MOCKAPI_TOKEN_FILE": "t"}, "mockapi serve", cwd=tmp_path)
    assert explicit.require_token_file("x") == tmp_path / "t"
    with pytest.raises(UsageError) as caught:
        Settings().require_token_file("mockapi serve")
    assert caught.value.message == (
        "mockapi serve: MOCKAPI_TOKEN_FILE is not set (the control plane's token)"
    )
