"""The task runner both dataset builds share (bonelib.tasks): in this process, on a local
cluster, on a scheduler by address, heaviest first, resumable by the files it writes."""

from pathlib import Path

import pytest

from bonelib.tasks import run_tasks


def write(folder: str, name: str, value: int) -> int:
    (Path(folder) / f"{name}.txt").write_text(str(value * value))
    return value


@pytest.mark.parametrize("where", ["synchronous", "local", "address"])
def test_every_task_writes_its_file_wherever_it_runs(tmp_path, where):
    tasks = [(str(tmp_path), f"t{v}", v) for v in range(5)]
    if where == "address":
        from dask.distributed import LocalCluster

        with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
            run_tasks(write, tasks, scheduler=cluster.scheduler_address, progress=False)
    else:
        run_tasks(write, tasks, scheduler="synchronous" if where == "synchronous" else None, n_workers=1,
                  progress=False)
    assert sorted(p.read_text() for p in tmp_path.glob("*.txt")) == sorted(str(v * v) for v in range(5))


def test_the_heaviest_tasks_run_first_and_progress_counts_their_units(tmp_path, capsys):
    order = []
    run_tasks(lambda v: order.append(v) or v, [(1,), (3,), (2,)], scheduler="synchronous", weights=[1, 3, 2],
              count=lambda v: v, total=10, initial=4, desc="labelling", unit="sample")
    assert order == [3, 2, 1]
    assert "10/10" in capsys.readouterr().err  # 4 done before, 6 by these tasks


def test_the_cube_build_runs_its_volumes_on_the_scheduler_it_is_given(tmp_path, monkeypatch):
    from bonelib.cubes import dataset as cube_dataset

    seen = {}
    monkeypatch.setattr(cube_dataset, "run_tasks", lambda function, tasks, **options: seen.update(
        function=function, tasks=tasks, **options))
    monkeypatch.setattr(cube_dataset, "load_rows", lambda out, kind="tiles": [{"volume": "v"}])
    selection = cube_dataset.volumes(real=2, synthetic=0)
    cube_dataset.build(tmp_path, selection, scheduler="tcp://somewhere:8786", progress=False)
    assert seen["function"] is cube_dataset.write_volume and seen["scheduler"] == "tcp://somewhere:8786"
    assert [task[0].name for task in seen["tasks"]] == [v.name for v in selection]
    (tmp_path / "volumes" / f"{selection[0].name}.npz").write_bytes(b"")  # written: skipped on resume
    cube_dataset.build(tmp_path, selection, workers=1, progress=False)
    assert seen["scheduler"] == "synchronous" and [task[0].name for task in seen["tasks"]] == [selection[1].name]
