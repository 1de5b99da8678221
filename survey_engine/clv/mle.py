"""Maximum-likelihood machinery shared by the CLV models: optimisation on log-parameters, an
optional L2 penaliser, standard errors from the numerical Hessian and a clear non-convergence error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize

#: Gradient-norm tolerance (on the per-customer objective) above which a fit counts as not converged
#: even when the optimiser stopped for a "precision loss" reason.
_GRADIENT_ACCEPT = 1e-4


class ConvergenceError(RuntimeError):
    """Raised when a maximum-likelihood fit does not reach a stationary point.

    The message names the model, the optimiser's reason and the size of the remaining gradient;
    usual cures are more iterations (``max_iter``), a small ``penalizer`` (e.g. 0.001) or more data.
    """


@dataclass(frozen=True)
class MLEResult:
    """Outcome of :func:`fit_log_parameters` (natural-scale parameters, not logs)."""

    params: np.ndarray
    log_likelihood: float
    se: np.ndarray
    covariance: np.ndarray
    n_iter: int


def fit_log_parameters(
    loglik_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    *,
    n_obs: float,
    penalizer: float,
    tol: float,
    max_iter: int,
    model_name: str,
) -> MLEResult:
    """Maximise a log-likelihood over positive parameters by BFGS on their logarithms.

    Parameters
    ----------
    loglik_and_grad : callable
        ``theta -> (LL, dLL/dtheta)`` on the natural (positive) scale, summed over observations.
    start : ndarray
        Positive starting values.
    n_obs : float
        Total weight of the observations; the objective is the mean negative log-likelihood, so the
        tolerance and the penaliser do not depend on the sample size.
    penalizer : float
        L2 penaliser ``c``: the minimised objective is ``-LL(theta)/n_obs + c * sum(theta**2)``,
        the same form as the ``penalizer_coef`` of the *lifetimes* package. It shrinks the
        parameters towards zero and keeps the optimum finite when the data barely identify it
        (e.g. almost no repeat buyers). ``0`` gives the plain maximum-likelihood estimate.
    tol : float
        Gradient tolerance of the BFGS stopping rule.
    max_iter : int
        Iteration limit.
    model_name : str
        Used in error messages.

    Returns
    -------
    MLEResult
        Estimates, the unpenalised log-likelihood at the estimates, standard errors and covariance
        from the inverse of the observed information (numerical Hessian of ``-LL`` obtained by
        central differences of the analytic gradient); NaN standard errors when that Hessian is not
        positive definite.

    Raises
    ------
    ConvergenceError
        When the optimiser stops away from a stationary point or at non-finite values.
    """
    start = np.asarray(start, dtype=float)

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(u)
        ll, grad = loglik_and_grad(theta)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(u)
        value = -ll / n_obs + penalizer * float(np.sum(theta**2))
        # chain rule to log scale: d/du = theta * d/dtheta
        g = -(grad * theta) / n_obs + 2.0 * penalizer * theta**2
        return value, g

    with np.errstate(all="ignore"):
        res = optimize.minimize(
            objective,
            np.log(start),
            jac=True,
            method="BFGS",
            options={"gtol": tol, "maxiter": max_iter},
        )
    theta = np.exp(res.x)
    grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else np.inf
    if not (np.all(np.isfinite(theta)) and np.isfinite(res.fun)):
        raise ConvergenceError(
            f"{model_name}: the likelihood maximisation ran to non-finite values ({res.message}); "
            "try a small penalizer (e.g. 0.001)."
        )
    if not res.success and grad_norm > _GRADIENT_ACCEPT:
        raise ConvergenceError(
            f"{model_name}: maximum-likelihood fit did not converge after {res.nit} iterations "
            f"({res.message}; largest gradient component {grad_norm:.3g}). Raise max_iter, add a "
            "small penalizer (e.g. 0.001) or check the input summary."
        )
    with np.errstate(all="ignore"):
        ll, _ = loglik_and_grad(theta)
        covariance = _inverse_observed_information(loglik_and_grad, theta)
    se = np.sqrt(np.diag(covariance)) if np.all(np.isfinite(covariance)) else np.full(theta.size, np.nan)
    return MLEResult(params=theta, log_likelihood=float(ll), se=se, covariance=covariance, n_iter=int(res.nit))


def _inverse_observed_information(
    loglik_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray
) -> np.ndarray:
    """Inverse of the numerical Hessian of ``-LL`` at ``theta`` (central differences of the gradient)."""
    k = theta.size
    hessian = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = -(loglik_and_grad(up)[1] - loglik_and_grad(down)[1]) / (2.0 * h)
    hessian = 0.5 * (hessian + hessian.T)
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    return np.linalg.inv(hessian)
