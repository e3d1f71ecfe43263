"""`make cluster`: rulecenter as a small cluster on one machine (issue 14, docs/deployment.md#cluster).

    python deploy/cluster/cluster.py start | stop | status
    python deploy/cluster/cluster.py stop-service NAME | start-service NAME     (the fault drill's hands)
    python deploy/cluster/cluster.py promote                                  (the replica becomes the primary)

What it starts, every part an existing, well-understood program, each on ports of its own (so it runs beside
`make run`, a PostgreSQL on 5432 and a Redis on 6379), all state under `var/cluster/` (as root, PostgreSQL's
data and logs are the postgres user's, in the temporary folder, linked from `var/cluster/logs/`):

- **nginx** on `CLUSTER_PORT` (8080) with a shared cache for anonymous reads (nginx.conf.template);
- **three app nodes** (`rulecenter serve`, ports `CLUSTER_NODE_PORT`… — 18081, 18082, 18083), each with its
  own search index and its **index follower** (`rulecenter index_worker`);
- **PostgreSQL** primary (`CLUSTER_PG_PORT`, 15433) and a **streaming replica** made with `pg_basebackup`
  (its own data directory, the next port);
- **Redis** (`CLUSTER_REDIS_PORT`, 16380: cache, rate limits, the RQ queue) and one **RQ worker**.

The app nodes are configured by environment variables only — `DATABASE_URL`, `DATABASE_REPLICA_URLS`,
`REDIS_URL`, … — the same a real deployment sets. The state (ports, process ids) is written to
`var/cluster/state.json` for `stop` and for bench/faults.py. Debian's PostgreSQL and nginx binaries, Redis'
server: `make cluster` installs them first.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STATE_DIR = Path(os.environ.get("CLUSTER_DIR", ROOT / "var" / "cluster"))
STATE_FILE = STATE_DIR / "state.json"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
NODES = 3


def _pg_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        sys.exit("PostgreSQL's server programs are missing: apt-get install postgresql (make cluster does)")
    return versions[-1].parent


def ports() -> dict[str, int]:
    node = int(os.environ.get("CLUSTER_NODE_PORT", "18081"))
    pg = int(os.environ.get("CLUSTER_PG_PORT", "15433"))
    return {
        "nginx": int(os.environ.get("CLUSTER_PORT", "8080")),
        **{f"node{n}": node + n - 1 for n in range(1, NODES + 1)},
        "primary": pg,
        "replica": pg + 1,
        "redis": int(os.environ.get("CLUSTER_REDIS_PORT", "16380")),
    }


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _wait_port(port: int, seconds: float = 60, *, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _free(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start listening on {port} within {seconds:g} s (see {STATE_DIR}/logs)")


class Cluster:
    def __init__(self) -> None:
        self.ports = ports()
        self.state: dict = json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}
        self.state.setdefault("ports", self.ports)
        self.state.setdefault("pids", {})
        self.ports = self.state["ports"]
        self.logs = STATE_DIR / "logs"
        self.pg = _pg_bin()
        self.root = os.geteuid() == 0

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(self.state, indent=2))

    def url(self, which: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports[which]}/rulecenter"

    def env(self, node: str) -> dict[str, str]:
        """What a node is configured by: the environment only, as a real deployment."""
        key_file = STATE_DIR / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        primary = self.state.get("primary", "primary")
        replicas = [] if primary == "replica" or self.state.get("replica_removed") else [self.url("replica")]
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": key_file.read_text().strip(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "RULECENTER_SSL_REDIRECT": "0",
            "RULECENTER_TRUSTED_PROXY": "1",
            "DATABASE_URL": self.url(primary),
            "DATABASE_REPLICA_URLS": ",".join(replicas),
            "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
            "RULECENTER_VAR_DIR": str(STATE_DIR / node),
            # One host, three nodes: each index follower must know its own (else they take turns rebuilding).
            "RULECENTER_SEARCH_NODE": node,
            "WEB_WORKERS": os.environ.get("CLUSTER_WEB_WORKERS", "1"),
            "PYTHONUNBUFFERED": "1",
        }

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env or dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.state["pids"][name] = process.pid
        self.save()

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        pid = self.state["pids"].pop(name, None)
        self.save()
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5  # granian waits for idle keep-alive connections: not for long
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)

    def as_postgres(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        """PostgreSQL's programs refuse to run as root: as the postgres user then."""
        if self.root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload,no-any-return]

    def manage(self, *args: str, node: str = "node1") -> None:
        subprocess.run([PYTHON, "-m", "rulecenter", *args], cwd=ROOT, env=self.env(node), check=True)

    # -- PostgreSQL ------------------------------------------------------------------------------------------
    @property
    def pg_root(self) -> Path:
        """PostgreSQL's data directories and logs. As root they are the postgres user's, in the temporary
        folder: the postgres user can reach it without any folder above the project being opened to others."""
        if self.root:
            return Path(tempfile.gettempdir()) / f"rulecenter-cluster-{self.ports['primary']}"
        return STATE_DIR / "pg"

    def pg_dir(self, which: str) -> Path:
        return self.pg_root / which

    def pg_log(self, which: str) -> Path:
        return self.pg_root / f"pg-{which}.log"

    def pg_start(self, which: str) -> None:
        port = self.ports[which]
        self.as_postgres(
            [str(self.pg / "pg_ctl"), "-D", str(self.pg_dir(which)), "-l", str(self.pg_log(which)),
             "-o", f"-p {port} -k {self.pg_dir(which)}", "-w", "start"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def pg_stop(self, which: str, mode: str = "fast") -> None:
        if (self.pg_dir(which) / "postmaster.pid").exists():
            self.as_postgres(
                [str(self.pg / "pg_ctl"), "-D", str(self.pg_dir(which)), "-m", mode, "-w", "stop"],
                stdout=subprocess.DEVNULL,
            )

    def pg_sql(self, which: str, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [str(self.pg / "psql"), "-h", "127.0.0.1", "-p", str(self.ports[which]), "-U", "postgres", "-d",
             database, "-tAc", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip()

    def pg_create(self) -> None:
        base = self.pg_root
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(mode=0o700, parents=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        if self.root:
            postgres = pwd.getpwnam("postgres")
            os.chown(base, postgres.pw_uid, postgres.pw_gid)
        for which in ("primary", "replica"):  # their logs beside the others'
            (self.logs / f"pg-{which}.log").symlink_to(self.pg_log(which))
        primary = self.pg_dir("primary")
        self.as_postgres(
            [str(self.pg / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# make cluster (deploy/cluster/cluster.py)\n"
                "listen_addresses = '127.0.0.1'\n"
                "wal_level = replica\nmax_wal_senders = 10\nwal_keep_size = '256MB'\n"
                "hot_standby = on\nhot_standby_feedback = on\n"
                "max_connections = 200\nshared_buffers = '128MB'\n"
            )
        self.pg_start("primary")
        self.pg_sql("primary", "CREATE DATABASE rulecenter")
        # The replica: a copy of the primary taken while it runs, following its WAL as it is written.
        self.as_postgres(
            [str(self.pg / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U",
             "postgres", "-D", str(self.pg_dir("replica")), "-R", "-X", "stream", "-c", "fast"],
        )  # fmt: skip
        self.pg_start("replica")

    # -- the cluster -----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state.get("pids"):
            sys.exit(f"a cluster is already running ({STATE_FILE}); make cluster-stop first")
        self.ports = ports()  # this start's environment, not the last cluster's
        busy = [f"{name} {port}" for name, port in self.ports.items() if not _free(port)]
        if busy:
            sys.exit("ports already in use: " + ", ".join(busy) + " (CLUSTER_PORT and friends choose others)")
        if STATE_DIR.exists():
            shutil.rmtree(STATE_DIR)
        STATE_DIR.mkdir(parents=True)
        self.state = {"ports": self.ports, "pids": {}, "primary": "primary"}
        self.save()
        started = time.monotonic()
        self.pg_create()
        self.start_service("redis")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("loaddemo")
        for n in range(1, NODES + 1):
            self.manage("collectstatic", "--noinput", "-v0", node=f"node{n}")
        for n in range(1, NODES + 1):
            self.start_service(f"node{n}")
            self.start_service(f"indexer{n}")
        self.start_service("worker")
        self.start_service("nginx")
        for n in range(1, NODES + 1):
            _wait_port(self.ports[f"node{n}"], what=f"node{n}")
        print(f"rulecenter cluster: http://127.0.0.1:{self.ports['nginx']}/news/ "
              f"({NODES} nodes, PostgreSQL {self.ports['primary']} + replica {self.ports['replica']}, "
              f"Redis {self.ports['redis']}; ready in {time.monotonic() - started:.0f} s; make cluster-stop ends it)")  # fmt: skip

    def start_service(self, name: str) -> None:
        if name == "redis":
            folder = STATE_DIR / "redis"
            folder.mkdir(parents=True, exist_ok=True)
            # The queue survives a restart (append-only file); nothing else there needs to.
            self.spawn("redis", ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                                 "--dir", str(folder), "--appendonly", "yes", "--save", ""])  # fmt: skip
            _wait_port(self.ports["redis"], what="redis")
        elif name in ("primary", "replica"):
            self.pg_start(name)
        elif name.startswith("node"):
            self.spawn(name, [PYTHON, "-m", "rulecenter", "serve", "--no-worker", "--host", "127.0.0.1",
                              "--port", str(self.ports[name])], self.env(name))  # fmt: skip
        elif name.startswith("indexer"):
            node = "node" + name.removeprefix("indexer")
            self.spawn(name, [PYTHON, "-m", "rulecenter", "index_worker"], self.env(node))
        elif name == "worker":
            self.spawn(name, [PYTHON, "-m", "rulecenter", "rqworker", "--with-scheduler", "default"],
                       self.env("node1"))  # fmt: skip
        elif name == "nginx":
            self.spawn("nginx", ["/usr/sbin/nginx", "-p", str(self.nginx_prefix()), "-c", "nginx.conf"])
            _wait_port(self.ports["nginx"], what="nginx")
        else:
            sys.exit(f"no service called {name!r}")

    def stop_service(self, name: str, *, hard: bool = False) -> None:
        if name in ("primary", "replica"):
            self.pg_stop(name, "immediate" if hard else "fast")
        else:
            self.kill(name, signal.SIGKILL if hard else signal.SIGTERM)

    def restart_nodes(self) -> None:
        """After the primary moved: every app process starts again with the new DATABASE_URL."""
        for n in range(1, NODES + 1):
            for name in (f"node{n}", f"indexer{n}"):
                self.stop_service(name)
                self.start_service(name)
        self.stop_service("worker")
        self.start_service("worker")
        for n in range(1, NODES + 1):
            _wait_port(self.ports[f"node{n}"], what=f"node{n}")

    def promote(self) -> None:
        """The replica becomes the primary (`pg_ctl promote`) and the app processes are pointed at it."""
        self.as_postgres([str(self.pg / "pg_ctl"), "-D", str(self.pg_dir("replica")), "-w", "promote"],
                         stdout=subprocess.DEVNULL)  # fmt: skip
        self.state["primary"] = "replica"
        self.save()
        self.restart_nodes()

    def nginx_prefix(self, nodes: int = NODES) -> Path:
        """nginx's folder with its configuration written, in front of the first `nodes` app nodes."""
        prefix = STATE_DIR / "nginx"
        for sub in ("tmp", "cache", "extra"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"        server 127.0.0.1:{self.ports[f'node{n}']} max_fails=1 fail_timeout=2s;"
            for n in range(1, nodes + 1)
        )
        # safe_substitute: nginx's own $variables stay as they are.
        text = string.Template((HERE / "nginx.conf.template").read_text()).safe_substitute(
            prefix=prefix, listen=f"127.0.0.1:{self.ports['nginx']}", upstream_servers=servers,
            access_log=os.environ.get("CLUSTER_ACCESS_LOG", "off"),
        )  # fmt: skip
        (prefix / "nginx.conf").write_text(text)
        if self.root:  # nginx's workers run as www-data / nobody: let them write the cache and temp files
            for folder in (prefix, prefix / "tmp", prefix / "cache"):
                folder.chmod(0o777)
        return prefix

    def nginx_reload(self, nodes: int = NODES) -> None:
        """nginx in front of `nodes` app nodes from now on (its configuration written again and reloaded)."""
        prefix = self.nginx_prefix(nodes)
        subprocess.run(["/usr/sbin/nginx", "-p", str(prefix), "-c", "nginx.conf", "-s", "reload"], check=True)
        time.sleep(1)  # the old workers finish their requests and go

    def stop(self) -> None:
        for name in [n for n in list(self.state.get("pids", {})) if n != "redis"]:
            self.kill(name)
        for which in ("replica", "primary"):
            self.pg_stop(which)
        self.kill("redis")
        print("rulecenter cluster stopped")

    def status(self) -> None:
        for name, port in self.ports.items():
            print(f"{name:8} {port:6} {'up' if not _free(port) else 'down'}")


def main(argv: list[str]) -> None:
    cluster = Cluster()
    match argv:
        case ["start"]:
            cluster.start()
        case ["stop"]:
            cluster.stop()
        case ["status"]:
            cluster.status()
        case ["start-service", name]:
            cluster.start_service(name)
        case ["stop-service", name]:
            cluster.stop_service(name)
        case ["kill-service", name]:
            cluster.stop_service(name, hard=True)
        case ["promote"]:
            cluster.promote()
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
