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
