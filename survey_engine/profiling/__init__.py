"""Combined client profiles: a person's value from the active CLV model, tiers against a stored
reference, contact policy and next best action, and the drift audit. Pure numpy/pandas; the
database side is ``survey_engine.services.profiles``."""
