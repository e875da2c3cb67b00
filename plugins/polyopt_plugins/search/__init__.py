"""Baseline search: random search and scrambled-Sobol search over any space."""
