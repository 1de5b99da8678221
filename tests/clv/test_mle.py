"""Shared maximum-likelihood helper: convergence errors, penaliser, standard errors."""
import numpy as np
import pytest

from survey_engine.clv.bgnbd import BetaGeoModel
from survey_engine.clv.mle import ConvergenceError, fit_log_parameters


def test_too_few_iterations_raise_a_clear_convergence_error(cdnow_calibration):
    with pytest.raises(ConvergenceError, match="BG/NBD: maximum-likelihood fit did not converge after .* penalizer"):
        BetaGeoModel(max_iter=2).fit(cdnow_calibration)


def test_unbounded_likelihood_raises():
    # LL = theta^2 has no maximum: the fit must fail loudly, naming the model
    with pytest.raises(ConvergenceError, match="^toy: "):
        fit_log_parameters(lambda theta: (np.float64(theta[0]) ** 2, 2 * theta), np.array([1.0]),
                           n_obs=1.0, penalizer=0.0, tol=1e-8, max_iter=100, model_name="toy")


def test_normal_mean_and_standard_error_are_exact():
    # log-likelihood of N(mu, 1) data in mu > 0: MLE is the sample mean, se = 1/sqrt(n)
    data = np.random.default_rng(0).normal(3.0, 1.0, 400)

    def loglik(theta):
        mu = theta[0]
        return -0.5 * float(np.sum((data - mu) ** 2)), np.array([float(np.sum(data - mu))])

    result = fit_log_parameters(loglik, np.array([1.0]), n_obs=data.size, penalizer=0.0, tol=1e-10,
                                max_iter=200, model_name="normal")
    assert result.params[0] == pytest.approx(data.mean(), abs=1e-6)
    assert result.se[0] == pytest.approx(1 / np.sqrt(data.size), rel=1e-4)
    # the penalised optimum solves mean(data) - mu = 2 c mu^2 ... i.e. is pulled towards zero
    shrunk = fit_log_parameters(loglik, np.array([1.0]), n_obs=data.size, penalizer=0.05, tol=1e-10,
                                max_iter=200, model_name="normal")
    mu = shrunk.params[0]
    assert data.mean() - mu == pytest.approx(2 * 0.05 * mu, abs=1e-5)
