"""Evolutionary multi-objective algorithms on torch: NSGA-II/III, MOEA/D, SMS-EMOA, RVEA, dNSGA-II.

Registered optimizers (``polyopt.make("optimizer", name, problem, **config)``): ``nsga2``, ``nsga3``,
``moead`` (batched), ``moead-sequential`` (Zhang & Li 2007), ``sms-emoa``, ``rvea``, ``dnsga2``. All are
ask/tell, run on any space (Box, Integer, Categorical, Binary, Permutation and Product of them), handle
constraints by feasibility first (``constraint_handling="feasibility"``) or a penalty, treat failed
evaluations as infinitely violating, and resume exactly from ``state_dict``.

Algorithms are short compositions of shared, tested pieces:

- :mod:`.operators`, :mod:`.permutation`, :mod:`.variation` — variation operators per space kind
  (registered as ``operator``) and :func:`.variation.default_variation`;
- :mod:`.selection` — pymoo's tournaments, random and neighbourhood mating;
- :mod:`.survival`, :mod:`.niching` — rank-and-crowding, reference directions, hypervolume contribution,
  angle-penalized distance (registered as ``survival``);
- :mod:`.duplicates` — duplicate elimination by row hashing (no ``N x N`` matrix);
- :mod:`.population` — :class:`~.population.Population`, one dataclass for the population and the tell
  buffer;
- :mod:`.base` — the ask queue and the tell buffer, results, metrics and state, shared by two siblings:
  :mod:`.survival_based` (NSGA-II/III, SMS-EMOA, RVEA, dNSGA-II: the next population by a survival, the
  algorithm's own or any registered one) and :mod:`.moead` (one solution per subproblem of a
  :class:`~.decomposition.Decomposition`).

Operators and survivals take options from the algorithm's config: ``mutation="acme.gauss",
mutation_options={"sigma": 0.3}``, ``survival="acme.knee", survival_options={...}``.
"""
