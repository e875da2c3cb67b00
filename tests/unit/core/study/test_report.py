"""Reports: HTML with embedded plots, CSV and JSON exports, medians/IQR and rank-sum verdicts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from polyopt.study import Study
from polyopt.study.executors import run_study


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    study = Study(
        "rep",
        optimizers={"random-search": {"batch_size": 8}, "sobol-search": {"batch_size": 8}},
        problems=[
            {"name": "zdt1", "options": {"n_var": 3}},
            {"name": "sphere", "options": {"dim": 2}},
        ],
        seeds=3,
        budget=48,
        metrics=["hv", "igd", "best"],
        base_dir=tmp,
    )
    path = run_study(study, quiet=True)
    assert path is not None
    return path


def test_html_embeds_a_plot_per_figure_and_a_table_per_problem(report: Path) -> None:
    page = report.read_text()
    assert report.name == "index.html"
    assert (
        page.count("data:image/png;base64,") == 3
    )  # zdt1: convergence + fronts; sphere: convergence
    assert page.count("<table>") == 2
    for text in (
        "zdt1",
        "sphere",
        "random-search",
        "sobol-search",
        "hypervolume",
        "IGD",
        "best value",
    ):
        assert text in page


def test_summary_csv_has_median_iqr_and_a_verdict_per_optimizer(report: Path) -> None:
    with open(report.parent / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    hv = [r for r in rows if r["problem"] == "zdt1" and r["metric"] == "hv"]
    assert {r["optimizer"] for r in hv} == {"random-search", "sobol-search"}
    assert sorted(r["verdict"] for r in hv)[0] == "best"
    assert all(r["runs_done"] == "3" for r in hv)
    best = [r for r in rows if r["problem"] == "sphere" and r["metric"] == "best"]
    winner = next(r for r in best if r["verdict"] == "best")
    assert float(winner["median"]) == min(
        float(r["median"]) for r in best
    )  # minimization: lower wins


def test_json_and_run_exports_cover_every_run(report: Path) -> None:
    data = json.loads((report.parent / "report.json").read_text())
    assert len(data["runs"]) == 12 and all(r["status"] == "done" for r in data["runs"])
    assert {p["problem"] for p in data["problems"]} == {"zdt1", "sphere"}
    with open(report.parent / "runs.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 12
    with open(report.parent / "metrics.csv") as fh:
        assert {r["metric"] for r in csv.DictReader(fh)} == {"hv", "igd", "best"}


def test_the_header_names_each_optimizers_own_budget_beside_the_studys() -> None:
    from polyopt.study.report import budget_text

    study = Study(
        "b",
        optimizers=[
            "random-search",
            {"name": "sobol-search", "label": "Sobol", "budget": {"evaluations": 30}},
        ],
        problems=["zdt1"],
        budget=5000,
    )
    assert budget_text(study) == "5,000 evaluations (Sobol: 30 evaluations)"
    assert (
        budget_text(Study("c", optimizers=["random-search"], problems=["zdt1"], budget=64))
        == "64 evaluations"
    )


def test_the_evaluation_axis_turns_logarithmic_when_budgets_differ_twentyfold() -> None:
    import numpy as np

    from polyopt.study.plots import convergence_png, log_evaluation_axis

    def curve(end: int) -> dict[str, np.ndarray]:
        x = np.linspace(10, end, 5)
        return {"x": x, "median": np.log(x), "q25": np.log(x) - 0.1, "q75": np.log(x) + 0.1}

    mixed = {"NSGA-II": curve(5000), "qLogNEHVI": curve(30)}
    assert log_evaluation_axis(mixed) and not log_evaluation_axis(
        {"a": curve(5000), "b": curve(4000)}
    )
    assert convergence_png(mixed, {"NSGA-II": "C0", "qLogNEHVI": "C1"}, "hv", "t").startswith(
        b"\x89PNG"
    )
