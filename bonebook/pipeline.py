"""What every step of the reproduction shares: its log, the machine it ran on, its time budget."""

from __future__ import annotations

import os
import time
from pathlib import Path


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
