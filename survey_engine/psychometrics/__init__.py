"""Psychometric engine: Likert item matrices in, factors, reliability and factor scores out.

Pure analysis (numpy/pandas/scipy/factor_analyzer); no Flask and no SQL. The main entry points are
``analyse`` / ``run_analysis`` (the full report) and ``FactorModel`` (fit, transform, score one
response).
"""
from survey_engine.psychometrics.analysis import AnalysisResult, analyse, run_analysis
from survey_engine.psychometrics.efa import FactorModel
from survey_engine.psychometrics.quality import QualityGates

__all__ = ["AnalysisResult", "FactorModel", "QualityGates", "analyse", "run_analysis"]
