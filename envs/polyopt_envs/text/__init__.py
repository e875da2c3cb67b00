"""Text-generation tasks with verifiable rewards, as polyopt Environments: a prompt batch in, completions scored
by reward functions out. Each task has a supervised warm-start generator and exact-match plus partial-credit
rewards; :class:`NumberWalk` is a multi-turn task (one arithmetic move per turn)."""

from polyopt_envs.text.base import TaskBatch, TextTask
from polyopt_envs.text.multiturn import NumberWalk
from polyopt_envs.text.tasks import Addition, Countdown, Reverse, SortDigits

__all__ = ["TaskBatch", "TextTask", "Addition", "SortDigits", "Reverse", "Countdown", "NumberWalk"]
