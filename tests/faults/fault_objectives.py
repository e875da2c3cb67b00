"""Objectives for the fault-injection tests, imported by worker processes through PYTHONPATH."""

from __future__ import annotations

import os
import signal
import time

from torch import Tensor

from polyopt.objective import Evaluation
from polyopt_envs.zdt import ZDT1


class SlowZDT1(ZDT1):
    """ZDT1 that sleeps ``delay`` seconds per batch, so a test can hit a worker in the middle of a run (the
    values do not depend on the delay, so a run with none is the reference)."""

    def __init__(self, n_var: int = 4, delay: float = 0.0) -> None:
        super().__init__(n_var=n_var)
        self.delay = delay

    def evaluate(self, x: Tensor) -> Evaluation:
        if self.delay:
            time.sleep(self.delay)
        return super().evaluate(x)


class WorkerKiller(SlowZDT1):
    """Kills the process that evaluates it, at its ``after``-th batch: ``how="exit"`` calls ``os._exit(1)``
    (a library that aborts), ``how="kill"`` sends itself SIGKILL (the out-of-memory killer)."""

    def __init__(
        self, n_var: int = 4, delay: float = 0.0, how: str = "kill", after: int = 3
    ) -> None:
        super().__init__(n_var=n_var, delay=delay)
        self.how = how
        self.after = after
        self.batches = 0

    def evaluate(self, x: Tensor) -> Evaluation:
        self.batches += 1
        if self.batches >= self.after:
            if self.how == "exit":
                os._exit(1)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(x)
