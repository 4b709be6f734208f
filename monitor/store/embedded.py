"""A private PostgreSQL cluster in the data directory, for zero-setup runs and for tests.

With no `database.url` configured the daemon starts one: `initdb` on first use, then `pg_ctl start`
listening only on a Unix socket (no TCP port to collide with or expose), and `pg_ctl stop` on exit.
Binaries come from PATH or `/usr/lib/postgresql/<version>/bin` (newest first). PostgreSQL refuses to
run as root, so as root the cluster belongs to, and runs as, the `postgres` OS user.

Tests use the same class for a server they can stop (`stop(mode="immediate")`) and start again.

After a crash (`kill -9` of the daemon) the server outlives its process: PostgreSQL runs in its own
process, so that no probe in flight is lost with the daemon. `root/owner` names the process that
started (or last adopted) the server, by pid and start time; a server whose owner is gone is an
orphan, and the next daemon or command adopts it (uses it, and stops it when done, as if it had
started it). `etalon-monitor db stop` stops an orphan by hand. A `postmaster.pid` whose pid now
belongs to another program (a restarted container reuses pids) is stale: it is removed and the
server started, instead of PostgreSQL refusing to start over it.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import psycopg

log = logging.getLogger(__name__)

DATABASE: Final = "etalon"
OWNER_FILE: Final = "owner"
SUPERUSER: Final = "postgres"
PORT: Final = 5432
_SOCKET_PATH_MAX: Final = 100
"""Unix socket paths are limited to 107 bytes; leave room for `/.s.PGSQL.5432`."""

NO_BINARIES_HELP: Final = (
    "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or under "
    "/usr/lib/postgresql/*/bin. Either: 1) install PostgreSQL (e.g. `apt-get install postgresql`), "
    "2) point the monitor at a server with ETALON_DATABASE__URL=postgresql+psycopg://user@host/db "
    "(or database.url in the config), or 3) run `docker compose up` to start the bundled stack."
)


class EmbeddedError(RuntimeError):
    """The embedded server cannot be set up or started; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Binaries:
    initdb: Path
    pg_ctl: Path


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def find_binaries(
    search_path: str | None = None, lib_glob: str = "/usr/lib/postgresql/*/bin"
) -> Binaries:
    """initdb and pg_ctl from PATH (or `search_path`), else the newest `lib_glob` directory."""
    initdb, pg_ctl = (
        shutil.which("initdb", path=search_path),
        shutil.which("pg_ctl", path=search_path),
    )
    if initdb and pg_ctl:
        return Binaries(Path(initdb), Path(pg_ctl))
    for bindir in sorted(glob.glob(lib_glob), key=_version_key, reverse=True):
        i, p = Path(bindir, "initdb"), Path(bindir, "pg_ctl")
        if i.is_file() and p.is_file():
            return Binaries(i, p)
    raise EmbeddedError(NO_BINARIES_HELP)


def _run_as() -> str | None:
    """The OS user to run the server as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise EmbeddedError(
            "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` "
            "OS user to run it as; create one, run as another user, or set ETALON_DATABASE__URL"
        ) from None
    return SUPERUSER


def process_token(pid: int) -> str | None:
    """`pid:start-time` of a live process (None when it is gone): a pid alone is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): the pid alone must do
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:?"
    # field 22 (start time) counted after the command name, which may hold spaces and parens
    fields = stat[stat.rfind(")") + 2 :].split()
    return f"{pid}:{fields[19]}"


class EmbeddedPostgres:
    """One cluster under `root` (`root/data`, `root/server.log`, socket in `root/run`).

    `start()` is idempotent and returns the SQLAlchemy URL; `stop()` stops it (the files stay, so
    the next start finds the same data).
    """

    def __init__(self, root: Path, *, fsync: bool = True, binaries: Binaries | None = None) -> None:
        self.root = root.absolute()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._fsync = fsync
        self._binaries = binaries
        self._socket_dir: Path | None = None
        self._user = _run_as()

    # ----------------------------------------------------------------- helpers

    def _bin(self) -> Binaries:
        if self._binaries is None:
            self._binaries = find_binaries()
        return self._binaries

    def _run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            user=self._user,
            capture_output=True,
            text=True,
            check=check,
            cwd=self.root,
        )

    def _own(self, path: Path) -> None:
        if self._user is not None:
            shutil.chown(path, self._user, self._user)

    def _socket(self) -> Path:
        if self._socket_dir is None:
            candidate = self.root / "run"
            if len(str(candidate)) > _SOCKET_PATH_MAX:
                # deterministic, so another process (a CLI command) finds the daemon's server
                digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
                candidate = Path(tempfile.gettempdir()) / f"etalon-pg-{digest}"
            candidate.mkdir(mode=0o700, exist_ok=True)
            self._own(candidate)
            self._socket_dir = candidate
        return self._socket_dir

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-8:])
        except OSError:
            return "(no server log)"

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = quote(str(self._socket()), safe="")
        return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={host}&port={PORT}"

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def running(self) -> bool:
        """True when this cluster's postmaster runs (a stale `postmaster.pid` does not count)."""
        if not self.initialized():
            return False
        status = self._run(self._bin().pg_ctl, "status", "-D", self.data, check=False)
        return status.returncode == 0 and not self._stale_pid_file()

    def pid(self) -> int | None:
        """The postmaster's pid from `postmaster.pid`, if the file is there."""
        try:
            first = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        except (FileNotFoundError, NotADirectoryError):
            return None
        return int(first) if first.strip().isdigit() else None

    def _stale_pid_file(self) -> bool:
        """True when `postmaster.pid` names a live process that is not this cluster's server."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return True
        except OSError:
            return False  # no /proc: trust pg_ctl
        if not cmdline or not Path(os.fsdecode(cmdline[0])).name.startswith("postgres"):
            return True
        # the postmaster runs as `postgres -D <data> ...`; a server of another cluster is not ours
        return os.fsencode(str(self.data)) not in cmdline

    # ----------------------------------------------------------------- ownership

    @property
    def _owner_path(self) -> Path:
        return self.root / OWNER_FILE

    def owner(self) -> str | None:
        """The `pid:start-time` token of the process that owns the running server, if recorded."""
        try:
            return self._owner_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def owner_alive(self) -> bool:
        token = self.owner()
        if token is None:
            return False
        pid, _, _ = token.partition(":")
        return pid.isdigit() and process_token(int(pid)) == token

    def orphaned(self) -> bool:
        """Running, but the process that started it is gone (a `kill -9` of the daemon)."""
        return self.running() and not self.owner_alive()

    def take_ownership(self) -> None:
        token = process_token(os.getpid())
        tmp = self._owner_path.with_suffix(".tmp")
        tmp.write_text(f"{token}\n")
        tmp.replace(self._owner_path)

    def _release(self) -> None:
        self._owner_path.unlink(missing_ok=True)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._own(self.root)
        args: list[str | Path] = [self._bin().initdb, "-D", self.data, "-U", SUPERUSER]
        args += ["--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
        if not self._fsync:
            args.append("--no-sync")
        try:
            self._run(*args)
        except subprocess.CalledProcessError as e:
            hint = ""
            if self._user is not None:
                hint = f" (the `{self._user}` user must be able to reach {self.root})"
            raise EmbeddedError(f"initdb failed{hint}: {e.stderr.strip()[-400:]}") from None

    def start(self) -> str:
        """Init if needed, start if stopped, create the `etalon` database; returns the URL."""
        if not self.initialized():
            self.init()
        if not self.running():
            if self._stale_pid_file():
                log.warning(
                    "embedded PostgreSQL: %s names pid %s, which is not this server; removing it",
                    self.data / "postmaster.pid",
                    self.pid(),
                )
                (self.data / "postmaster.pid").unlink(missing_ok=True)
            options = f"-c listen_addresses= -k {self._socket()} -p {PORT}"
            if not self._fsync:
                # fsync off only: a process crash (stop -m immediate) must still keep every commit
                options += " -c fsync=off -c full_page_writes=off"
            result = self._run(
                self._bin().pg_ctl, "start", "-w", "-t", "60", "-D", self.data, "-l", self.log,
                "-o", options, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise EmbeddedError(
                    f"the embedded PostgreSQL in {self.data} did not start: "
                    f"{result.stderr.strip()[-300:]}\n{self._tail()}"
                )
        self._create_database()
        return self.url

    def _create_database(self) -> None:
        with psycopg.connect(
            host=str(self._socket()), port=PORT, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: clean; `immediate`: like a crash, for outage tests)."""
        if self.running():
            self._run(self._bin().pg_ctl, "stop", "-w", "-D", self.data, "-m", mode)
        self._release()

    def destroy(self) -> None:
        """Stop and delete the cluster (tests)."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        if self._socket_dir is not None and not self._socket_dir.is_relative_to(self.root):
            shutil.rmtree(self._socket_dir, ignore_errors=True)
