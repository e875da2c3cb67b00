"""Multi-objective reinforcement learning: preference-conditioned agents and the shared evaluation protocol."""
