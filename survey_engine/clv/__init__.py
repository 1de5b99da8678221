"""Customer lifetime value: RFM summaries, BG/NBD and Gamma-Gamma models, predictions and value tiers.

Pure analysis core: pandas/numpy in, pandas/numpy out; no Flask and no SQL. The database import,
stored models and CLI live in ``survey_engine.services.clv`` and ``survey_engine.commands.clv``.
"""
from survey_engine.clv.bgnbd import BetaGeoModel
from survey_engine.clv.gamma_gamma import GammaGammaModel
from survey_engine.clv.mle import ConvergenceError
from survey_engine.clv.summary import TIME_UNITS, calibration_holdout_summary, summary_from_transactions

__all__ = [
    "TIME_UNITS",
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "calibration_holdout_summary",
    "summary_from_transactions",
]
