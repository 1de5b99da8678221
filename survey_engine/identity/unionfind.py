"""Disjoint sets (union-find) with cannot-link constraints, for clustering records into persons.

The structure is the classic one (Tarjan 1975; path halving and union by size give near-constant
amortised cost per operation). On top of it each component keeps the set of records it must never
contain, so a link that would put two records of a cannot-link pair into one component is refused
however indirect the path (``a``–``x``–``b``), not only when the pair itself is linked.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np


class UnionFind:
    """Disjoint sets over the integers ``0 .. n-1`` with optional cannot-link pairs.

    Parameters
    ----------
    n : int
        Number of elements.
    cannot_link : iterable of (int, int)
        Pairs that must end in different components. Elements of a pair must differ.

    Examples
    --------
    >>> uf = UnionFind(4, cannot_link=[(0, 3)])
    >>> uf.union(0, 1), uf.union(1, 2), uf.union(2, 3)
    (True, True, False)
    >>> uf.connected(0, 2), uf.connected(0, 3)
    (True, False)
    """

    def __init__(self, n: int, cannot_link: Iterable[tuple[int, int]] = ()):
        self.parent = list(range(n))
        self.size = [1] * n
        #: element -> the elements it must never share a component with (symmetric)
        self.opponents: dict[int, set[int]] = {}
        for a, b in cannot_link:
            if a == b:
                raise ValueError(f"cannot-link pair ({a}, {b}) names the same element twice")
            self.opponents.setdefault(a, set()).add(b)
            self.opponents.setdefault(b, set()).add(a)
        # root -> elements forbidden in its component; only constrained components carry a set,
        # so unconstrained unions pay nothing.
        self.forbidden: dict[int, set[int]] = {a: set(o) for a, o in self.opponents.items()}

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def connected(self, a: int, b: int) -> bool:
        return self.find(a) == self.find(b)

    def conflict(self, a: int, b: int) -> tuple[int, int] | None:
        """A cannot-link pair ``(in a's component, in b's component)`` that joining would violate."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        fa, fb = self.forbidden.get(ra), self.forbidden.get(rb)
        if not fa or not fb:  # the constraints are symmetric: both sides must carry one
            return None
        for x in fa:
            if self.find(x) == rb:
                y = next(y for y in self.opponents[x] if self.find(y) == ra)
                return (y, x)
        return None

    def union(self, a: int, b: int) -> bool:
        """Join the components of ``a`` and ``b``; ``False`` if already joined or forbidden."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        fa, fb = self.forbidden.get(ra), self.forbidden.get(rb)
        if fa and fb:
            small, other = (fa, rb) if len(fa) <= len(fb) else (fb, ra)
            if any(self.find(x) == other for x in small):
                return False
        if self.size[ra] < self.size[rb]:
            ra, rb, fa, fb = rb, ra, fb, fa
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        if fb:
            if fa:
                fa |= fb
            else:
                self.forbidden[ra] = fb
            del self.forbidden[rb]
        return True

    def labels(self) -> np.ndarray:
        """Component label of every element: ``0 .. k-1`` in order of each component's first element."""
        roots = np.fromiter((self.find(x) for x in range(len(self.parent))), dtype=np.int64,
                            count=len(self.parent))
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        return order[inverse]
