"""Desirability: three objectives, one number a single-objective optimizer can climb, in a study.

A reaction's yield (maximized), cost and impurity (minimized) depend on temperature, time and catalyst. Instead
of a Pareto front, the chemist says what is good enough and what is useless for each: Derringer-Suich
desirability (``polyopt.compose.desirability``) maps each objective to [0, 1] (1 at ``best``, 0 at ``worst``)
and combines them by a weighted geometric mean, so a recipe that fails any one requirement scores 0. A study
then compares three single-objective optimizers on it over two seeds, stored in SQLite in the working
directory (run it again and the finished runs are read back, not re-run).

Run: python examples/desirability_study.py
"""

from __future__ import annotations

import torch

import polyopt
from polyopt.compose import desirability
from polyopt.study import Study


@polyopt.objective(
    bounds=([60.0, 10.0, 0.5], [100.0, 60.0, 3.0]),  # temperature (C), time (min), catalyst (%)
    n_objectives=3,
    directions=["maximize", "minimize", "minimize"],
    name="reaction",
)
def reaction(x: torch.Tensor) -> torch.Tensor:
    """``n x 3`` recipes in, ``n x 3`` (yield %, cost per kg, impurity %) out."""
    temperature, time, catalyst = x.unbind(-1)
    yield_ = (
        96.0
        - 0.02 * (temperature - 88.0) ** 2
        - 0.01 * (time - 42.0) ** 2
        - 4.0 * (catalyst - 2.2) ** 2
    )
    cost = 4.0 + 0.12 * time + 5.0 * catalyst + 0.05 * (temperature - 60.0)
    impurity = 0.4 + 0.0015 * (temperature - 60.0) ** 2 + 0.02 * time
    return torch.stack([yield_, cost, impurity], dim=-1)


# 1 is ideal, 0 unacceptable; the yield counts twice, and the cost falls off steeply (shape 2).
DESIRABILITY = desirability(
    reaction,
    best=[95.0, 8.0, 0.6],
    worst=[75.0, 25.0, 3.0],
    weights=[2.0, 1.0, 1.0],
    shape=[1.0, 2.0, 1.0],
)


def main() -> None:
    study = Study(
        "desirability",
        optimizers={
            "ego": {"n_initial": 8},
            "cma-es": {"pop_size": 8},
            "random-search": {"batch_size": 8},
        },
        problems=["desirability_study:DESIRABILITY"],  # this file's folder is on sys.path
        seeds=2,
        budget={"evaluations": 24},
        metrics=["best"],
    )
    study.run(quiet=True, report=False)

    from polyopt.study.storage import Storage

    storage = Storage(study.storage_url)
    runs = storage.runs(storage.study_id(study.name))
    width = max(len(run.key) for run in runs)
    print(f"{'run':{width}s}  desirability  yield  cost  impurity  recipe (T, t, c)")
    for run in runs:
        if run.status != "done" or not run.result:
            raise SystemExit(f"run {run.key} is {run.status}: {run.error}")
        x = torch.tensor(run.result["x"], dtype=torch.float64)[:1]
        (value,) = run.result["f"][0]
        yield_, cost, impurity = reaction(x).f[0].tolist()
        recipe = ", ".join(f"{v:.1f}" for v in x[0].tolist())
        values = f"{value:12.3f}  {yield_:5.1f}  {cost:4.1f}  {impurity:8.2f}"
        print(f"{run.key:{width}s}  {values}  ({recipe})")
    storage.close()


if __name__ == "__main__":
    main()
