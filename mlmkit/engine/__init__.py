"""The engine: penalised least squares, PIRLS and the optimisers.

``linalg`` (the blocked Cholesky factor of Λ'Z'ZΛ + I), ``profiled`` and ``crossed`` (its fast
paths), ``gradient`` (closed-form gradients), ``wpls`` and ``pirls`` (weighted PLS steps and PIRLS),
``onefactor`` (glmer with one grouping factor at scale), ``optimize`` (BOBYQA, L-BFGS-B and lme4's
convergence check), ``lmer_fit`` and ``glmer_fit`` (deviance functions of θ and their optimisation),
``batchfit`` (the criterion at many θ at once; refits).  Imports the base and ``spec`` only: never
inference, results, display or plots.
"""
