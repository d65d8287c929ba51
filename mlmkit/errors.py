"""One error hierarchy for mlmkit.

Every problem mlmkit detects in a user's input raises a subclass of :class:`MlmkitError`, which
derives from :class:`ValueError`, so ``except ValueError`` catches them all.  Messages name the
offending column, formula fragment or family, and say what to do about it.

>>> import mlmkit
>>> mlmkit.lmer("y ~ x", df)                                         # doctest: +SKIP
FormulaError: no random-effects term in 'y ~ x': add one such as '(1 | group)', or use an ordinary
regression (statsmodels.formula.api.ols) for a model without random effects.
"""
from __future__ import annotations

__all__ = [
    "MlmkitError", "FormulaError", "DataError", "FamilyError", "ParameterError",
    "ConvergenceError", "MlmkitWarning", "ConvergenceWarning", "SingularFitWarning",
]


class MlmkitError(ValueError):
    """Base class of every error mlmkit raises about its input."""


class FormulaError(MlmkitError):
    """The model formula cannot be understood; the message quotes the offending part."""

    def __init__(self, message: str, formula: str | None = None, fragment: str | None = None):
        self.formula = formula
        self.fragment = fragment
        text = message
        if formula is not None:
            text += f"\n  in formula: {formula}"
            if fragment is not None and fragment in formula:
                start = formula.index(fragment)
                text += "\n" + " " * (len("  in formula: ") + start) + "^" * max(len(fragment), 1)
        super().__init__(text)


class DataError(MlmkitError):
    """The data do not fit the model: a missing column, a bad value, too few groups..."""


class FamilyError(MlmkitError):
    """An unknown GLM family or link, or a response the family cannot take."""


class ParameterError(MlmkitError):
    """An argument out of range: a negative variance, a level outside (0, 1), an unknown parameter name."""


class ConvergenceError(MlmkitError):
    """The fitting algorithm failed in a way that leaves no trustworthy answer."""


class MlmkitWarning(UserWarning):
    """Base class of mlmkit's warnings."""


class ConvergenceWarning(MlmkitWarning):
    """The optimiser stopped without meeting lme4's convergence check."""


class SingularFitWarning(MlmkitWarning):
    """A boundary (singular) fit: a variance estimated as zero or a correlation of +/-1."""
