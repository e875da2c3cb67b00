"""Registers the actor-critic trainers on environments (targets lazy).

Names: ``actor-critic-ppo`` because ``ppo`` already names the language-model PPO preset (text tasks, a critic
over tokens), and renaming it would break stored studies; ``a2c`` is free.
"""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_P = "polyopt_plugins.rl.actor_critic"

_OPTIMIZERS = {
    "actor-critic-ppo": (
        "PPO",
        "PPO on any environment: clipped surrogate, GAE, value clipping, discrete or continuous actions; "
        "a vector reward with a preference is MO-PPO",
    ),
    "a2c": (
        "A2C",
        "A2C on any environment: PPO's trainer with one epoch over one minibatch, RMSprop",
    ),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, (cls, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"{_P}:{cls}", summary=summary)
