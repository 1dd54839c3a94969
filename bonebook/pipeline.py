"""What every step of the reproduction shares, in both routes: its log, the machine it ran on,
the key that says whether it is up to date, the record of its runs, the provenance of a results
folder, and its time budget."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

from bonelib._files import write_json


def log(message: str) -> None:
    """Print ``message`` with the time of day, at once."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict:
    """Host, system, CPU, cores, GPU (``nvidia-smi -L``) and Python of this machine."""
    import platform
    import subprocess

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else None
    try:
        gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.strip() or None
    except OSError:
        gpu = None
    return {"host": platform.node(), "system": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "gpu": gpu,
            "python": platform.python_version()}


def step_key(version: int, code: dict[str, int], settings: object, upstream: list[Path]) -> str:
    """Hash of what a step's outputs depend on: its own version, the library versions it rests
    on (:mod:`bonelib.versions`), the settings it reads and the bytes of its upstream files
    (a missing one counts as such)."""
    digest = hashlib.sha256(repr((version, sorted(code.items()), settings)).encode())
    for path in upstream:
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()[:16]


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def run_step(name: str, steps_file: Path, action: Callable[[], None], key: Callable[[], str | None],
             force: bool = False) -> bool:
    """Run ``action`` unless the step's recorded key is its ``key()`` now (None: always run);
    then record in ``steps_file`` its key, wall time, finish time and machine. Whether it ran."""
    if not force and (current := key()) is not None and _read(steps_file).get(name, {}).get("key") == current:
        log(f"step {name}: up to date")
        return False
    log(f"step {name}")
    started = time.time()
    action()
    steps = _read(steps_file)
    steps[name] = {"key": key(), "seconds": round(time.time() - started, 1),
                   "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine()}
    steps_file.parent.mkdir(parents=True, exist_ok=True)
    write_json(steps_file, steps)
    return True


def write_provenance(folder: Path, scale: str, code: dict[str, int], **extra) -> None:
    """``folder/provenance.json``: revision (and whether bonelib or bonebook had uncommitted
    changes), the versions of the code, the packages, and each step of ``folder/steps.json``."""
    import subprocess

    from bonelib.versions import package_versions

    root = Path(__file__).resolve().parent.parent
    revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=root).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "bonelib", "bonebook"], capture_output=True,
                                text=True, cwd=root).stdout.strip())
    packages = package_versions(("bonelib", "numpy", "scipy", "keras", "tensorflow-cpu", "zarr", "dask", "cvxopt"))
    write_json(folder / "provenance.json", {
        "scale": scale, "git_revision": revision, "uncommitted_bonelib_changes": dirty,
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "code": code, **extra,
        "versions": packages, "steps": _read(folder / "steps.json")})


class Deadline:
    """Stop training at a wall-clock deadline (epoch granularity); None: never."""

    def __init__(self, seconds: float | None):
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - time.monotonic()

    def callback(self):
        import keras

        deadline = self

        class StopAtDeadline(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if deadline.left() <= 0:
                    self.model.stop_training = True

        return StopAtDeadline()
