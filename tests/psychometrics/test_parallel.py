import numpy as np
import pytest

from survey_engine.psychometrics.parallel import parallel_analysis, reduced_eigenvalues

from .conftest import keyed


@pytest.mark.parametrize("kind", ["pearson", "polychoric"])
def test_finds_the_generating_number_of_factors(world, sample_3000, kind):
    result = parallel_analysis(keyed(sample_3000).to_numpy(), kind=kind, n_iter=10)
    assert result["suggested_factors"] == len(world.constructs)
    assert len(result["eigenvalues"]) == len(result["simulated"]) == 30
    assert result["component_eigenvalues"][0] > result["component_eigenvalues"][-1]


def test_independent_items_suggest_one_factor_at_most():
    X = np.random.default_rng(0).integers(1, 8, size=(1000, 12)).astype(float)
    assert parallel_analysis(X, kind="pearson", n_iter=10)["suggested_factors"] == 1


def test_reduced_eigenvalues_use_squared_multiple_correlations():
    R = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])
    smc = 1 - 1 / np.diag(np.linalg.inv(R))
    reduced = R.copy()
    np.fill_diagonal(reduced, smc)
    np.testing.assert_allclose(reduced_eigenvalues(R), np.sort(np.linalg.eigvalsh(reduced))[::-1])
