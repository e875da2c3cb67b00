"""A run objective for the fault-injection tests (imported by `polyopt study` processes through PYTHONPATH):
tuning Envelope Q-learning on Deep Sea Treasure as examples/tune_envelope.py does, with tiny runs and only the
deterministic metrics (hypervolume and IGD of the evaluated front; no wall time), so a study of it resumed
after a kill must store exactly what an uninterrupted one does."""

from __future__ import annotations

import time

from torch import Tensor

from polyopt.compose import run_objective
from polyopt.objective import Evaluation, Objective


class EnvelopeTuning(Objective):
    """Envelope's learning rate and initial exploration -> (hypervolume, IGD) of a 160-step run; ``delay``
    seconds of sleep per batch give a test time to kill the worker between runs too (the values do not
    depend on it)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.run = run_objective(
            "envelope",
            "deep-sea-treasure",
            {"env_steps": 160},
            space={
                "learning_rate": (1e-4, 1e-2, "log"),
                "initial_epsilon": (0.01, 0.5),
            },
            metrics=["hypervolume", "igd"],
            config={
                "hidden_sizes": [16],
                "batch_size": 16,
                "buffer_size": 2_000,
                "learning_starts": 64,
                "target_update_every": 10,
                "eval_weights": 6,
                "eval_episodes": 1,
            },
            problem_options={"num_envs": 8},
            ref_point=[0.0, 100.0],
        )
        self.space, self.name = self.run.space, "envelope-tuning"
        self.n_objectives, self.directions = self.run.n_objectives, self.run.directions
        self.ref_point = self.run.ref_point
        self.delay = delay

    def evaluate(self, x: Tensor) -> Evaluation:
        if self.delay:
            time.sleep(self.delay)
        return self.run.evaluate(x)
