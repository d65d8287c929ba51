"""mlmkit: a Jupyter-first course kit for multilevel (mixed-effects) models in Python.

Submodules: :mod:`~mlmkit.rng` (R-identical random numbers), :mod:`~mlmkit.datasets` (the course's
data), :mod:`~mlmkit.simulate` (the tutorial's designs and a general simulator), :mod:`~mlmkit.errors`.
Further parts (``lmer``, ``glmer``, plots, checks) are imported below, one line each.
"""
__version__ = "0.1.0"

from . import errors
from . import rng
from . import datasets
from . import simulate
# Other modules: append one import per line below (no try/except: a broken import must fail loudly).
from . import checks
from .lmm import lmer
from .display import summarize, print_varcorr, VarCorr
from .glmm import glmer
from .inference.anova import anova
from .inference.bootstrap import bootstrap
from .power import power, power_curve
from . import plots
from . import explore
from . import diagram
