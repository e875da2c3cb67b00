# %% [markdown]
# # Writing a plugin
#
# Everything in polyopt that has a name — optimizers, objectives, environments, metrics and the
# components optimizers are assembled from — comes from a plugin, and polyopt's own families register
# theirs exactly as a third party does: through a Python entry point in the group `polyopt`. This page
# lists the extension points, installs the template plugin from `examples/plugin-template`, uses what it
# adds, writes a new plugin from scratch, and checks both with the conformance kit.
#
# ## The extension points
#
# Each registry kind has a protocol (in `polyopt` for the three contracts, in `polyopt.components` for
# the rest) and a conformance class in `polyopt.testing` that a plugin's tests subclass. The table is
# computed from the registry when this page is built:

# %%
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polyopt
from polyopt.testing import CONTRACTS

registry = polyopt.registry()
print(f"{'kind':18s} {'builtins':>8s}  {'conformance class':28s} declared by")
for kind in registry.kinds():
    info = registry.kind(kind)
    print(
        f"{kind:18s} {len(list(registry.entries(kind))):8d}  {CONTRACTS[kind].__name__:28s} {info.plugin}"
    )

# %% [markdown]
# Each kind's protocol, and every builtin of it, is in the [registry reference](../reference/registry/index.md);
# the protocols' data types are in the [`polyopt.components` reference](../reference/api/components.md).
#
# ## The template plugin
#
# `examples/plugin-template` is a complete plugin distribution, `polyopt-hello`, with one entry of five
# kinds (an optimizer, an objective, a mutation operator, an advantage estimator and an acquisition
# function), each in a module of at most 30 lines. What makes it a plugin is one entry point in its
# `pyproject.toml`, and a module that registers names with lazy `"module:attr"` targets:

# %%
root = Path(
    os.environ.get("POLYOPT_DOCS_ROOT", Path.cwd())
)  # the repository (the site build sets it)
template = root / "examples" / "plugin-template"
pyproject = (template / "pyproject.toml").read_text()
print(pyproject[pyproject.index("[project.entry-points.polyopt]") :].split("\n\n")[0])
print()
print((template / "src" / "polyopt_hello" / "plugin.py").read_text())

# %% [markdown]
# `pip install -e examples/plugin-template` installs it. This page does the equivalent without touching
# the environment it runs in: it writes the distribution's metadata (`*.dist-info` with its
# `entry_points.txt`, which is what pip writes) into a folder on `PYTHONPATH`, where polyopt's discovery
# finds it like any installed distribution. The site is built with `POLYOPT_DISABLE_PLUGIN_AUTOLOAD=1` (only
# polyopt's own plugins), so `POLYOPT_PLUGINS` names the third-party plugins to load.

# %%
installed = Path("site-packages")


def install(distribution, version, entry_points):
    """Write the metadata pip would write for a distribution whose code is already importable."""
    info = installed / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    lines = [f"{name} = {module}" for name, module in entry_points.items()]
    (info / "entry_points.txt").write_text("[polyopt]\n" + "\n".join(lines) + "\n")


install("polyopt-hello", "0.1.0", {"hello": "polyopt_hello.plugin"})
paths = [str(installed.resolve()), str(template / "src"), str(Path.cwd())]
env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), POLYOPT_PLUGINS="hello,acme")


def shell(*args):
    """Run a command as from a shell with the plugins installed, and show what it prints."""
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    shown = " ".join("python" if a == sys.executable else a for a in args)
    shown = shown.replace("python -m polyopt", "polyopt").replace("python -m pytest", "pytest")
    print(f"$ {shown}  (exit {proc.returncode})")
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])


shell(sys.executable, "-m", "polyopt", "info", "hello.hill-climb")

# %% [markdown]
# `polyopt info` names the plugin and the distribution the entry came from (`polyopt plugins` lists every
# plugin with its status), and reads the optimizer's `Config` dataclass and its field docstrings. The
# names carry the plugin's prefix (`hello.`): polyopt refuses a third-party name without it, so two
# distributions never collide, and builtins load first, so no plugin can shadow one.

# %% [markdown]
# The optimizer and the objective work by name wherever names do (`optimize`, study files, the CLI), and
# the components plug into builtin optimizers through their config: `mutation="hello.gauss"` in any
# evolutionary algorithm, `acquisition="hello.mean"` in Bayesian optimization, `advantage="hello.centered"`
# in the policy-gradient trainers.

# %%
Path("use_hello.py").write_text(
    textwrap.dedent(
        """
        import polyopt

        climb = polyopt.optimize("hello.hill-climb", "hello.bowl", budget=400, seed=0, verbose=False)
        print("hello.hill-climb on hello.bowl:", round(climb.f_best, 5), "(optimum 0)")
        front = polyopt.optimize("nsga2", "zdt1", budget=1_000, seed=0, pop_size=20, verbose=False,
                                 mutation="hello.gauss", mutation_options={"sigma": 0.05})
        print("nsga2 with hello.gauss on zdt1:", len(front.f), "non-dominated points")
        bo = polyopt.optimize("ego", "branin", budget=12, seed=0, n_initial=6, num_restarts=2,
                              raw_samples=64, acquisition="hello.mean", verbose=False)
        print("ego with hello.mean on branin:", round(bo.f_best, 3))
        """
    )
)
shell(sys.executable, "use_hello.py")

# %% [markdown]
# ## A plugin of your own
#
# A new distribution `acme-polyopt` with plugin name `acme`, adding two things the template does not
# have: an objective with two objectives and a constraint, and a **metric** (a quality indicator a study
# can record with `record = ["acme.extent"]`). A metric is a function of the minimization-form objective
# values `f` (`n x m`); the name of its second parameter, if any, says what else it needs (`ref_point`,
# `front` or `weights`). Heavy imports stay out of `plugin.py`: targets are imported on first use.

# %%
package = Path("acme_polyopt")
package.mkdir(exist_ok=True)
(package / "__init__.py").write_text('"""polyopt plugin acme."""\n')
(package / "plugin.py").write_text(
    textwrap.dedent(
        '''
        """The entry point polyopt loads: it only names things (targets are imported on first use)."""

        import polyopt


        @polyopt.hookimpl
        def polyopt_register(registry: polyopt.Registry) -> None:
            registry.add("objective", "acme.beam", "acme_polyopt.beam:Beam",
                         summary="cantilever beam: mass vs deflection, stress below yield")
            registry.add("metric", "acme.extent", "acme_polyopt.extent:extent",
                         summary="diagonal of the front's bounding box (larger: wider front)")
        '''
    )
)
(package / "beam.py").write_text(
    textwrap.dedent(
        '''
        """A two-objective design problem with one constraint."""

        import torch

        import polyopt


        class Beam(polyopt.Objective):
            """A 1 m cantilever of width ``b`` and height ``h`` (m) under a tip load (N).

            Minimize its mass (kg) and its tip deflection (mm) with the bending stress below yield.

            Args:
                load: the tip load in newtons.
            """

            n_objectives = 2
            n_constraints = 1
            ref_point = (80.0, 25.0)

            def __init__(self, load: float = 2_000.0) -> None:
                if load <= 0:
                    raise polyopt.ConfigError(f"load={load!r}; expected a positive number of newtons")
                self.space = polyopt.Box([0.01, 0.02], [0.05, 0.20])
                self.load = float(load)

            def evaluate(self, x: torch.Tensor) -> polyopt.Evaluation:
                """``x: n x 2`` (width, height) -> ``f: n x 2``, ``g: n x 1``."""
                b, h = x[:, 0], x[:, 1]
                inertia = b * h**3 / 12
                mass = 7850.0 * b * h
                deflection = 1e3 * self.load / (3 * 200e9 * inertia)
                stress = self.load * (h / 2) / inertia
                return polyopt.Evaluation(
                    f=torch.stack([mass, deflection], dim=-1), g=(stress / 250e6 - 1).unsqueeze(-1)
                )
        '''
    )
)
(package / "extent.py").write_text(
    textwrap.dedent(
        '''
        """A metric: how wide a front is."""

        from torch import Tensor


        def extent(f: Tensor) -> float:
            """Diagonal of the bounding box of ``f`` (``n x m``); 0 for fewer than two points."""
            if len(f) < 2:
                return 0.0
            return float((f.amax(dim=0) - f.amin(dim=0)).norm())
        '''
    )
)
install("acme-polyopt", "0.1.0", {"acme": "acme_polyopt.plugin"})
shell(sys.executable, "-m", "polyopt", "info", "acme.extent")

# %% [markdown]
# ## The conformance kit
#
# A plugin's tests subclass the kit's class for each kind and name their entry. The objective kit checks
# shapes, dtypes and devices of `evaluate`, batching, directions and the reference point; the optimizer
# kit checks determinism for a seed, exact resume from a `state_dict`, that the caller's random state and
# thread settings are left alone, dtypes, `ask(n)`, failed evaluations and the budget; each component kit
# checks what its kind promises (a metric: a finite number, independent of the order of the points, and
# an input left unchanged). Here the template's own contract tests and a test file for `acme` run with
# pytest:

# %%
Path("test_acme.py").write_text(
    textwrap.dedent(
        """
        from polyopt.testing import MetricContract, ObjectiveContract


        class TestBeam(ObjectiveContract):
            objective = "acme.beam"


        class TestExtent(MetricContract):
            metric = "acme.extent"
        """
    )
)
shell(
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
    "-W",
    "ignore::DeprecationWarning",
    "test_acme.py",
    str(template / "tests" / "test_contract.py"),
)

# %% [markdown]
# `tests/contract/test_registered.py` in polyopt's own suite runs the same classes over every builtin
# name, and fails for a kind without a conformance class.
#
# ## Using it
#
# Once installed, the new names work everywhere, in Python, on the command line and in study files:

# %%
Path("use_acme.py").write_text(
    textwrap.dedent(
        """
        import polyopt

        result = polyopt.optimize("nsga2", "acme.beam", budget=1_500, seed=0, pop_size=30, verbose=False)
        extent = polyopt.registry().get("metric", "acme.extent")
        print(len(result.f), "designs on the front; all feasible:", bool((result.g <= 0).all()))
        print("extent of the front:", round(extent(result.f), 2))
        """
    )
)
shell(sys.executable, "use_acme.py")

# %% [markdown]
# A new **component kind** (say, a family's own `local_search`) is declared by the family that owns it,
# in its register hook, with `registry.add_kind(kind, Protocol, doc, check=...)`; its protocol and data
# types go to `polyopt.components` and its conformance class to `polyopt.testing`, so third-party entries
# of the new kind are checked like the builtins.
#
# To start a plugin, copy `examples/plugin-template` (its README walks through each kind), rename the
# package and the prefix, and keep its tests. [A plugin for every extension point](plugin_kinds.md) writes
# an entry of every other kind — an environment, a trainer, a survival, a local search and each
# language-model component — checks each with its conformance class and uses each once.
