"""polyopt's builtin problems: benchmark objectives with known optima or Pareto fronts, and environments."""
