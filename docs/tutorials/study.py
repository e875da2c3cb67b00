# %% [markdown]
# # A multi-objective study: stored, resumable, reported
#
# One run says little: a different seed gives a different front. A **study** runs every optimizer on
# every problem with several seeds, stores each run (SQLite by default, PostgreSQL for several machines),
# resumes where it stopped, and writes a report that compares optimizers of equal budget with an exact
# rank test. Here: NSGA-II against random search on ZDT1 and a two-objective DTLZ2, four seeds each.

# %%
import base64
import csv
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

study_file = Path("study.toml")
study_file.write_text(
    """
[study]
name = "first-study"
seeds = 4                             # seeds 0, 1, 2, 3
budget = { evaluations = 1000 }       # for every run

[metrics]
record = ["hv", "igd"]                # any registered metric: `polyopt list metrics`

[[optimizers]]
name = "nsga2"
label = "NSGA-II"
config = { pop_size = 20 }

[[optimizers]]
name = "random-search"
config = { batch_size = 20 }

[[problems]]
name = "zdt1"
options = { n_var = 10 }

[[problems]]
name = "dtlz2"
options = { n_obj = 2, n_var = 6 }
"""
)


def polyopt_cli(*args):
    """Run `polyopt ARGS` as from a shell and show what it prints."""
    proc = subprocess.run([sys.executable, "-m", "polyopt", *args], capture_output=True, text=True)
    shown = " ".join(
        re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", arg) for arg in args
    )  # no passwords
    print(f"$ polyopt {shown}  (exit {proc.returncode})")
    print(
        proc.stdout.rstrip().replace(f"{Path.cwd()}/", "")
    )  # paths relative to the study's folder
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)


polyopt_cli("study", "validate", "study.toml")

# %% [markdown]
# Every key of the file, its default and meaning: [the study file](../study-file.md). `validate` checks
# each name, key and pairing (an optimizer that cannot take a problem's space, a metric a problem cannot
# give) without running anything.
#
# `run` executes the grid: `--workers 2` starts two worker processes on this machine. Each run records its
# resolved config, its metrics after every step, and checkpoints.

# %%
polyopt_cli("study", "run", "study.toml", "--workers", "2", "--quiet")
polyopt_cli("study", "status", "study.toml")

# %% [markdown]
# The storage is `first-study.polyopt/study.sqlite` beside the study file. Running the same command
# again does nothing (every run is done); after a crash or Ctrl-C, `polyopt study resume study.toml`
# continues each unfinished run from its last checkpoint, and a worker that died has its run taken over.
#
# ## The report
#
# The report folder holds `index.html` (plots and tables), `runs.csv` (one row per run), `metrics.csv`
# (every recorded step) and `summary.csv` / `report.json` (the tables as data).

# %%
report = Path("first-study.polyopt/report")
print(sorted(p.name for p in report.iterdir()))
with open(report / "runs.csv") as fh:
    rows = list(csv.DictReader(fh))
print(f"{len(rows)} runs; the first three:")
for row in rows[:3]:
    print({k: row[k] for k in ("run", "status", "n_evaluations", "hv", "igd")})

# %% [markdown]
# The HTML page shows, for each problem, the metric over evaluations (median and spread across seeds)
# and the final fronts of each optimizer:

# %%
page = (report / "index.html").read_text()
for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', page)[:2]:
    image = plt.imread(io.BytesIO(base64.b64decode(data)))
    height, width = image.shape[:2]
    fig = plt.figure(figsize=(width / 96, height / 96), dpi=96)
    fig.figimage(image)
    print(alt)

# %% [markdown]
# Then a table per budget: the median and interquartile range of each metric, and the p-value of a
# two-sided rank-sum test of each optimizer against the best one. The test is **exact** for small
# samples, so with too few seeds nothing can be significant, and the table says so. The same tables are
# in `summary.csv` and `report.json`:

# %%
data = json.loads((report / "report.json").read_text())
for problem in data["problems"]:
    for table in problem["tables"]:
        print(f"{problem['problem']}, {table['budget']}:")
        for row in table["rows"]:
            hv = row["metrics"]["hv"]
            p = "" if hv["p_value"] is None else f"p = {hv['p_value']:.3f}"
            print(
                f"  {row['optimizer']:14s} HV median {hv['median']:.4f} (IQR {hv['iqr']:.4f})  {hv['verdict']:5s} {p}"
            )

# %% [markdown]
# The page explains its own tables; this is its "How to read it" section:

# %%
section = page[page.index("How to read it") :]
section = section[: section.index("<h2", 10)] if "<h2" in section[10:] else section
print(html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))).strip())

# %% [markdown]
# ## In Python
#
# The same study, from Python (`polyopt.study.load_study` reads a file; `Study(...)` takes the same
# fields as arguments):

# %%
from polyopt.study import load_study

study = load_study("study.toml")
print(study.grid)
print("report:", study.report().relative_to(Path.cwd()))  # written again from the stored runs

# %% [markdown]
# ## Many machines: PostgreSQL and Ray
#
# Nothing above is tied to one machine. With a PostgreSQL URL as the storage (`pip install
# "polyopt[postgres]"`), workers on any number of machines join the same study: each leases one run at a
# time, renews its lease with a heartbeat, and a run whose worker disappears is taken over once its lease
# is stale (`stale_after_seconds`).
#
# ```bash
# # on every machine (the URL can also be [study] storage = "..." in the file)
# polyopt study run study.toml --storage postgresql+psycopg://user:password@db-host/polyopt --workers 8
# ```
#
# With Ray (`pip install "polyopt[ray]"`), one command spreads the runs over a cluster (`--ray-address
# auto` joins a running one; without it, `ray.init()` starts one on this machine). Each run is a Ray task
# asking for the `resources` of its optimizer entry, so runs that ask for GPUs (`resources = { num_gpus =
# 1 }`) get them:
#
# ```bash
# polyopt study run study.toml --storage postgresql+psycopg://... --executor ray --ray-address auto
# ```
#
# Both ran when this site was built, on a small study: Ray on the build machine (`ray.init()`), storing in
# the PostgreSQL server that CI starts for its own tests, whose URL `.ci/run` puts in
# `POLYOPT_TEST_POSTGRES_URL`. A build without that variable (your `make docs`, unless you set it) stores in
# SQLite instead, and the output below says which one it used.

# %%
import os

Path("on-ray.toml").write_text(
    """
[study]
name = "on-ray"
seeds = 2
budget = { evaluations = 500 }

[metrics]
record = ["hv"]

[[optimizers]]
name = "nsga2"
config = { pop_size = 20 }
resources = { num_cpus = 1 }          # what each run asks Ray for; num_gpus too

[[problems]]
name = "zdt1"
options = { n_var = 10 }

[[problems]]
name = "dtlz2"
options = { n_obj = 2, n_var = 6 }
"""
)
database = os.environ.get(
    "POLYOPT_TEST_POSTGRES_URL"
)  # CI's server (.ci/run), if this build has one
storage = database or "sqlite:///on-ray.sqlite"
print(
    "storage:", "PostgreSQL" if database else "SQLite (no POLYOPT_TEST_POSTGRES_URL in this build)"
)
polyopt_cli("study", "run", "on-ray.toml", "--storage", storage, "--executor", "ray", "--quiet")
polyopt_cli("study", "status", "on-ray.toml", "--storage", storage)

# %% [markdown]
# `run` wrote the report at its end (the path above); it reads only the storage, so `polyopt study report
# on-ray.toml --storage URL` writes it again from any machine that reaches the database. `delete` removes
# the study from the database (runs, evaluations, metrics and checkpoints; the report stays):

# %%
polyopt_cli("study", "delete", "on-ray.toml", "--storage", storage, "--yes")
