"""Benchmark: ``netlm serve --workers N`` on PostgreSQL, N = 1, 2, 4 in one run.

Run with ``python benchmarks/bench_workers.py [--workers 1 2 4] [--clients 16]
[--duration 8] [--json out.json]``.

A temporary PostgreSQL cluster is made with ``initdb`` and started with
``pg_ctl`` on a free port (127.0.0.1 only, trust authentication, PostgreSQL's
default durability settings; under root it runs as the system user
``netlm-pg``, as in the tests).  For each N a new database is created and
``netlm serve --workers N`` started on it; once every worker has started, a
short warm-up, then ``--clients`` concurrent clients drive the fixed mix of
:mod:`bench_api_load` for ``--duration`` seconds: 30 % create a patient, 20 %
store a case version, 50 % reads (patient, case versions, search).  Reported
per N: requests/s and its ratio to N = 1 measured in the same run, p50/p95
latency, errors, and after each run the integrity checks: no acknowledged
write lost or duplicated (patients and case versions against what the server
acknowledged), the patient rows equal the acknowledged creates, and the audit
hash chain verifies.  Also the connection pool of each worker (SQLAlchemy's
``pool_size`` + ``max_overflow``, ``netlm serve --db-pool-size
--db-max-overflow``), the most a run may open (N × that), the connections
PostgreSQL saw open at the end of the load, against ``max_connections``: the
rule is ``workers × (pool_size + max_overflow) ≤ max_connections − 3``.

The numbers are a benchmark, not a test: nothing here asserts a time.

Measured on the 2-core development machine, shared with other jobs (load
average 6.7 during the run), clients and server on the same two cores;
16 clients, 8 s per N, defaults otherwise, one run::

    workers  requests/s  x N=1  p50 ms  p95 ms  errors  lost/dup  audit  connections open / most
          1          91   1.00   165.0   319.3       0         0  ok        5 / 15
          2         110   1.20   158.4   243.3       0         0  ok        8 / 30
          4          96   1.05   166.3   290.7       0         0  ok       12 / 60

With two cores (and the clients on them too), more than two workers add no
CPU; the run shows that several workers share one registry without losing or
duplicating a write, and how many connections they hold (PostgreSQL
max_connections 100: up to 6 workers with the default pool of 5 + 10).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api_load import (
    _free_port,
    admin_headers,
    run_load,
    start_server,
    stop_server,
    summary,
    verify,
)

from netlm.store import Store
from netlm.store.backup import pg_program
from netlm.store.db import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE

#: The unprivileged user PostgreSQL runs as when the benchmark runs as root.
PG_OS_USER = "netlm-pg"
PG_SUPERUSER = "netlm"


class Cluster:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = pg_program("initdb").parent
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam(PG_OS_USER)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--user-group", "--no-create-home",
                     "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", PG_OS_USER],
                    check=True, capture_output=True,
                )  # fmt: skip
                self.user = pwd.getpwnam(PG_OS_USER)

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            extra_groups=[] if self.user else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        (self.root / "socket").mkdir()
        if self.user is not None:
            for path in (self.root, self.root / "socket"):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        data = str(self.root / "data")
        self.run("initdb", "-D", data, "-U", PG_SUPERUSER, "-A", "trust", "-E", "UTF8",
                 "--no-locale", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root / 'socket'}"
        )
        self.run("pg_ctl", "-D", data, "-l", str(self.root / "server.log"), "-w", "-t", "60",
                 "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def admin(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_SUPERUSER, dbname=database, autocommit=True
        )

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="netlm-bench-pg-", dir="/tmp"))
    os.chmod(root, 0o755)  # the server's user must reach it
    pg = Cluster(root)
    try:
        pg.start()
        yield pg
    finally:
        with contextlib.suppress(RuntimeError):
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def connections(pg: Cluster, database: str) -> int:
    with pg.admin() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()
    return int(row[0]) if row else 0


def run_workers(
    pg: Cluster, workers: int, clients: int, seconds: float, warmup: float, folder: Path
) -> dict[str, Any]:
    name = f"bench_w{workers}"
    url = pg.create_database(name)
    run_dir = folder / name
    run_dir.mkdir()
    log = run_dir / "server.log"
    process, base = start_server(
        url,
        log,
        ("--workers", str(workers), "--files-dir", str(run_dir / "files")),
        log_level="info",  # the workers' start-up lines tell when all of them serve
        ready=lambda text: text.count("Application startup complete") >= workers,
    )
    try:
        headers = admin_headers(base, 60)
        warm = asyncio.run(run_load(base, headers, clients, warmup, "WARM"))
        loaded = asyncio.run(run_load(base, headers, clients, seconds, "LOAD"))
        open_connections = connections(pg, name)
        integrity = verify(base, headers, loaded, "LOAD")
        integrity |= {f"warmup_{k}": v for k, v in verify(base, headers, warm, "WARM").items()}
    finally:
        stop_server(process, 30)
    with Store(url, upgrade=False) as store:
        chain = store.verify_audit()
        with store.engine.connect() as conn:
            rows = int(conn.exec_driver_sql("SELECT count(*) FROM patients").scalar_one())
            created = int(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM audit_log WHERE record_type = 'patient' "
                    "AND action = 'create'"
                ).scalar_one()
            )
    acknowledged = len(loaded.patients) + len(warm.patients)
    integrity["patient_rows_minus_acknowledged"] = rows - acknowledged
    integrity["patient_rows_minus_audited_creates"] = rows - created
    integrity["audit_chain_problems"] = len(chain.problems)
    return {
        "workers": workers,
        "load": summary(loaded),
        "integrity": integrity,
        "audit_entries": chain.entries,
        "open_connections_after_load": open_connections,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per N")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with cluster() as pg, tempfile.TemporaryDirectory(prefix="netlm-workers-") as folder:
        with pg.admin() as conn:
            max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        for workers in args.workers:
            results.append(
                run_workers(pg, workers, args.clients, args.duration, args.warmup, Path(folder))
            )
    per_worker = DEFAULT_POOL_SIZE + DEFAULT_MAX_OVERFLOW
    baseline = results[0]["load"]["requests_per_s"] or float("nan")
    print(
        f"{args.clients} clients, {args.duration:.0f} s per run, PostgreSQL max_connections "
        f"{max_connections}; pool per worker {DEFAULT_POOL_SIZE} + overflow "
        f"{DEFAULT_MAX_OVERFLOW} = {per_worker} (rule: workers x {per_worker} <= "
        f"{max_connections} - 3)"
    )
    print(
        "workers  requests/s  x N=1  p50 ms  p95 ms  errors  lost/dup  audit   "
        "connections open / most"
    )
    bad = False
    for row in results:
        load, integrity = row["load"], row["integrity"]
        row["throughput_ratio_vs_one_worker"] = load["requests_per_s"] / baseline
        row["max_connections_by_pool"] = row["workers"] * per_worker
        lost_dup = sum(v for k, v in integrity.items() if k != "audit_chain_problems")
        audit = "ok" if integrity["audit_chain_problems"] == 0 else "BROKEN"
        bad = bad or bool(load["errors"] or any(integrity.values()))
        print(
            f"{row['workers']:>7}  {load['requests_per_s']:>10.0f}  "
            f"{row['throughput_ratio_vs_one_worker']:>5.2f}  {load['p50_ms']:>6.1f}  "
            f"{load['p95_ms']:>6.1f}  {load['errors']:>6}  {lost_dup:>8}  {audit:<6}  "
            f"{row['open_connections_after_load']:>4} / {row['max_connections_by_pool']}"
        )
    if args.json is not None:
        payload = {"max_connections": max_connections, "runs": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
