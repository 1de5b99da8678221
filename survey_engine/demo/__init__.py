"""Reproducible synthetic luxury clients for demos, tests and benchmarks (pure numpy/pandas).

- :func:`generate_population` — customers, source-system copies, survey responses and
  transactions, with the hidden ground truth in a separate object.
- :func:`iter_transactions` — a chunked stream of BG/NBD transactions for any number of customers.
- :func:`generate_likert_matrix` — raw answers to the 30 Likert items from the known factor model.
- :mod:`survey_engine.demo.world` — the generating model itself (constructs, items, loadings,
  thresholds, archetype profiles), see :func:`survey_engine.demo.world.generating_model`.
"""
from survey_engine.demo.population import DemoPopulation, GroundTruth, generate_population
from survey_engine.demo.purchases import DEFAULT_PURCHASE_PARAMS, PurchaseParams, iter_transactions
from survey_engine.demo.survey import generate_likert_matrix
from survey_engine.demo.world import GeneratingModel, generating_model

__all__ = [
    "DEFAULT_PURCHASE_PARAMS",
    "DemoPopulation",
    "GeneratingModel",
    "GroundTruth",
    "PurchaseParams",
    "generate_likert_matrix",
    "generate_population",
    "generating_model",
    "iter_transactions",
]
