"""Hyperparameter optimization of RL runs: a run is an objective.

``run_objective`` turns "train Envelope Q-learning on Deep Sea Treasure with this config" into an Objective
whose point is (learning rate, exploration) and whose values are the trained policy's hypervolume (the MORL
evaluation protocol's, maximized) and the run's wall time (minimized). qLogNEHVI then searches that
two-objective trade-off in a study: stored in SQLite (in the working directory), resumable, and every inner
run seeded from its point, so a resumed study re-makes exactly the runs it lost.

Budgets are tiny so the whole example takes well under a minute on 2 cores: 8 runs of 600 environment steps
with a small network. For a real search, give each run 10^5 steps, the default network, the protocol's 100
preferences x 5 episodes, and more evaluations.

Run: python examples/tune_envelope.py
"""

from __future__ import annotations

import torch

from polyopt.compose import run_objective
from polyopt.study import Study

# The study imports this as "tune_envelope:TUNING" (this file's folder is on sys.path when it runs).
TUNING = run_objective(
    "envelope",
    "deep-sea-treasure",
    {"env_steps": 600},  # every inner run's budget
    space={
        "learning_rate": (1e-4, 1e-2, "log"),  # searched as log10
        "initial_epsilon": (0.01, 0.5),  # exploration rate when learning starts
    },
    metrics=["hypervolume", "wall_time"],  # maximized, minimized
    config={  # fixed for every run: small enough for an example
        "hidden_sizes": [32, 32],
        "batch_size": 32,
        "learning_starts": 64,
        "target_update_every": 20,
        "eval_weights": 10,
        "eval_episodes": 1,
    },
    problem_options={"num_envs": 8},
    ref_point=[0.0, 30.0],  # HV of (hypervolume, seconds) for qLogNEHVI and the report
)


def main() -> None:
    study = Study(
        "tune-envelope",
        optimizers={"qlognehvi": {"n_initial": 4, "num_restarts": 4, "raw_samples": 128}},
        problems=["tune_envelope:TUNING"],
        seeds=1,
        budget={"evaluations": 8},
        metrics=["hv"],
        checkpoint_every=1,  # a killed worker loses at most one inner run
    )
    study.run(quiet=True, report=False)

    from polyopt.study.storage import Storage

    storage = Storage(study.storage_url)
    (run,) = storage.runs(storage.study_id(study.name))
    batch = storage.evaluations(run.id)
    assert batch is not None, f"run {run.key} stored no evaluations ({run.status}: {run.error})"
    print(f"{run.key}: {run.status}, {len(batch.f)} runs of Envelope evaluated")
    print("learning_rate  initial_epsilon  hypervolume  seconds")
    for x, f in zip(batch.x, batch.f, strict=True):
        (config,) = TUNING.configs(torch.as_tensor(x).reshape(1, -1))  # type: ignore[attr-defined]  # a run objective
        hv, seconds = -f[0], f[1]  # stored in minimization form
        print(
            f"{config['learning_rate']:13.2e}  {config['initial_epsilon']:15.3f}  {hv:11.2f}  {seconds:7.2f}"
        )
    front = run.result["f"] if run.result else []
    print(f"non-dominated (hypervolume, seconds): {front}")
    storage.close()


if __name__ == "__main__":
    main()
