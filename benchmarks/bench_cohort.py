"""Benchmark: cohort runs of a voxel-dose task on Dask, against 1 worker and a plain loop.

Run with ``python benchmarks/bench_cohort.py [N_PATIENTS] [MAX_WORKERS]``.

Two measurements, each a ratio against a baseline measured in the same run
(the ratio, not the absolute figure, is what to compare between machines);
each timing is the best of ``REPEATS`` runs:

1. **Throughput vs workers.**  A synthetic cohort of ``N_PATIENTS`` glass
   radioembolization patients with a 90Y activity image and liver/tumour masks
   each; the task reads the image and masks, computes the dose map by
   dose-voxel-kernel convolution (``netlm.voxel.dose.dose_dvk`` with the 90Y
   kernel of the voxel size, computed once on the driver and scattered to the
   workers, ``workers=1``: one core per patient) and the dose statistics per
   VOI.  Layouts: 1, 2 and ``MAX_WORKERS`` local worker
   processes, and a *simulated multi-node* layout: a ``dask scheduler`` and two
   ``dask worker`` processes ("nodes", ``MAX_WORKERS / 2`` worker processes
   each) started as separate programs talking TCP over the loopback interface,
   reached through the scheduler address as a real cluster would be.
   Clusters are started, and netlm imported on every worker, before the clock
   starts (a cluster's start-up is reported on its own); speed-up = time with
   1 worker / time with the layout.  When
   ``netlm.voxel.dose`` is not importable the task is a clearly labelled numpy
   FFT convolution stand-in.
2. **Peak memory per task**: tracemalloc (numpy arrays) around one patient's
   task in this process, against the task's declared ``memory_bytes``.
3. **Scheduler overhead per patient.**  A trivial task (read and hash the case
   file, return one number) over ``5 x N_PATIENTS`` patients, as a plain
   in-process loop (``scheduler="inline"``) and on one Dask worker:
   (Dask − loop) / patients.

Speed-up is bounded by the machine's cores: with fewer cores than workers the
extra workers only share them.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from netlm.cohort.runner import (
    WORKER_ENVIRON,
    CohortTask,
    PatientInputs,
    Scalar,
    TaskUnavailableError,
    check_dose_available,
    dose_cohort_task,
    run_cohort,
)
from netlm.cohort.synthetic import generate_cohort

IMAGE_SHAPE = (96, 128, 128)  # k, j, i voxels: a 90Y PET cropped to the liver
VOXEL_MM = 4.0
REPEATS = 2  # each layout runs this often; the best time counts (others share the machine)


class SyntheticKernel:
    """A dose-voxel kernel with 90Y-like range (exponential in distance), for the benchmark only.

    Not a physical kernel: the benchmark measures throughput, not dose accuracy.
    """

    def __init__(self, voxel_mm: float, size: int = 11, range_mm: float = 1.5) -> None:
        r = np.arange(size) - size // 2
        k, j, i = np.meshgrid(r, r, r, indexing="ij")
        distance_mm = np.sqrt(i**2 + j**2 + k**2) * voxel_mm
        values = np.exp(-distance_mm / range_mm)
        self.voxel_mm = (voxel_mm, voxel_mm, voxel_mm)
        self.density_g_per_ml = 1.03  # soft tissue, as the planning physics assumes
        self.source = f"synthetic exponential kernel ({range_mm} mm), benchmark only"
        # S values in mGy/(MBq*s): 0.931 MeV per decay (the planning constant's), all of it
        # deposited within the kernel, divided by the voxel's mass.
        voxel_kg = (voxel_mm / 10.0) ** 3 * self.density_g_per_ml / 1000.0
        mgy_kg_per_mbq_s = 0.931 * 1.602177e-13 * 1e6 * 1e3  # MeV -> J, per MBq*s, Gy -> mGy
        self.values = values / values.sum() * mgy_kg_per_mbq_s / voxel_kg

    def energy_fraction(self) -> float:
        return 1.0


def standin_dose_task(inputs: PatientInputs) -> dict[str, Scalar]:
    """STAND-IN (netlm.voxel.dose unavailable): numpy FFT convolution of the activity image."""
    import SimpleITK as sitk  # noqa: N813

    entry = inputs.entry
    activity = sitk.GetArrayFromImage(sitk.ReadImage(str(entry.activity_image))).astype(np.float64)
    kernel = SyntheticKernel(VOXEL_MM).values
    shape = [a + b - 1 for a, b in zip(activity.shape, kernel.shape, strict=True)]
    spectrum = np.fft.rfftn(activity, shape) * np.fft.rfftn(kernel, shape)
    dose = np.fft.irfftn(spectrum, shape)
    row: dict[str, Scalar] = {"dose_max": float(dose.max())}
    for name, path in entry.masks:
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(path))) > 0
        off = [s // 2 for s in kernel.shape]
        core = dose[off[0] : off[0] + mask.shape[0], off[1] : off[1] + mask.shape[1]]
        core = core[:, :, off[2] : off[2] + mask.shape[2]]
        row[f"mean_{name}"] = float(core[mask].mean())
    return row


def trivial_task(inputs: PatientInputs) -> dict[str, Scalar]:
    """Nothing but the case file's length: the cost of the task machinery itself."""
    return {"case_bytes": len(inputs.documents["case"])}


def dose_task_under_test() -> tuple[CohortTask, str]:
    try:
        check_dose_available()
    except TaskUnavailableError as exc:
        label = f"STAND-IN numpy FFT convolution (netlm.voxel.dose unavailable: {exc})"
        task = CohortTask("dose", ("activity_image", "masks"), standin_dose_task, version="standin")
        return task, label
    label = "netlm.voxel.dose.dose_dvk (90Y kernel per voxel size, scattered) + statistics"
    return dose_cohort_task("dvk"), label


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: Modules every worker imports before the clock starts (the first task would otherwise).
WARM_MODULES = (
    "netlm.cohort.runner",
    "netlm.case",
    "netlm.imaging.io",
    "netlm.voxel.dose",
    "netlm.voxel.dvh",
    "SimpleITK",
    "scipy.fft",
)


def warm_up() -> None:
    import importlib

    for name in WARM_MODULES:
        with suppress(ImportError):
            importlib.import_module(name)


def warm(address: str) -> None:
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.run(warm_up)


@contextmanager
def local_cluster(n_workers: int) -> Iterator[str]:
    """Worker processes as ``run_cohort`` starts them (same environment), warmed up."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ": dict(WORKER_ENVIRON)}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
    with cluster:
        warm(cluster.scheduler_address)
        yield cluster.scheduler_address


@contextmanager
def simulated_nodes(nodes: int, workers_per_node: int) -> Iterator[str]:
    """A scheduler and ``nodes`` worker programs, separate processes on loopback TCP."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    python = sys.executable
    procs: list[subprocess.Popen[bytes]] = []
    environ = dict(os.environ)
    environ["DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON"] = repr(dict(WORKER_ENVIRON))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": environ}
    try:
        procs.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "distributed.cli.dask_scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    address.rsplit(":", 1)[1],
                    "--no-dashboard",
                ],
                **quiet,  # type: ignore[call-overload]
            )
        )
        for _ in range(nodes):
            procs.append(
                subprocess.Popen(
                    [
                        python,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nworkers",
                        str(workers_per_node),
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    **quiet,  # type: ignore[call-overload]
                )
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(nodes * workers_per_node, timeout=120)
            client.run(warm_up)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 48
    cores = os.cpu_count() or 1
    many = int(argv[2]) if len(argv) > 2 else max(4, min(8, cores))
    many += many % 2  # two simulated nodes of equal size
    work = Path(tempfile.mkdtemp(prefix="netlm-bench-cohort-"))
    try:
        print(f"netlm cohort benchmark: {n} patients, {cores} CPU cores, grid {IMAGE_SHAPE}")
        start = time.perf_counter()
        cohort = generate_cohort(
            work / "cohort",
            n,
            seed=1,
            images=True,
            image_shape=IMAGE_SHAPE,
            voxel_mm=VOXEL_MM,
            modalities={"tare_glass": 1.0},
        )
        print(f"cohort generated in {time.perf_counter() - start:.1f} s")
        task, label = dose_task_under_test()
        print(f"dose task: {label}\n")

        def run(name: str, scheduler: str) -> float:
            """The best of ``REPEATS`` full runs (a fresh results folder each time)."""
            best = math.inf
            for repeat in range(REPEATS):
                out = work / "out" / f"{name}-{repeat}"
                seconds, summary = timed(
                    lambda out=out: run_cohort(  # type: ignore[misc]
                        cohort.manifest, task, out_dir=out, scheduler=scheduler
                    )
                )
                if summary.failures or summary.n_computed != n:
                    raise SystemExit(
                        f"{name}: {summary.failures[:1]}, {summary.n_computed} computed"
                    )
                best = min(best, seconds)
            return best

        rows: list[tuple[str, int, float]] = [("plain loop (no Dask)", 1, run("inline", "inline"))]
        for workers in sorted({1, 2, many}):
            with local_cluster(workers) as address:
                rows.append(
                    (f"local, {workers} worker processes", workers, run(f"w{workers}", address))
                )
        with simulated_nodes(2, many // 2) as address:
            rows.append(
                (f"simulated 2 nodes x {many // 2} workers (TCP)", many, run("nodes", address))
            )
        one = rows[1][2]  # 1 local worker
        print(f"{'layout':46} {'workers':>7} {'wall s':>8} {'patients/s':>11} {'speed-up':>9}")
        for name, workers, seconds in rows:
            print(
                f"{name:46} {workers:7d} {seconds:8.2f} {n / seconds:11.1f} {one / seconds:8.2f}x"
            )
        print(
            "(speed-up against 1 local worker; clusters started, imports warmed, before the clock)"
        )

        import tracemalloc

        from netlm.cohort.manifest import load_manifest
        from netlm.cohort.runner import run_patient

        entry = load_manifest(cohort.manifest).patients[0]
        kernel = None
        if task.shared is not None and (found := task.shared(entry)) is not None:
            kernel = found[1]()
        tracemalloc.start()
        run_patient(task, entry, None, kernel)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        declared = task.memory_bytes(entry) if task.memory_bytes is not None else None
        print(
            f"\npeak memory of one task (numpy arrays): {peak / 1e6:.0f} MB; declared "
            f"memory_bytes {declared / 1e6 if declared else math.nan:.0f} MB"
        )

        start_s, _ = timed(lambda: _start_stop(2))
        print(f"\nlocal cluster start + stop, 2 worker processes: {start_s:.2f} s")

        m = 5 * n
        trivial = CohortTask("trivial", ("case",), trivial_task)
        small = generate_cohort(work / "small", m, seed=2)
        loop_s, _ = timed(
            lambda: run_cohort(small.manifest, trivial, out_dir=work / "t1", scheduler="inline")
        )
        with local_cluster(1) as address:
            dask_s, _ = timed(
                lambda: run_cohort(small.manifest, trivial, out_dir=work / "t2", scheduler=address)
            )
        overhead_ms = (dask_s - loop_s) / m * 1000.0
        print(
            f"scheduler overhead, trivial task, {m} patients: loop {loop_s:.2f} s, "
            f"Dask 1 worker {dask_s:.2f} s -> {overhead_ms:.2f} ms per patient "
            f"(ratio {dask_s / loop_s:.1f}x the loop)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _start_stop(workers: int) -> None:
    with local_cluster(workers):
        pass


if __name__ == "__main__":  # worker processes re-import this module: keep the guard
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(sys.argv)
