"""Bayesian optimization on BoTorch/GPyTorch: EGO, CONFIG, TuRBO-1, AEGiS, qLogNEHVI and qLogNParEGO.

Shared pieces: :mod:`.surrogate` (training data and GP fitting), :mod:`.acqopt` (acquisition optimization over
continuous, integer, categorical and mixed spaces), :mod:`.acquisition` (the ``acquisition`` registry
components) and :mod:`.base` (the ask/tell loop with a Sobol start, pending points and failed evaluations).
Nothing here is imported when the plugin registers.
"""
