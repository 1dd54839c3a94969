"""Independent labelling tasks run in this process, on a local Dask cluster or on a remote one.

Both dataset builds (2D slices of vertebrae, 3D cubes of volumes) write one file per task, so a
stopped build resumes by running only the tasks whose file is missing, on whatever scheduler
is at hand: a Dask distributed scheduler at ``tcp://host:8786`` (its workers must see the
output folder), a local cluster of one-thread worker processes, or this process.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

#: Threads of the BLAS and OpenMP pools in each worker: parallelism comes from the tasks.
ONE_THREAD = {variable: "1" for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def run_tasks(function: Callable, tasks: Sequence[tuple], *, scheduler: str | None = None,
              n_workers: int | None = None, progress: bool = True, weights: Sequence[int] | None = None,
              count: Callable[[object], int] = lambda result: 1, total: int | None = None, initial: int = 0,
              desc: str = "tasks", unit: str = "task") -> None:
    """Call ``function(*task)`` for every task, heaviest first, with a progress bar.

    Parameters
    ----------
    function : callable
        Writes one task's file; picklable (a module-level function) for Dask.
    tasks : sequence of tuple
        The arguments of each call.
    scheduler : str, optional
        ``"synchronous"`` (this process), a Dask scheduler address (``tcp://host:8786``), or
        None: a local cluster of ``n_workers`` one-thread processes (default: one per core).
    weights : sequence of int, optional
        Expected cost of each task: the heaviest are submitted first, which keeps the workers
        busy to the end.
    count : callable
        Units of progress a task's result stands for (samples, volumes); ``total`` and
        ``initial`` are the bar's end and start in those units (default: one per task).
    """
    from tqdm import tqdm

    order = sorted(range(len(tasks)), key=lambda i: -(weights[i] if weights is not None else 0))
    with tqdm(total=total if total is not None else initial + len(tasks), initial=initial, unit=unit, desc=desc,
              disable=not progress) as bar:
        if scheduler == "synchronous":
            for i in order:
                bar.update(count(function(*tasks[i])))
            return
        from dask.distributed import Client, LocalCluster, as_completed

        if scheduler is None:
            cluster = LocalCluster(n_workers=n_workers or os.cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=":0", env=ONE_THREAD)
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
        try:
            futures = [client.submit(function, *tasks[i], key=f"{desc}-{i}", pure=False) for i in order]
            for future in as_completed(futures):
                bar.update(count(future.result()))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
