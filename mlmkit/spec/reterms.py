"""The random-effects terms in the two-block layout of the linear algebra (lme4's ``mkReTrms``).

Block 1 holds every term on the grouping factor with the most random effects (one q₁ × q₁ block of
Λ'Z'ZΛ + I per level); block 2 the remaining terms (crossed or nested factors), with Z₂ sparse.
:class:`REStructure` is built once per design and read by the engine's linear algebra.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

__all__ = ["REStructure"]

@dataclass(frozen=True, eq=False)
class REStructure:
    """The random-effects design in the two-block layout described in the module docstring.

    Block 1: ``codes1`` (n,) level of each row, ``z1`` (n, q1) the rows of its terms' columns,
    ``lam1_index`` (q1, q1) position in θ of each element of Λ₁ (-1 for a structural zero).
    Block 2: ``Z2`` (n, q2) sparse, and Λ₂ given by the lower-triangular pattern (``lam2_rows``,
    ``lam2_cols``, ``lam2_theta``).  ``term_slices`` maps each term to (block, column offset).
    """

    n1: int
    codes1: np.ndarray
    z1: np.ndarray
    lam1_index: np.ndarray
    block2: tuple                       # block 2's terms (Z₂ is built from them only when asked for)
    lam2_rows: np.ndarray
    lam2_cols: np.ndarray
    lam2_theta: np.ndarray
    term_slices: tuple[tuple[int, int], ...]
    term_theta: tuple[int, ...] = ()      # first θ index of each term
    term_sizes: tuple[int, ...] = ()      # number of random effects of each term (levels × q)

    @property
    def all_scalar(self) -> bool:
        """Every term a scalar random effect (crossed/nested random intercepts): Λ is diagonal."""
        return self.q1 == 1 and len(self.lam2_theta) == self.q2

    @property
    def q1(self) -> int:
        return self.z1.shape[1]

    @property
    def q2(self) -> int:
        return sum(t.n_levels * t.q for t in self.block2)

    @cached_property
    def Z2(self) -> sp.csc_matrix | None:
        """Block 2 of Z, sparse n × q2, or None.  Built on first use: a crossed lmer's cross-products
        come from the codes (:func:`_scalar_products`), and at two million rows each scalar term's
        sparse block would hold 24 MB."""
        if not self.block2:
            return None
        blocks = [_term_csc(t.codes, t.values, t.n_levels) for t in self.block2]
        return sp.hstack(blocks, format="csc")

    @classmethod
    def from_terms(cls, terms, n: int) -> "REStructure":
        sizes = {}
        for t in terms:
            sizes[t.group] = sizes.get(t.group, 0) + t.n_levels * t.q
        first = max(sizes, key=sizes.get)           # the first of equal sizes
        block1 = [t for t in terms if t.group == first]
        q1 = sum(t.q for t in block1)
        lam1_index = -np.ones((q1, q1), dtype=np.int64)
        slices, off1, off2 = [], 0, 0
        rows2, cols2, theta2 = [], [], []
        for t in terms:
            r, c = t.tri_indices
            tidx = t.theta_offset + np.arange(t.n_theta)
            if t.group == first:
                lam1_index[off1 + r, off1 + c] = tidx
                slices.append((1, off1))
                off1 += t.q
            else:
                base = off2 + np.arange(t.n_levels)[:, None] * t.q          # (levels, 1)
                rows2.append((base + r).ravel())
                cols2.append((base + c).ravel())
                theta2.append(np.broadcast_to(tidx, (t.n_levels, t.n_theta)).ravel())
                slices.append((2, off2))
                off2 += t.n_levels * t.q
        block2 = tuple(t for t in terms if t.group != first)
        cat = (lambda xs: np.concatenate(xs) if xs else np.empty(0, dtype=np.int64))
        return cls(n1=block1[0].n_levels, codes1=block1[0].codes,
                   z1=block1[0].values if len(block1) == 1 else np.column_stack([t.values for t in block1]), lam1_index=lam1_index, block2=block2,
                   lam2_rows=cat(rows2), lam2_cols=cat(cols2), lam2_theta=cat(theta2),
                   term_slices=tuple(slices), term_theta=tuple(t.theta_offset for t in terms),
                   term_sizes=tuple(t.n_levels * t.q for t in terms))

    def lambda1(self, theta: np.ndarray) -> np.ndarray:
        return np.where(self.lam1_index >= 0, np.append(theta, 0.0)[self.lam1_index], 0.0)

    def lambda2(self, theta: np.ndarray) -> sp.csc_matrix:
        return sp.csc_matrix((np.asarray(theta, float)[self.lam2_theta], (self.lam2_rows, self.lam2_cols)),
                             shape=(self.q2, self.q2))

    @cached_property
    def theta_rc(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) in Λ₁ of each θ element (block-1 models only, used by the analytic gradient)."""
        k = self.lam1_index
        pos = np.argwhere(k >= 0)
        order = np.argsort(k[pos[:, 0], pos[:, 1]])
        return pos[order, 0], pos[order, 1]

    @cached_property
    def Z1(self) -> sp.csc_matrix:
        """Block 1 of Z as a sparse n × (n1·q1) matrix (only needed when block 2 exists)."""
        return _term_csc(self.codes1, self.z1, self.n1)

    def Zb(self, b1: np.ndarray, b2: np.ndarray | None) -> np.ndarray:
        """Z b for block-1 effects b1 (n1, q1) and block-2 effects b2 (q2,)."""
        out = np.einsum("ij,ij->i", self.z1, b1[self.codes1])
        if self.q2 and b2 is not None:
            out = out + self.Z2 @ b2
        return out


def _term_csc(codes: np.ndarray, values: np.ndarray, n_levels: int) -> sp.csc_matrix:
    """A term's block of Z (n × levels·q) in CSC form.  A scalar term's directly: the rows of each
    level in order, by a stable argsort of the codes (the same matrix as from (row, column)
    triplets, without their n-long index arrays)."""
    n, q = values.shape
    if q > 1:
        cols = codes[:, None].astype(np.int64) * q + np.arange(q)
        rows = np.repeat(np.arange(n), q)
        return sp.csc_matrix((np.asarray(values).ravel(), (rows, cols.ravel())),
                             shape=(n, n_levels * q))
    order = np.argsort(codes, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_levels))])
    idx = order.astype(np.int32) if n < 2**31 else order
    return sp.csc_matrix((values[order, 0], idx, indptr), shape=(n, n_levels))
