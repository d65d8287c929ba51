"""Model specification: what a formula and a data frame say, before any fitting.

``formula`` (lme4's formula language), ``safe_eval`` (formulas never reach ``eval``), ``validate``
(input checks), ``design`` (``lformula``: X, y, the random-effect terms), ``factors`` (grouping
codes), ``reterms`` (the response-free random-effects structure, Z and Λ(θ)), ``families`` (GLM
families and links), ``glmresp`` (a family's view of the response), ``rescale`` (internal centring
and scaling of badly scaled covariates).  Imports only the package's base modules.
"""
