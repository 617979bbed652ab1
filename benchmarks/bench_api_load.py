"""Benchmark: the web API under concurrent use, on loopback, for a bounded time.

Run with ``python benchmarks/bench_api_load.py [--clients 64] [--duration 20]``.

``netlm serve`` (``python -m netlm.commands.serve``) is started on a fresh
SQLite file.  Each client has its own connection and loops, for ``--duration``
seconds: create a patient (POST), store a case for one of its patients (PUT),
read a patient, its case and a search (GET).  Reported:

- requests, throughput and p50/p95/p99 latency per operation and overall;
- errors (any status other than the expected one, or a transport error);
- lost writes (acknowledged, not in the registry afterwards) and duplicated
  writes (a patient id or case version stored twice) — both must be 0;
- ratios against a baseline measured in the same run: one client alone for
  ``--baseline`` seconds (p95 latency under load / alone, throughput ratio).

The numbers are a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ADMIN_PASSWORD = "bench-keeper-passphrase"


@dataclass
class Tally:
    """What one run measured."""

    latencies_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    patients: dict[str, int] = field(default_factory=dict)  # external id -> registry id
    case_versions: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies_s.values()) + sum(self.errors.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    db: Path | str,
    log: Path,
    extra: tuple[str, ...] = (),
    *,
    log_level: str = "warning",
    ready: Callable[[str], bool] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``netlm serve`` on ``db`` (a SQLite file or a database URL) on a free port.

    Returns once the health check answers and ``ready(log text)`` holds (e.g. every
    worker process has started).  The registry is created (or brought up to date)
    first, as ``netlm db upgrade`` does: ``netlm serve`` refuses a missing SQLite file.
    """
    from netlm.store.db import upgrade

    upgrade(f"sqlite:///{db}" if isinstance(db, Path) else db)
    port = _free_port()
    env = os.environ | {"NETLM_ADMIN_PASSWORD": ADMIN_PASSWORD, "NETLM_DATA_DIR": str(log.parent)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netlm.commands.serve",
                "--port",
                str(port),
                "--db",
                str(db),
                "--create-admin",
                "admin",
                "--log-level",
                log_level,
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            healthy = httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
            if healthy and (ready is None or ready(log.read_text(errors="replace"))):
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start within 120 s: {log.read_text()[-2000:]}")


def admin_headers(base: str, timeout_s: float = 60) -> dict[str, str]:
    """The bearer header of the admin account of :func:`start_server`."""
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=timeout_s,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def stop_server(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Stop a server of :func:`start_server`: terminate, else kill after ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def case_document(external_id: str, rng: random.Random) -> dict[str, Any]:
    return {
        "schema": "netlm/case/v1",
        "patient": {"id": external_id, "age_years": rng.randint(30, 85), "ecog": rng.randint(0, 2)},
        "tumour": {"ki67_percent": round(rng.uniform(0.5, 30), 1), "differentiation": "well"},
        "liver": {"volume_ml": 1600, "tumour_volume_ml": rng.randint(50, 900)},
        "labs": {"bilirubin": {"value": round(rng.uniform(0.3, 2.5), 2), "unit": "mg/dL"}},
    }


async def client_loop(
    n: int, base: str, headers: dict[str, str], until: float, tally: Tally, prefix: str
) -> None:
    rng = random.Random(n)
    mine: list[tuple[str, int]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        i = 0
        while time.monotonic() < until:
            roll = rng.random()
            if roll < 0.3 or not mine:
                op, external_id = "create patient", f"{prefix}-{n}-{i}"
                i += 1
                request = client.post("/api/v1/patients", json={"external_id": external_id})
                expected = 201
            elif roll < 0.5:
                op = "save case"
                external_id, pid = rng.choice(mine)
                request = client.put(
                    f"/api/v1/patients/{pid}/case", json=case_document(external_id, rng)
                )
                expected = 201
            elif roll < 0.7:
                op, (_, pid) = "read patient", rng.choice(mine)
                request = client.get(f"/api/v1/patients/{pid}")
                expected = 200
            elif roll < 0.85:
                op, (_, pid) = "read case versions", rng.choice(mine)
                request = client.get(f"/api/v1/patients/{pid}/case/versions")
                expected = 200
            else:
                op = "search"
                request = client.get("/api/v1/patients", params={"search": f"{prefix}-{n}-"})
                expected = 200
            start = time.perf_counter()
            try:
                response = await request
            except httpx.HTTPError:
                tally.errors[op] += 1
                continue
            elapsed = time.perf_counter() - start
            if response.status_code != expected:
                tally.errors[op] += 1
                continue
            tally.latencies_s[op].append(elapsed)
            body = response.json()
            if op == "create patient":
                tally.patients[external_id] = body["id"]
                mine.append((external_id, body["id"]))
            elif op == "save case":
                tally.case_versions[body["patient_id"]].append(body["version"])


async def run_load(
    base: str, headers: dict[str, str], clients: int, seconds: float, prefix: str
) -> Tally:
    tally = Tally()
    start = time.monotonic()
    until = start + seconds
    await asyncio.wait_for(
        asyncio.gather(
            *(client_loop(n, base, headers, until, tally, prefix) for n in range(clients))
        ),
        timeout=seconds + 120,
    )
    tally.wall_s = time.monotonic() - start
    return tally


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def verify(base: str, headers: dict[str, str], tally: Tally, prefix: str) -> dict[str, int]:
    """Lost and duplicated writes: the registry against what the server acknowledged."""
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        stored = client.get(
            "/api/v1/patients", params={"search": f"{prefix}-", "include_deleted": True}
        ).json()
        ids = [p["id"] for p in stored]
        by_external = {p["external_id"]: p["id"] for p in stored}
        lost = sum(1 for ext, pid in tally.patients.items() if by_external.get(ext) != pid)
        duplicated = len(ids) - len(set(ids)) + max(0, len(stored) - len(tally.patients))
        lost_cases = duplicated_cases = 0
        for pid, versions in tally.case_versions.items():
            found = [
                v["version"] for v in client.get(f"/api/v1/patients/{pid}/case/versions").json()
            ]
            lost_cases += len(set(versions) - set(found))
            duplicated_cases += len(found) - len(set(found)) + max(0, len(found) - len(versions))
    return {
        "lost_patients": lost,
        "duplicated_patients": duplicated,
        "lost_case_versions": lost_cases,
        "duplicated_case_versions": duplicated_cases,
    }


def summary(tally: Tally) -> dict[str, Any]:
    everything = [x for v in tally.latencies_s.values() for x in v]
    per_op = {
        op: {
            "requests": len(v),
            "errors": tally.errors.get(op, 0),
            "p50_ms": 1000 * percentile(v, 50),
            "p95_ms": 1000 * percentile(v, 95),
            "p99_ms": 1000 * percentile(v, 99),
        }
        for op, v in sorted(tally.latencies_s.items())
    }
    return {
        "requests": tally.requests,
        "errors": sum(tally.errors.values()),
        "seconds": tally.wall_s,
        "requests_per_s": tally.requests / tally.wall_s if tally.wall_s else 0.0,
        "p50_ms": 1000 * percentile(everything, 50),
        "p95_ms": 1000 * percentile(everything, 95),
        "p99_ms": 1000 * percentile(everything, 99),
        "operations": per_op,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (>= 50)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--baseline", type=float, default=5.0, help="seconds of one client")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="netlm-load-") as folder:
        db, log = Path(folder) / "load.db", Path(folder) / "server.log"
        process, base = start_server(db, log)
        try:
            headers = admin_headers(base, 30)
            alone = asyncio.run(run_load(base, headers, 1, args.baseline, "BASE"))
            loaded = asyncio.run(run_load(base, headers, args.clients, args.duration, "LOAD"))
            integrity = verify(base, headers, loaded, "LOAD") | {
                f"baseline_{k}": v for k, v in verify(base, headers, alone, "BASE").items()
            }
        finally:
            stop_server(process, 20)
    result = {
        "clients": args.clients,
        "load": summary(loaded),
        "baseline_one_client": summary(alone),
        "integrity": integrity,
    }
    base_p95 = result["baseline_one_client"]["p95_ms"]
    base_rate = result["baseline_one_client"]["requests_per_s"]
    result["p95_ratio_vs_one_client"] = result["load"]["p95_ms"] / base_p95 if base_p95 else None
    result["throughput_ratio_vs_one_client"] = (
        result["load"]["requests_per_s"] / base_rate if base_rate else None
    )
    load = result["load"]
    print(
        f"{args.clients} clients for {load['seconds']:.1f} s on loopback: "
        f"{load['requests']} requests ({load['requests_per_s']:.0f}/s), "
        f"errors {load['errors']}, p50 {load['p50_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms, "
        f"p99 {load['p99_ms']:.1f} ms"
    )
    for op, row in load["operations"].items():
        print(
            f"  {op:<20} {row['requests']:>6} requests  errors {row['errors']:>3}  "
            f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms"
        )
    one = result["baseline_one_client"]
    print(
        f"baseline, 1 client: {one['requests_per_s']:.0f} requests/s, p95 {one['p95_ms']:.1f} ms; "
        f"under load p95 x{result['p95_ratio_vs_one_client']:.1f}, "
        f"throughput x{result['throughput_ratio_vs_one_client']:.1f}"
    )
    print("writes: " + ", ".join(f"{k} {v}" for k, v in integrity.items()))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    bad = load["errors"] or any(integrity.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
