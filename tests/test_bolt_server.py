"""``evokegraph server start|status|stop`` and the Neo4j backend's write retries."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import neo4j
import pytest

from evokegraph.cli import main
from evokegraph.errors import StoreError, UserInputError
from evokegraph.graph import neo4j_store as N
from evokegraph.graph import server


def test_command_line_uses_the_bundled_java_on_localhost(tmp_path: Path) -> None:
    java, jars = server.runtime()
    cmd = server.command(tmp_path, 7001, 7002, "secret-pw", "256m")
    assert cmd[0] == str(java) and java.parts[-3:] == ("jre", "bin", "java")
    assert cmd[cmd.index("-cp") + 1] == f"{jars}/*" and cmd[-1] == server.MAIN_CLASS
    assert "-Darcadedb.bolt.host=127.0.0.1" in cmd
    assert "-Darcadedb.server.httpIncomingHost=127.0.0.1" in cmd
    assert "-Darcadedb.server.defaultDatabases=neo4j[root:secret-pw:admin]" in cmd
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in cmd and "-Xmx256m" in cmd


def test_bad_password_is_refused_before_starting(tmp_path: Path) -> None:
    for pw in ("short", "has:colon"):
        with pytest.raises(UserInputError, match="8 or more characters"):
            server.start(tmp_path, password=pw)
    assert server.status(tmp_path) is None and not (tmp_path / server.INFO_FILE).exists()


# slow: starts a second ArcadeDB server (a JVM, ~9 s) beside the session's bolt_server
@pytest.mark.slow
def test_server_cli_start_status_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = str(tmp_path / "srv")
    args = ["server", "start", "--dir", d, "--port", "0", "--http-port", "0", "--heap", "256m"]
    assert main([*args, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    try:
        assert info["EVOKEGRAPH_NEO4J_URI"].startswith("bolt://127.0.0.1:")
        assert os.stat(Path(d) / "server.json").st_mode & 0o077 == 0  # credentials: owner only
        assert main(args) == 2
        assert "a server is already running from" in capsys.readouterr().err
        assert main(["server", "status", "--dir", d, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["pid"] == info["pid"]
        for k, v in info.items():
            if k.startswith("EVOKEGRAPH_"):
                monkeypatch.setenv(k, str(v))
        assert main(["init"]) == 0 and "(neo4j)" in capsys.readouterr().out
    finally:
        assert main(["server", "stop", "--dir", d]) == 0
    assert f"pid {info['pid']}" in capsys.readouterr().out
    assert main(["server", "status", "--dir", d]) == 1
    assert main(["server", "stop", "--dir", d]) == 0
    assert "no server running" in capsys.readouterr().out
    assert (Path(d) / "databases" / "neo4j").is_dir()  # the data stays


class FlakySession:
    """A driver session whose first ``fails`` write transactions lose a race."""

    def __init__(self, driver: FlakyDriver) -> None:
        self.driver = driver

    def __enter__(self) -> FlakySession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute_write(self, work: Any) -> Any:
        self.driver.attempts += 1
        if self.driver.attempts <= self.driver.fails:
            raise self.driver.error("Duplicated key in index 'Concept[name]'")
        return "written"


class FlakyDriver:
    def __init__(self, fails: int, error: type[Exception]) -> None:
        self.fails, self.error, self.attempts = fails, error, 0

    def session(self, database: str | None = None) -> FlakySession:
        return FlakySession(self)


def bare_store(driver: FlakyDriver) -> N.Neo4jStore:
    store = N.Neo4jStore.__new__(N.Neo4jStore)  # no server round trips in __init__
    store._driver, store.database, store.uri, store.write_retries = driver, None, "bolt://x", 0
    return store


@pytest.mark.parametrize(
    "error", [neo4j.exceptions.ConstraintError, neo4j.exceptions.TransientError]
)
def test_conflicting_writes_are_retried_then_reported(
    error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(N.time, "sleep", lambda s: None)
    driver = FlakyDriver(3, error)
    store = bare_store(driver)
    assert store._write_tx(lambda tx: None) == "written"
    assert driver.attempts == 4 and store.write_retries == 3
    store = bare_store(FlakyDriver(99, error))
    with pytest.raises(StoreError, match="still conflicted after 8 attempts: Duplicated key"):
        store._write_tx(lambda tx: None)


def test_backoff_grows_and_is_capped() -> None:
    assert 0.025 <= N.backoff(1) <= 0.075
    assert 0.2 <= N.backoff(4) <= 0.6
    assert all(N.backoff(a) <= 3.0 for a in range(1, 20))
