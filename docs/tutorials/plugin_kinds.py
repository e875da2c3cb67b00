# %% [markdown]
# # A plugin for every extension point
#
# The [plugin tutorial](plugin.md) installs the template plugin (an ask/tell optimizer, an objective, a
# mutation operator, an advantage estimator, an acquisition function) and writes one with an objective
# and a metric. This page writes one more distribution, `every-polyopt` (prefix `every.`), that adds an
# entry of **each remaining kind**: an environment and a trainer, a survival and a local search for the
# search families, and one component of every kind the language-model trainers declare. Each entry is a
# few lines of real code, passes its conformance class from `polyopt.testing`, and is used once.
#
# | kind | example | where |
# |---|---|---|
# | `optimizer` (ask/tell), `objective`, `operator`, `advantage`, `acquisition` | `hello.hill-climb`, `hello.bowl`, `hello.gauss`, `hello.centered`, `hello.mean` | [plugin tutorial](plugin.md) |
# | `objective` with constraints, `metric` | `acme.beam`, `acme.extent` | [plugin tutorial](plugin.md) |
# | `environment`, `optimizer` (a `Trainer`) | `every.corridor`, `every.random-search` | below |
# | `survival`, `local_search` | `every.weighted-sum`, `every.adjacent-swap` | below |
# | the twelve language-model kinds | `every.digits`, `every.capped-reinforce`, ... | below |
#
# Every kind has more builtins than one example can show: the
# [components reference](../reference/registry/components.md) lists them all, with their options.

# %%
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polyopt
from polyopt.testing import CONTRACTS

registry = polyopt.registry()
covered_elsewhere = {"objective", "metric", "operator", "advantage", "acquisition"}
for kind in registry.kinds():
    where = "plugin tutorial" if kind in covered_elsewhere else "this page"
    print(f"{kind:18s} {CONTRACTS[kind].__name__:27s} {where}")

package = Path("every_polyopt")
package.mkdir(exist_ok=True)
(package / "__init__.py").write_text('"""polyopt plugin every: one entry of every kind."""\n')


def write(module, source):
    """Write a module of the plugin (and show it on this page)."""
    (package / f"{module}.py").write_text(textwrap.dedent(source).lstrip())


# %% [markdown]
# ## An environment and a trainer
#
# An environment is a batched `polyopt.Environment`: `num_envs` copies stepped together, `reset(seed)`
# and `step(action) -> Step` with `num_envs x reward_dim` rewards, and (for exact resume) `state_dict`.
# Like polyopt's own, a sub-environment whose episode ended restarts on the next `step`.
#
# A trainer subclasses `polyopt.Trainer`: it implements `iterate()` (never `step()`), takes every random
# number from `self.generator`, counts environment steps in `self.n_env_steps`, saves its state as tensors
# and numbers, and returns `self.make_result(policy, returns)`. This one is random search over the
# weights of a linear policy (basic random search, Mania et al., 2018): perturb the weights both ways,
# evaluate the three policies on the same start states, keep the best.

# %%
write(
    "rl",
    '''
    """An environment (a corridor walk) and a trainer (random search over linear policies)."""

    from dataclasses import dataclass

    import torch

    import polyopt
    from polyopt.spaces import Box, Integer


    class Corridor(polyopt.Environment):
        """Walkers in a corridor of ``length`` cells, starting at cell 0; action 0 steps left, 1 right.
        Reaching the last cell pays 1 and ends the episode, every step costs 0.01, at most ``max_steps``."""

        reward_dim = 1

        def __init__(self, num_envs: int = 1, length: int = 6, max_steps: int = 20) -> None:
            if num_envs < 1 or length < 2 or max_steps < 1:
                raise polyopt.ConfigError(
                    f"num_envs={num_envs}, length={length}, max_steps={max_steps}; expected >= 1, >= 2, >= 1"
                )
            self.num_envs, self.length, self.max_steps = num_envs, length, max_steps
            self.observation_space = Box([0.0], [1.0])  # the position, scaled
            self.action_space = Integer(0, 1)
            self.reset()

        def reset(self, seed: int | None = None) -> torch.Tensor:
            self.pos = torch.zeros(self.num_envs, dtype=torch.long)
            self.t = torch.zeros(self.num_envs, dtype=torch.long)
            self.ended = torch.zeros(self.num_envs, dtype=torch.bool)
            return self.obs()

        def obs(self) -> torch.Tensor:
            return (self.pos / (self.length - 1)).float().unsqueeze(1)

        def step(self, action: torch.Tensor) -> polyopt.Step:
            restart = self.ended  # these walkers start again instead of moving
            moved = (self.pos + 2 * action.reshape(self.num_envs).long() - 1).clamp(0, self.length - 1)
            self.pos = torch.where(restart, 0, moved)
            self.t = torch.where(restart, 0, self.t + 1)
            terminated = (self.pos == self.length - 1) & ~restart
            truncated = (self.t >= self.max_steps) & ~terminated & ~restart
            self.ended = terminated | truncated
            reward = torch.where(restart, 0.0, terminated.float() - 0.01)
            return polyopt.Step(self.obs(), reward.unsqueeze(1), terminated, truncated)

        def state_dict(self) -> dict[str, torch.Tensor]:
            return {"pos": self.pos.clone(), "t": self.t.clone(), "ended": self.ended.clone()}

        def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
            self.pos, self.t, self.ended = state["pos"], state["t"], state["ended"]


    @dataclass
    class RandomSearchConfig:
        sigma: float = 0.5
        """Standard deviation of each perturbation of the policy's weights."""
        horizon: int = 40
        """Environment steps (of every sub-environment) each policy is evaluated for."""

        def __post_init__(self) -> None:
            if self.sigma <= 0 or self.horizon < 1:
                raise ValueError(f"sigma={self.sigma}, horizon={self.horizon}; expected > 0 and >= 1")


    class RandomSearch(polyopt.Trainer):
        """Random search over linear policies ``argmax(obs @ W + b)`` for one integer action."""

        Config = RandomSearchConfig

        @classmethod
        def compatibility(cls, problem: object) -> str | None:
            reason = super().compatibility(problem)
            if reason is None and not isinstance(problem.action_space, Integer):
                return f"it needs integer actions, got {problem.action_space!r}"
            return reason

        def setup(self) -> None:
            space = self.problem.action_space
            self.low, n = int(space.lower[0]), int(space.upper[0] - space.lower[0]) + 1
            self.weights = torch.zeros(self.problem.observation_space.dim + 1, n, **self.like)
            self.best = torch.full((self.problem.reward_dim,), float("-inf"), **self.like)

        def act(self, weights: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
            x = obs.reshape(len(obs), -1).to(**self.like)
            return (x @ weights[:-1] + weights[-1]).argmax(-1) + self.low

        def returns(self, weights: torch.Tensor, seed: int) -> torch.Tensor:
            """Mean reward sum per sub-environment over ``horizon`` steps from seeded starts."""
            env, total = self.problem, torch.zeros(self.problem.reward_dim, **self.like)
            obs = env.reset(seed=seed)
            for _ in range(self.config.horizon):
                step = env.step(self.act(weights, obs).to(env.device))
                obs, total = step.obs, total + step.reward.to(**self.like).mean(0)
            self.n_env_steps += self.config.horizon * env.num_envs
            return total

        def iterate(self) -> dict[str, float]:
            seed = int(torch.randint(2**31 - 1, (), generator=self.generator))
            step = self.config.sigma * torch.randn(self.weights.shape, generator=self.generator, **self.like)
            tried = [self.weights, self.weights + step, self.weights - step]  # antithetic pair
            returns = [self.returns(w, seed) for w in tried]
            best = max(range(3), key=lambda i: float(returns[i].sum()))  # ties keep the current one
            self.weights, self.best = tried[best], returns[best]
            return {"return": float(self.best.sum())}

        def result(self) -> polyopt.TrainerResult:
            weights = self.weights.clone()
            return self.make_result(lambda obs: self.act(weights, obs), self.best.unsqueeze(0))

        def get_state(self) -> dict[str, torch.Tensor]:
            return {"weights": self.weights.clone(), "best": self.best.clone()}

        def set_state(self, state: dict[str, torch.Tensor]) -> None:
            self.weights, self.best = state["weights"].to(**self.like), state["best"].to(**self.like)
    ''',
)

# %% [markdown]
# ## A survival and a local search
#
# A survival (`moea`'s kind) picks the next population's indices from parents plus children, feasible
# points first, then the least violating, failed ones (violation `inf`) last; a local search (`co`'s kind)
# improves a batch of solutions of one problem whose structure it reads (here a TSP's `distances`), never
# making one worse, and refuses other problems with a `ConfigError`.

# %%
write(
    "search",
    '''
    """A survival for the evolutionary algorithms and a local search for tours."""

    import torch

    import polyopt
    from polyopt.components import Survivors
    from polyopt.spaces import Permutation


    class WeightedSum:
        """Keep the lowest weighted sums of the objectives (all weights 1 by default)."""

        def __init__(self, weights: list[float] | None = None) -> None:
            self.weights = weights

        def __call__(self, f, violation, n_survive, generator):
            w = torch.tensor(self.weights or [1.0] * f.shape[1], dtype=f.dtype)
            score = (f * w).sum(1).nan_to_num(nan=float("inf"))  # failed points: inf
            order = score.argsort(stable=True)
            order = order[violation[order].argsort(stable=True)]  # feasible (0) first
            index = order[:n_survive]
            return Survivors(index, torch.arange(len(index)), torch.zeros(len(index), dtype=f.dtype))

        def state_dict(self) -> dict:
            return {}

        def load_state_dict(self, state: dict) -> None:
            pass


    class AdjacentSwap:
        """``passes`` passes of adjacent swaps over each tour, each swap kept if it shortens the tour."""

        structures = frozenset({"tsp"})

        def __init__(self, problem, passes: int = 1) -> None:
            d = getattr(problem, "distances", None)
            if not isinstance(problem.space, Permutation) or d is None or d.shape[0] != problem.space.dim:
                raise polyopt.ConfigError(f"every.adjacent-swap needs a tsp problem, got {problem!r}")
            if passes < 1:
                raise polyopt.ConfigError(f"passes={passes!r}; expected at least 1")
            self.problem, self.passes = problem, passes

        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            best, f = x, polyopt.evaluate(self.problem, x).f[:, 0]
            for _ in range(self.passes):
                for i in range(x.shape[1] - 1):
                    y = best.clone()
                    y[:, [i, i + 1]] = best[:, [i + 1, i]]
                    fy = polyopt.evaluate(self.problem, y).f[:, 0]
                    better = fy < f
                    best, f = torch.where(better[:, None], y, best), torch.where(better, fy, f)
            return best
    ''',
)

# %% [markdown]
# ## The language-model trainers' components
#
# The policy-gradient trainers (`grpo`, `rloo`, `ppo`, ...) take a component of each of ten kinds by name
# in their config, the preference trainers (`dpo`, ...) a `preference_loss`, `RewardEnsemble` a
# `reward_aggregation` and the multi-turn trainer (`gigpo`) a `turn_advantage`. The data types they
# receive (`StepContext`, `ClipContext`, `ScoredGroups`, `SampledGroups`, `GroupOutcome`, `TurnBatch`,
# `PreferenceBatch`, `WeightingContext`) are documented in the
# [`polyopt.components` reference](../reference/api/components.md). Most kinds are plain functions (their
# options arrive in `params.options` or `ctx.params.options`); the stateful kinds (replay, prompt sampler,
# guidance) are factories `make(**options)` of objects with a `state_dict`, saved with the trainer's
# checkpoints.

# %%
write(
    "llm",
    '''
    """One component of each kind the language-model trainers declare."""

    import torch
    import torch.nn.functional as F

    from polyopt.components import GuidancePlan, ScoredGroups, preference_needs


    def digits(prompts, completions, **fields):  # reward
        """Share of a completion's characters that are digits (a format reward for arithmetic)."""
        return torch.tensor([sum(c.isdigit() for c in text) / max(len(text), 1) for text in completions])


    def capped_reinforce(logp, old_logp, adv, mask, params):  # policy_loss
        """REINFORCE weighted by the importance ratio capped at ``cap`` (default 2)."""
        ratio = (logp - old_logp).exp().detach().clamp(max=params.options.get("cap", 2.0))
        return -(ratio * adv * logp) * mask


    def clipped_k3(logp, ref_logp):  # kl_estimator
        """Schulman's k3 estimator with the log-ratio clamped to [-10, 10]."""
        d = (ref_logp - logp).clamp(-10.0, 10.0)
        return d.exp() - 1 - d


    def damped(adv, ctx):  # advantage_shaping
        """Damp the advantages of high-entropy completions by ``1 / (1 + c * mean entropy)``."""
        per_seq = (ctx.entropy * ctx.rollout.mask).sum(-1) / ctx.rollout.mask.sum(-1).clamp_min(1)
        return adv / (1 + ctx.params.options.get("c", 1.0) * per_seq.unsqueeze(-1)) * ctx.rollout.mask


    def higher_for_good(ctx):  # clip_range
        """The configured ``clip_high`` for tokens of positive advantage, ``clip_low`` elsewhere."""
        low, high = ctx.params.clip_low, ctx.params.clip_high
        return low, torch.where(ctx.adv > 0, high, low)


    def spread(ctx):  # reward_weighting
        """Weight each reward by the share of groups whose rewards under it vary (keeping the sum)."""
        g = ctx.rewards.view(ctx.n_groups, -1, ctx.rewards.shape[1])
        w = ctx.base * ((g.std(1) > 0).float().mean(0) + 1e-3)
        return w * ctx.base.sum() / w.sum()


    @preference_needs("reference")
    def hinge(batch, params):  # preference_loss
        """SLiC-HF's hinge on the margin of the log-ratios: ``max(0, 1 - beta * margin)``."""
        chosen, rejected = batch.logratios()
        return F.relu(1 - params.beta * (chosen - rejected))


    def lower_quartile(scores, params):  # reward_aggregation
        """A pessimistic ensemble: the ``q`` quantile (default 0.25) of the members' scores."""
        return torch.quantile(scores, params.options.get("q", 0.25), dim=1)


    def episode_centered(turns, params):  # turn_advantage
        """Each turn gets its episode's return minus the mean return of the episode's group."""
        returns = turns.episode_returns().view(turns.n_groups, -1)
        return (returns - returns.mean(1, keepdim=True)).flatten()[turns.episode]


    class Latest:  # replay
        """Keep the ``capacity`` newest groups; replay ``n`` of them, drawn at random, each step."""

        def __init__(self, capacity: int = 8, n: int = 1) -> None:
            self.capacity, self.n, self.buffer = capacity, n, None

        def add(self, groups):
            merged = groups if self.buffer is None else ScoredGroups.cat([self.buffer, groups])
            self.buffer = merged.groups(list(range(max(merged.n_groups - self.capacity, 0), merged.n_groups)))

        def draw(self, generator, step):
            if self.buffer is None:
                return None
            return self.buffer.groups(torch.randperm(self.buffer.n_groups, generator=generator)[: self.n])

        def state_dict(self):
            return {} if self.buffer is None else {"buffer": self.buffer.state()}

        def load_state_dict(self, state):
            self.buffer = ScoredGroups.from_state(state["buffer"]) if state else None


    class Shortest:  # prompt_sampler
        """Sample ``extra`` more completions per prompt than trained, and train on the shortest ``k``."""

        rounds = 1

        def __init__(self, extra: int = 2) -> None:
            self.extra = extra

        def sample(self, task, n, generator, references):
            if references and hasattr(task, "generate"):
                return task.generate(n, generator)
            return task.sample(n, generator), None

        def group_size(self, k):
            return k + self.extra

        def select(self, groups, k):
            rows = groups.lengths.argsort(dim=1, stable=True)[:, :k]
            return torch.ones(len(groups.prompts), dtype=torch.bool), rows

        def observe(self, prompts, rewards):
            pass

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass


    class FirstCharacterHint:  # guidance
        """For a group no completion solved, hint the reference answer's first character (once)."""

        needs_references = True

        def guide(self, outcome):
            if outcome.round > 0 or outcome.references is None:
                return GuidancePlan()
            unsolved = (~outcome.solved()).nonzero().flatten().tolist()
            return GuidancePlan(hints={g: outcome.references[g][:1] for g in unsolved})

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass
    ''',
)

# %% [markdown]
# ## Registering them
#
# As in any plugin, `plugin.py` only names things with lazy `"module:attr"` targets, under the plugin's
# prefix, and the distribution declares it in `[project.entry-points.polyopt]`. As on the
# [plugin tutorial](plugin.md), this page writes the metadata `pip install` would write into a folder on
# `PYTHONPATH` rather than installing into the environment that builds the site.

# %%
entries = {
    ("environment", "every.corridor"): ("rl:Corridor", "walk right along a corridor"),
    ("optimizer", "every.random-search"): ("rl:RandomSearch", "random search, linear policies"),
    ("survival", "every.weighted-sum"): ("search:WeightedSum", "lowest weighted sums survive"),
    ("local_search", "every.adjacent-swap"): ("search:AdjacentSwap", "adjacent swaps on tours"),
    ("reward", "every.digits"): ("llm:digits", "share of digits in a completion"),
    ("policy_loss", "every.capped-reinforce"): ("llm:capped_reinforce", "ratio-capped REINFORCE"),
    ("kl_estimator", "every.clipped-k3"): ("llm:clipped_k3", "k3 with a clamped log-ratio"),
    ("advantage_shaping", "every.damped"): ("llm:damped", "damp high-entropy completions"),
    ("clip_range", "every.higher-for-good"): ("llm:higher_for_good", "clip_high for adv > 0"),
    ("reward_weighting", "every.spread"): ("llm:spread", "weight rewards that vary"),
    ("preference_loss", "every.hinge"): ("llm:hinge", "SLiC-HF hinge loss"),
    ("reward_aggregation", "every.lower-quartile"): ("llm:lower_quartile", "pessimistic ensemble"),
    ("turn_advantage", "every.episode-centered"): ("llm:episode_centered", "group-centered return"),
    ("replay", "every.latest"): ("llm:Latest", "replay the newest groups"),
    ("prompt_sampler", "every.shortest"): ("llm:Shortest", "train on the shortest completions"),
    ("guidance", "every.first-character"): ("llm:FirstCharacterHint", "hint the first character"),
}
lines = [
    f'    registry.add("{kind}", "{name}", "every_polyopt.{target}",\n'
    f'                 summary="{summary}")'
    for (kind, name), (target, summary) in entries.items()
]
(package / "plugin.py").write_text(
    '"""The entry point polyopt loads: names only, imported on first use."""\n\nimport polyopt\n\n\n'
    "@polyopt.hookimpl\ndef polyopt_register(registry: polyopt.Registry) -> None:\n"
    + "\n".join(lines)
    + "\n"
)
print((package / "plugin.py").read_text())
shown = covered_elsewhere | {kind for kind, _ in entries}
print("kinds without an example:", sorted(set(registry.kinds()) - shown) or "none")

installed = Path("site-packages") / "every_polyopt-0.1.0.dist-info"
installed.mkdir(parents=True)
(installed / "METADATA").write_text("Metadata-Version: 2.1\nName: every-polyopt\nVersion: 0.1.0\n")
(installed / "entry_points.txt").write_text("[polyopt]\nevery = every_polyopt.plugin\n")
env = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join([str(installed.parent.resolve()), str(Path.cwd())]),
    POLYOPT_PLUGINS="every",
)


def shell(*args):
    """Run a command as from a shell with the plugin installed, and show what it prints."""
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    shown = " ".join("python" if a == sys.executable else a for a in args)
    print(f"$ {shown.replace('python -m pytest', 'pytest')}  (exit {proc.returncode})")
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])


# %% [markdown]
# ## The conformance kit
#
# One test class per entry, each subclassing its kind's class from `polyopt.testing` (the `CONTRACTS`
# mapping names it for every kind) and naming the entry; `options` and `make_problem` choose the options
# and the problem it is checked with. The trainer runs the optimizer contract — determinism for a seed,
# exact resume, the caller's random state and threads left alone, dtypes, budgets — on the corridor.

# %%
Path("test_every.py").write_text(
    textwrap.dedent(
        """
        import polyopt
        from polyopt.testing import (
            AdvantageShapingContract, ClipRangeContract, EnvironmentContract, GuidanceContract,
            KLEstimatorContract, LocalSearchContract, OptimizerContract, PolicyLossContract,
            PreferenceLossContract, PromptSamplerContract, ReplayContract, RewardAggregationContract,
            RewardContract, RewardWeightingContract, SurvivalContract, TurnAdvantageContract,
        )


        class TestCorridor(EnvironmentContract):
            environment = "every.corridor"


        class TestRandomSearch(OptimizerContract):
            optimizer = "every.random-search"

            def make_problem(self):  # default: two CartPoles; the corridor is cheaper
                return polyopt.make("environment", "every.corridor", num_envs=2), {"horizon": 8}


        class TestWeightedSum(SurvivalContract):
            survival = "every.weighted-sum"


        class TestAdjacentSwap(LocalSearchContract):
            local_search = "every.adjacent-swap"
            options = {"passes": 2}


        class TestDigits(RewardContract):
            reward = "every.digits"


        class TestCappedReinforce(PolicyLossContract):
            policy_loss = "every.capped-reinforce"


        class TestClippedK3(KLEstimatorContract):
            kl_estimator = "every.clipped-k3"


        class TestDamped(AdvantageShapingContract):
            advantage_shaping = "every.damped"
            options = {"c": 0.5}


        class TestHigherForGood(ClipRangeContract):
            clip_range = "every.higher-for-good"


        class TestSpread(RewardWeightingContract):
            reward_weighting = "every.spread"


        class TestHinge(PreferenceLossContract):
            preference_loss = "every.hinge"


        class TestLowerQuartile(RewardAggregationContract):
            reward_aggregation = "every.lower-quartile"


        class TestEpisodeCentered(TurnAdvantageContract):
            turn_advantage = "every.episode-centered"


        class TestLatest(ReplayContract):
            replay = "every.latest"
            options = {"capacity": 4, "n": 2}


        class TestShortest(PromptSamplerContract):
            prompt_sampler = "every.shortest"


        class TestFirstCharacter(GuidanceContract):
            guidance = "every.first-character"
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
    "test_every.py",
)

# %% [markdown]
# ## Using them
#
# Each entry once, by name, where a user would name it: the trainer on the environment, the survival in
# NSGA-II, the local search as the memetic step of the combinatorial GA, and in one short GRPO run on
# one-digit addition (a one-layer character model, so it takes seconds, not a model that learns) the
# reward, policy loss, KL estimator, advantage shaping, clip range, reward weighting, replay, prompt
# sampler and guidance together; the preference loss in DPO and the turn advantage in GiGPO. A
# `RewardEnsemble` aggregates reward models' scores; here the aggregation reads three reward functions'
# scores directly, which is what the ensemble hands it.

# %%
Path("use_every.py").write_text(
    textwrap.dedent(
        """
        import torch

        import polyopt
        from polyopt.components import AggregationParams

        walk = polyopt.optimize("every.random-search", "every.corridor", budget=polyopt.Budget(steps=30),
                                seed=0, verbose=False, horizon=20)
        corridor = polyopt.make("environment", "every.corridor")
        corridor.reset(seed=0)
        right = sum(float(corridor.step(torch.ones(1)).reward) for _ in range(20))  # always step right
        print(f"every.random-search on every.corridor: return {float(walk.returns.sum()):.2f} in 20 steps,"
              f" always stepping right {right:.2f}")
        front = polyopt.optimize("nsga2", "zdt1", budget=600, seed=0, pop_size=20, verbose=False,
                                 survival="every.weighted-sum")
        print("nsga2 + every.weighted-sum on zdt1: min f1 + f2 =", round(float(front.f.sum(1).min()), 3))
        tour = polyopt.optimize("ga", "tsp", budget=400, seed=0, verbose=False, pop_size=20,
                                local_search="every.adjacent-swap", local_search_options={"passes": 2})
        print("ga + every.adjacent-swap on tsp: tour length", round(tour.f_best, 3))

        tiny = dict(n_layer=1, d_model=32, n_head=2, prompts_per_step=4, completions_per_prompt=4, lr=1e-3)
        llm = polyopt.optimize(
            "grpo", polyopt.make("environment", "text-addition", n_digits=1),
            budget=polyopt.Budget(steps=3), seed=0, verbose=False, **tiny,
            rewards=["exact-match", "every.digits"], reward_weights=[1.0, 0.5],
            reward_weighting="every.spread", policy_loss="every.capped-reinforce",
            kl_estimator="every.clipped-k3", kl_coef=0.05, advantage_shaping="every.damped",
            clip_range="every.higher-for-good", replay="every.latest", prompt_sampler="every.shortest",
            guidance="every.first-character",
        )
        print("grpo with nine every.* components: steps", llm.n_steps, "| rewards", llm.reward_names)
        dpo = polyopt.optimize("dpo", polyopt.make("environment", "pref-addition", n_digits=1, n_pairs=32,
                                                   n_test=16),
                               budget=polyopt.Budget(steps=3), seed=0, verbose=False, loss="every.hinge",
                               n_layer=1, d_model=32, n_head=2, pairs_per_step=8, eval_pairs=8)
        print("dpo with every.hinge: steps", dpo.n_steps, "| metrics", sorted(dpo.metrics)[:4])
        walker = polyopt.optimize("gigpo", polyopt.make("environment", "text-number-walk", max_turns=2),
                                  budget=polyopt.Budget(steps=2), seed=0, verbose=False,
                                  turn_advantage="every.episode-centered", **tiny)
        print("gigpo with every.episode-centered: steps", walker.n_steps)

        reg = polyopt.registry()
        prompts, completions = ["2+3=", "4+4=", "9+1="], ["5", "8 ", "1O"]
        scores = torch.stack([reg.get("reward", name)(prompts, completions, answer=["5", "8", "10"])
                              for name in ("exact-match", "partial-credit", "every.digits")], dim=-1)
        pessimistic = reg.get("reward_aggregation", "every.lower-quartile")(scores, AggregationParams())
        print("every.lower-quartile of three rewards:", [round(v, 2) for v in pessimistic.tolist()])
        """
    )
)
shell(sys.executable, "use_every.py")
