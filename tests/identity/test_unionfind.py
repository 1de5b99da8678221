"""Union-find with cannot-link constraints: joins, labels, and no transitive merge through a split."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from survey_engine.identity.unionfind import UnionFind


def test_union_and_find():
    uf = UnionFind(5)
    assert uf.union(0, 1) and uf.union(3, 4)
    assert not uf.union(1, 0)  # already joined
    assert uf.connected(0, 1) and uf.connected(3, 4) and not uf.connected(1, 3)
    assert uf.labels().tolist() == [0, 0, 1, 2, 2]


def test_labels_follow_the_first_element_of_each_component():
    uf = UnionFind(4)
    uf.union(3, 1)
    assert uf.labels().tolist() == [0, 1, 2, 1]


def test_cannot_link_blocks_the_direct_and_the_transitive_merge():
    uf = UnionFind(4, cannot_link=[(0, 3)])
    assert not uf.union(0, 3)
    assert uf.union(0, 1) and uf.union(2, 3)
    assert uf.conflict(1, 2) == (0, 3)
    assert not uf.union(1, 2)  # 0-1 and 2-3 would join 0 and 3 through the link 1-2
    assert not uf.connected(0, 3)
    assert uf.labels().tolist() == [0, 0, 1, 1]


def test_a_component_inherits_the_constraints_of_everything_it_absorbs():
    uf = UnionFind(6, cannot_link=[(0, 5)])
    for a, b in [(0, 1), (1, 2), (4, 5), (3, 4)]:
        assert uf.union(a, b)
    assert uf.conflict(2, 3) == (0, 5)
    assert not uf.union(2, 3)


def test_a_pair_naming_one_element_twice_is_refused():
    with pytest.raises(ValueError, match=r"cannot-link pair \(2, 2\)"):
        UnionFind(3, cannot_link=[(2, 2)])


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]), max_size=4),
)))
def test_components_are_those_of_the_accepted_links_and_never_hold_a_cannot_link_pair(case):
    n, links, cannot = case
    uf = UnionFind(n, cannot_link=cannot)
    accepted = [(a, b) for a, b in links if uf.union(a, b)]
    labels = uf.labels()
    for a, b in cannot:
        assert labels[a] != labels[b]
    rows, cols = [a for a, _ in accepted], [b for _, b in accepted]
    graph = coo_matrix((np.ones(len(accepted)), (rows, cols)), shape=(n, n))
    _, reference = connected_components(graph, directed=False)

    def partition(lab):
        return {frozenset(np.flatnonzero(lab == k).tolist()) for k in np.unique(lab)}

    assert partition(labels) == partition(reference)
    # greedy and maximal: every refused link would have broken a constraint
    for a, b in links:
        if not uf.connected(a, b):
            assert uf.conflict(a, b) is not None
