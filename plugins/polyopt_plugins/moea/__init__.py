"""Evolutionary multi-objective algorithms on torch: NSGA-II/III, MOEA/D, SMS-EMOA, RVEA, dNSGA-II.

Algorithms are short compositions of shared, tested pieces: variation operators per space
(:mod:`.operators`, :mod:`.permutation`, :mod:`.variation`), parent selection (:mod:`.selection`), survival
(:mod:`.survival`, :mod:`.niching`) and the ask/tell population machinery (:mod:`.base`).
"""
