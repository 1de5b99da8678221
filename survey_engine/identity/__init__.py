"""Identity resolution: normalise customer records from several systems, link them by
deterministic and scored rules, cluster them into persons and build a golden record for each
(pure pandas/numpy; no database). See ``docs/identity.md``."""
from survey_engine.identity.linking import IdentityResolver, Resolution, resolve

__all__ = ["IdentityResolver", "Resolution", "resolve"]
