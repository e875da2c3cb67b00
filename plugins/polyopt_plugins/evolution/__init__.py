"""Single-objective evolution on boxes, tensorized: CMA-ES (IPOP/BIPOP restarts), DE, JADE, PSO and CBO."""
