"""Reinforcement learning on environments: the actor-critic trainer (PPO, A2C) and policy evaluation."""
