"""Registers the language-model trainers, their components and the text tasks (all targets lazy)."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_P = "polyopt_plugins.llm"

_OPTIMIZERS = {
    "grpo": ("GRPO", "GRPO: group-normalized advantages, clipped ratio"),
    "dr-grpo": ("DrGRPO", "Dr. GRPO: group baseline without std or length normalization"),
    "rloo": ("RLOO", "RLOO: leave-one-out baseline"),
    "remax": ("ReMax", "ReMax: greedy-decoding baseline, no critic"),
    "ppo": ("PPO", "PPO with a learned critic, GAE and a KL penalty in the reward"),
    "reinforce-pp": ("ReinforcePP", "REINFORCE++: batch-whitened returns with KL in the reward"),
    "reinforce-pp-baseline": (
        "ReinforcePPBaseline",
        "REINFORCE++-baseline: group mean, then whitening",
    ),
    "dapo": ("DAPO", "DAPO: clip-higher, token-mean, dynamic sampling, overlong masking"),
    "bnpo": ("BNPO", "BNPO: Beta-normalized advantages"),
    "ngrpo": ("NGRPO", "NGRPO: virtual max-reward calibration, asymmetric clipping"),
    "gspo": ("GSPO", "GSPO: sequence-level importance ratio"),
}
_ADVANTAGES = {
    "gae": "gae",
    "grpo": "grpo",
    "dr-grpo": "dr_grpo",
    "rloo": "rloo",
    "remax": "remax",
    "reinforce-pp": "reinforce_pp",
    "reinforce-pp-baseline": "reinforce_pp_baseline",
    "bnpo": "bnpo",
    "ngrpo": "ngrpo",
}
_LOSSES = {
    "ppo-clip": "ppo_clip",
    "clip-higher": "clip_higher",
    "dual-clip": "dual_clip",
    "gspo": "gspo",
    "reinforce": "reinforce",
}
_TASKS = {
    "text-addition": ("Addition", 'n-digit addition ("47+85=" -> "132")'),
    "text-sort": ("SortDigits", "sort a digit string"),
    "text-reverse": ("Reverse", "reverse a lowercase string"),
    "text-countdown": ("Countdown", "reach a target with + - * over given digits"),
    "text-number-walk": ("multiturn:NumberWalk", "multi-turn: reach a number, one move per turn"),
}
_REWARDS = {
    "exact-match": ("exact_match", "1 if the completion equals the answer"),
    "partial-credit": ("partial_credit", "fraction of positions matching the answer"),
    "brevity": ("brevity", "-len(completion)/10, prefers short answers"),
}

#: the trainer's further axes (issue 19): kind -> (module, {name: (target, summary)}); the first is the default
_AXES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "advantage_shaping": (
        "shaping",
        {
            "none": ("none", "the estimator's advantages unchanged"),
            "entropy-advantage": ("entropy_advantage", "adds a clipped per-token entropy bonus"),
            "edge": ("edge", "EDGE-GRPO: divides by the completion's normalized entropy"),
            "dcpo-sas": ("dcpo_sas", "DCPO smooth advantage standardization across steps"),
            "spo": ("spo", "SPO: a per-prompt value tracker kept across steps as the baseline"),
        },
    ),
    "clip_range": (
        "clipping",
        {
            "fixed": ("fixed", "clip_low / clip_high as configured"),
            "dcpo": ("dcpo", "DCPO: per-token bounds from the token's old probability"),
            "entropy-clip": ("entropy_clip", "wider range for high-entropy tokens (Archer)"),
            "bapo": ("bapo", "BAPO: adaptive asymmetric bounds balancing positive tokens"),
        },
    ),
    "replay": (
        "replay",
        {
            "none": ("NoReplay", "no replay"),
            "recent": ("RecentReplay", "uniform replay of recent groups"),
            "selective": (
                "SelectiveReplay",
                "selective sample replay of groups with reward spread",
            ),
        },
    ),
    "prompt_sampler": (
        "prompt_sampling",
        {
            "uniform": ("Uniform", "fresh prompts, completions_per_prompt each"),
            "dapo": ("DynamicSampling", "DAPO dynamic sampling: drop flat groups, refill"),
            "gfpo": ("GroupFilter", "GFPO: sample more, train on the shortest / most efficient"),
            "mopps": ("MoPPS", "MoPPS: Thompson-sampled prompts of a pool near 50% success"),
            "vas": ("VarianceAware", "MMR1 variance-aware sampling: prompts by outcome variance"),
            "knapsack": (
                "Knapsack",
                "Knapsack RL: unequal rollout budgets across a step's prompts",
            ),
        },
    ),
    "guidance": (
        "guidance",
        {
            "none": ("NoGuidance", "no guidance"),
            "scaf-hints": ("ScaffoldHints", "Scaf-GRPO: tiered hints for unsolved groups"),
            "gold": ("GoldInjection", "GCPO: inject the reference into unsolved groups"),
            "reuse": ("ResponseReuse", "AR3PO: reuse an earlier correct completion"),
            "relift": ("InterleavedSFT", "ReLIFT: supervised steps on unsolved prompts"),
        },
    ),
}
#: advantage estimators and policy losses of later papers (advantage_variants.py, loss_variants.py)
_VARIANT_ADVANTAGES = {
    "qae": ("qae", "QAE: group quantile baseline"),
    "mapo": ("mapo", "MAPO: mixed std-normalized and percent-deviation advantage"),
    "pass-at-k": ("pass_at_k", "pass@k training: analytic group pass@k advantages"),
    "s-grpo": ("s_grpo", "S-GRPO: noise-aware group weights"),
    "decoupled-gae": ("decoupled_gae", "VC-PPO/VAPO: decoupled (length-adaptive) GAE lambda"),
    "score": ("score", "the completion's score, no baseline"),
    "aapo": ("aapo", "AAPO: GRPO plus the clipped reward gain over a reference rollout"),
}
_VARIANT_LOSSES = {
    "gmpo": ("gmpo", "GMPO: geometric mean of clipped token ratios"),
    "apa": ("apa", "APA: squared error of log-ratio to reference and advantage"),
    "mdpo": ("mdpo", "MDPO: surrogate plus KL to the old policy"),
    "rebel": ("rebel", "REBEL: regress log-ratio differences on reward differences"),
    "gvpo": ("gvpo", "GVPO: centered implicit reward regression"),
    "copg": ("copg", "CoPG: contrastive policy gradient with KL-regularized reward"),
    "opmd": ("opmd", "OPMD: regularized REINFORCE for stale samples"),
    "asymre": ("asymre", "AsymRE: REINFORCE with a lowered baseline"),
}
_TURN_ADVANTAGES = {
    "episode-grpo": ("episode_grpo", "episode returns normalized in their group, on every turn"),
    "gigpo": ("gigpo", "GiGPO: episode-level plus anchor-state step-level advantages"),
}
_AXIS_DOCS = {
    "advantage_shaping": "reshapes advantages with per-token entropy or a baseline kept across steps",
    "clip_range": "per-token or adaptive clipping range of the importance ratio",
    "replay": "buffer of scored groups replayed with importance correction",
    "prompt_sampler": "which prompts a step trains on and how many completions each gets",
    "guidance": "hints, injected completions or supervised steps for unsolved groups",
}

_PREFERENCE = {
    "dpo": ("DPO", "DPO: offline preference optimization, sigmoid loss on the log-ratio margin"),
    "cdpo": ("CDPO", "conservative DPO: label smoothing for noisy preference labels"),
    "robust-dpo": ("RobustDPO", "robust DPO: unbiased loss under a known label-flip rate"),
    "ipo": ("IPO", "IPO: squared loss on the log-ratio margin"),
    "slic": ("SLiC", "SLiC-HF: hinge loss on the log-ratio margin"),
    "simpo": ("SimPO", "SimPO: length-normalized, reference-free preference optimization"),
    "orpo": ("ORPO", "ORPO: NLL plus odds-ratio penalty, reference-free"),
    "kto": ("KTO", "KTO: desirable/undesirable examples, paired or unpaired"),
    "modpo": ("MODPO", "MODPO: multi-objective DPO with weighted margins of the other dimensions"),
}
_PREFERENCE_LOSSES = {
    "dpo": "dpo",
    "cdpo": "cdpo",
    "robust-dpo": "robust_dpo",
    "ipo": "ipo",
    "slic": "slic",
    "simpo": "simpo",
    "orpo": "orpo",
    "kto": "kto",
    "modpo": "modpo",
}
_REWARD_AGGREGATIONS = {
    "mean": ("mean", "mean of the ensemble members' rewards"),
    "worst-case": ("worst_case", "WCO: the lowest member reward"),
    "uncertainty-weighted": ("uncertainty_weighted", "UWO: mean minus lambda x member variance"),
}
_REWARD_WEIGHTINGS = {
    "static": ("static", "the configured reward weights, every step"),
    "hypervolume": (
        "hypervolume_guided",
        "hypervolume-guided: weight moves to rewards that grow the front most",
    ),
    "gradient": (
        "gradient",
        "gradient-based: weight moves to rewards whose policy gradients most align with the update",
    ),
    "mgda": (
        "mgda",
        "MGDA: weights move to the min-norm combination of per-reward policy gradients",
    ),
    "advantage-influence": (
        "advantage_influence",
        "weight moves to rewards whose group-normalized advantages most align (no parameter gradients)",
    ),
}
_PREFERENCE_TASKS = {
    "pref-addition": ("PreferenceAddition", "addition pairs with a known true preference"),
    "pref-sort": ("PreferenceSort", "digit-sorting pairs with a known true preference"),
    "pref-reverse": ("PreferenceReverse", "word-reversal pairs with a known true preference"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    from polyopt import components as c
    from polyopt.components import _policy_gradient as pg

    kinds = {
        "advantage": (
            c.AdvantageEstimator,
            pg.check_advantage,
            "turns scored rollouts into advantages",
        ),
        "policy_loss": (c.PolicyLoss, pg.check_policy_loss, "per-token policy-gradient loss"),
        "kl_estimator": (
            c.KLEstimator,
            pg.check_kl_estimator,
            "per-token estimate of KL(pi || ref)",
        ),
        "reward": (c.RewardFunction, pg.check_reward, "scores completions of a text task"),
    }
    for kind, (protocol, check, doc) in kinds.items():
        registry.add_kind(kind, protocol, doc, check=check)
    _register_preference(registry)
    _register_axes(registry)
    for name, (cls, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"{_P}.presets:{cls}", summary=summary)
    for name, fn in _ADVANTAGES.items():
        registry.add(
            "advantage", name, f"{_P}.advantage:{fn}", summary=f"{name} advantage estimator"
        )
    for name, fn in _LOSSES.items():
        registry.add("policy_loss", name, f"{_P}.policy_loss:{fn}", summary=f"{name} policy loss")
    for name in ("k1", "k2", "k3"):
        registry.add(
            "kl_estimator", name, f"{_P}.kl:{name}", summary=f"Schulman's {name} KL estimator"
        )
    for name, (cls, summary) in _TASKS.items():
        target = cls if ":" in cls else f"tasks:{cls}"
        registry.add("environment", name, f"polyopt_envs.text.{target}", summary=summary)
    for name, (fn, summary) in _REWARDS.items():
        registry.add("reward", name, f"polyopt_envs.text.rewards:{fn}", summary=summary)


def _register_preference(registry: Registry) -> None:
    from polyopt import components as c
    from polyopt.components import _preference as pr
    from polyopt.components._reward_weighting import check_reward_weighting

    registry.add_kind(
        "preference_loss",
        c.PreferenceLoss,
        "offline preference loss on sequence log-probabilities",
        check=pr.check_preference_loss,
    )
    for name, (cls, summary) in _PREFERENCE.items():
        registry.add("optimizer", name, f"{_P}.preference_presets:{cls}", summary=summary)
    for name, fn in _PREFERENCE_LOSSES.items():
        registry.add(
            "preference_loss", name, f"{_P}.losses_preference:{fn}", summary=f"{name} loss"
        )
    registry.add_kind(
        "reward_aggregation",
        c.RewardAggregation,
        "combines an ensemble's n x K reward-model scores into n rewards",
        check=pr.check_reward_aggregation,
    )
    for name, (fn, summary) in _REWARD_AGGREGATIONS.items():
        registry.add("reward_aggregation", name, f"{_P}.reward_ensemble:{fn}", summary=summary)
    registry.add(
        "optimizer",
        "reward-model",
        f"{_P}.reward_model:RewardModelTrainer",
        summary="Bradley-Terry reward model (with margin) on preference pairs",
    )
    registry.add(
        "optimizer",
        "constrained-grpo",
        f"{_P}.constrained:ConstrainedTrainer",
        summary="GRPO with reward thresholds as constraints (adaptive Lagrange multipliers)",
    )
    registry.add_kind(
        "reward_weighting",
        c.RewardWeighting,
        "sets the policy-gradient trainer's reward weights each step (static or dynamic)",
        check=check_reward_weighting,
    )
    for name, (fn, summary) in _REWARD_WEIGHTINGS.items():
        registry.add("reward_weighting", name, f"{_P}.reward_weighting:{fn}", summary=summary)
    registry.add(
        "reward",
        "win-rate",
        f"{_P}.win_reward:win_rate",
        summary="self-play win rate against the prompt's other completions (partial-credit oracle)",
    )
    registry.add(
        "optimizer",
        "iterative-dpo",
        f"{_P}.online_preference:IterativeDPO",
        summary="iterative (online) DPO: on-policy pairs judged by a reward or oracle, in rounds",
    )
    registry.add(
        "optimizer",
        "best-of-n",
        f"{_P}.best_of_n:BestOfN",
        summary="best-of-N sampling: keep the highest-rewarded of n samples",
    )
    for name, (cls, summary) in _PREFERENCE_TASKS.items():
        registry.add("environment", name, f"polyopt_envs.preference.tasks:{cls}", summary=summary)


def _register_axes(registry: Registry) -> None:
    from polyopt.components import _llm_axes as ax

    protocols = {
        "advantage_shaping": (ax.AdvantageShaping, ax.check_advantage_shaping),
        "clip_range": (ax.ClipRange, ax.check_clip_range),
        "replay": (ax.ReplayBuffer, ax.check_replay),
        "prompt_sampler": (ax.PromptSampler, ax.check_prompt_sampler),
        "guidance": (ax.Guidance, ax.check_guidance),
    }
    for kind, (module, entries) in _AXES.items():
        protocol, check = protocols[kind]
        registry.add_kind(kind, protocol, _AXIS_DOCS[kind], check=check)
        for name, (target, summary) in entries.items():
            registry.add(kind, name, f"{_P}.{module}:{target}", summary=summary)
    for name, (target, summary) in _VARIANT_ADVANTAGES.items():
        registry.add("advantage", name, f"{_P}.advantage_variants:{target}", summary=summary)
    for name, (target, summary) in _VARIANT_LOSSES.items():
        registry.add("policy_loss", name, f"{_P}.loss_variants:{target}", summary=summary)
    registry.add_kind(
        "turn_advantage",
        ax.TurnAdvantage,
        "one advantage per turn of multi-turn episodes",
        check=ax.check_turn_advantage,
    )
    for name, (target, summary) in _TURN_ADVANTAGES.items():
        registry.add("turn_advantage", name, f"{_P}.turn_advantage:{target}", summary=summary)
    registry.add(
        "optimizer",
        "gigpo",
        f"{_P}.multiturn:MultiTurnTrainer",
        summary="GiGPO: multi-turn policy gradient with episode- and step-level groups",
    )
    registry.add(
        "optimizer",
        "t-ppo",
        f"{_P}.truncated:TruncatedPPO",
        summary="T-PPO: PPO on windows of completions, cut-off ones bootstrapped by the critic",
    )
