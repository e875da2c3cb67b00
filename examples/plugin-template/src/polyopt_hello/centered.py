"""An advantage estimator for the policy-gradient trainers: the group's mean reward as the baseline."""

from __future__ import annotations

from torch import Tensor

from polyopt.components import AdvantageParams, Rollout, requires


@requires("groups")
def centered(rollout: Rollout, params: AdvantageParams) -> tuple[Tensor, None]:
    """``scale * (r_i - mean of its group)`` on every token of completion ``i`` (no std normalization).

    Use it with any trainer: ``advantage="hello.centered", advantage_options={"scale": 2.0}``.
    """
    g = rollout.grouped()  # (G, k) rewards, one row per prompt
    scale = float(params.options.get("scale", 1.0))
    return rollout.broadcast(scale * (g - g.mean(1, keepdim=True))), None
