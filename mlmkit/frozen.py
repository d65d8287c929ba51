"""Lazily computed properties that a caller cannot change: what keeps a fitted model immutable.

A result's properties are computed on first use and cached (``functools.cached_property``).  A cached
numpy array or pandas object handed out as-is is a door into the result: ``m.theta[:] = 0`` or
``m.fixef["Days"] = 0`` would silently change every later ``coef``, ``predict`` or ``summary``.
:class:`frozen_cached` closes it:

* numpy arrays are cached as read-only views, so an in-place edit raises
  ``ValueError: assignment destination is read-only`` (the array's memory is not copied);
* pandas objects (and dicts/lists/tuples of them) stay private in the cache and each access returns a
  copy, so a caller may edit what they got without reaching the result;
* numbers, strings and other immutable values are returned as they are.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frozen_cached", "read_only", "public_copy"]


def read_only(value: np.ndarray) -> np.ndarray:
    """A read-only view of ``value`` (no copy)."""
    view = value.view()
    view.flags.writeable = False
    return view


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return read_only(value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


def public_copy(value: Any) -> Any:
    """What a caller receives: a copy of pandas objects and of containers holding them."""
    if isinstance(value, (pd.Series, pd.DataFrame)):
        return value.copy(deep=True)
    if isinstance(value, dict):
        return {k: public_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public_copy(v) for v in value]
    return value


class frozen_cached(cached_property):
    """``cached_property`` whose value cannot be changed through the object (see the module docstring).

    Unlike ``cached_property`` it is a data descriptor (it defines ``__set__``), so every access goes
    through :meth:`__get__` (a plain cached value in the instance ``__dict__`` would be returned
    directly, bypassing the copy), and assigning to the attribute is refused.
    """

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        key = "_cached_" + self.attrname
        cache = instance.__dict__
        try:
            value = cache[key]
        except KeyError:
            value = cache[key] = _freeze(self.func(instance))
        return public_copy(value)

    def __set__(self, instance, value):
        raise AttributeError(f"'{type(instance).__name__}' results are immutable: "
                             f"cannot assign to '{self.attrname}'")
