"""Reports: HTML with embedded plots, CSV and JSON exports, medians/IQR and rank-sum verdicts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from polyopt.study import Study
from polyopt.study.executors import run_study
from polyopt_plugins.search.random import RandomSearch


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


# --------------------------------------------------------------------------- statistics that do not mislead


def test_the_rank_test_is_exact_for_small_samples() -> None:
    import numpy as np

    from polyopt.study.analysis import min_p_value, rank_test

    apart = rank_test(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert apart == pytest.approx(0.1)  # 2 of the 20 splits: never below 0.05 with 3 runs against 3
    assert min_p_value(3, 3) == pytest.approx(0.1) and min_p_value(4, 4) == pytest.approx(2 / 70)
    assert rank_test(np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7, 8])) == pytest.approx(2 / 70)
    assert rank_test(np.zeros(3), np.zeros(3)) == pytest.approx(1.0)  # ties: still exact
    assert rank_test(np.array([1.0]), np.array([2.0, 3.0])) == pytest.approx(2 / 3)


def test_the_exact_rank_test_agrees_with_scipys_permutation_method() -> None:
    import numpy as np
    from scipy.stats import PermutationMethod, mannwhitneyu

    from polyopt.study.analysis import rank_test

    rng = np.random.default_rng(0)
    for n_a, n_b in [(3, 3), (4, 4), (2, 5), (6, 4), (5, 5)]:
        for _ in range(5):
            a = rng.integers(0, 4, n_a).astype(float)  # small integers: many ties
            b = rng.integers(1, 5, n_b).astype(float)
            exact = mannwhitneyu(a, b, method=PermutationMethod(n_resamples=np.inf)).pvalue
            assert rank_test(a, b) == pytest.approx(exact, abs=1e-12)


def test_three_seeds_against_three_are_never_called_worse_and_the_report_says_why(
    report: Path,
) -> None:
    with open(report.parent / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["verdict"] for r in rows} <= {"best", "n.s.", "n/a"}
    assert all(float(r["p_value"]) >= 0.1 - 1e-12 for r in rows if r["p_value"])
    assert "the smallest possible p is 0.1, so no difference can reach p &lt; 0.05" in (
        report.read_text()
    )


class LastBatch(RandomSearch):
    """Returns only its last batch, as an evolutionary algorithm returns its last population."""

    def tell(self, x, evaluation) -> None:  # type: ignore[no-untyped-def]
        super().tell(x, evaluation)
        self.last = (x, evaluation)

    def result(self):  # type: ignore[no-untyped-def]
        return self.make_result(*self.last)


def test_budgets_get_their_own_tables_and_fronts_say_what_they_are(tmp_path: Path) -> None:
    study = Study(
        "groups",
        optimizers=[
            {"name": "random-search", "label": "archive", "config": {"batch_size": 8}},
            {"name": f"{__name__}:LastBatch", "label": "last batch", "config": {"batch_size": 8}},
            {"name": "sobol-search", "label": "short", "budget": {"evaluations": 16}},
        ],
        problems=[{"name": "zdt1", "options": {"n_var": 3}}],
        seeds=2,
        budget=64,
        metrics=["hv"],
        base_dir=tmp_path,
    )
    page = run_study(study, quiet=True)
    assert page is not None
    html = page.read_text()
    assert html.count("<table>") == 2 and "budget: 16 evaluations" in html
    with open(page.parent / "summary.csv") as fh:
        rows = {r["optimizer"]: r for r in csv.DictReader(fh)}
    assert rows["archive"]["budget"] == rows["last batch"]["budget"] == "64 evaluations"
    assert rows["short"]["budget"] == "16 evaluations"
    assert rows["short"]["verdict"] == "n/a"  # alone in its table: compared with nobody
    assert rows["archive"]["front_source"] == "archive"
    assert rows["last batch"]["front_source"] == "population"


def test_labels_with_dollar_signs_are_drawn_as_written(tmp_path: Path) -> None:
    study = Study(
        "dollars",
        optimizers=[
            {"name": "random-search", "label": "$5 search", "config": {"batch_size": 8}},
            {"name": "sobol-search", "label": r"x$^{2}$ and $\frac", "config": {"batch_size": 8}},
        ],
        problems=[{"name": "zdt1", "label": "$zdt1", "options": {"n_var": 3}}],
        seeds=2,
        budget=32,
        metrics=["hv"],
        base_dir=tmp_path,
    )
    page = run_study(study, quiet=True)
    assert page is not None and "$5 search" in page.read_text()


def test_every_front_panel_shares_one_range_that_keeps_the_true_front_in_view() -> None:
    import numpy as np

    from polyopt.study.plots import front_limits, fronts_png

    true_front = np.stack([np.linspace(0, 1, 50), 1 - np.linspace(0, 1, 50)], axis=1)
    far = np.array([[0.5, 40.0], [30.0, 0.2]])
    near = np.array([[0.2, 0.9], [0.8, 0.3]])
    limits = front_limits({"far": far, "near": near}, true_front, np.array([1.1, 1.1]))
    assert limits is not None
    assert (limits[0] <= 0).all() and (limits[1] >= 1).all()  # the true front fits
    assert (limits[1] < 1.3).all()  # points beyond the reference point do not stretch the axes
    png = fronts_png(
        {"far": far, "near": near},
        {"far": "C0", "near": "C1"},
        true_front=true_front,
        title="t",
        limits=limits,
    )
    assert png.startswith(b"\x89PNG")
