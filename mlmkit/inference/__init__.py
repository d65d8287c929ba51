"""Inference on fitted models: profiles, intervals, the parametric bootstrap, likelihood-ratio tables.

``parameters`` (names and transformations of the parameters), ``profile``, ``intervals``
(``confint``), ``bootstrap``, ``montecarlo`` (the one replicate runner of bootstrap and power),
``anova``, ``condvar`` (conditional covariances of the random effects).  Reads fitted results by
duck typing and calls the engine; never imports the result classes, display or plots.
"""
