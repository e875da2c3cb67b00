"""Combinatorial optimization: ant colonies, a permutation/binary GA, batched local search, knapsack solvers.

Public modules: :mod:`~polyopt_plugins.co.aco` (``AntColony``, ``solve_tsp``), :mod:`~polyopt_plugins.co.ga`,
:mod:`~polyopt_plugins.co.local_search` (``two_opt``, ``or_opt``, ``relocate_swap``) and
:mod:`~polyopt_plugins.co.knapsack`.
"""
