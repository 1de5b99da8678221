"""The generating world model behind the demo population: constructs, items, profiles and behaviour.

Everything the synthetic population is drawn from is defined here, in one place, so that the
questionnaire, the archetype catalogs and the evaluation tests can be checked against the same
numbers. The measurement model is a confirmatory factor model with simple structure,

.. math::

    y^*_{ij} = \\lambda_j \\, s_j \\, \\eta_{i, c(j)} + \\sqrt{1 - \\lambda_j^2}\\, \\varepsilon_{ij},
    \\qquad \\varepsilon_{ij} \\sim N(0, 1),

where :math:`c(j)` is the construct of item :math:`j`, :math:`\\lambda_j \\in [0.6, 0.85]` its
loading and :math:`s_j = -1` for reverse-keyed items (a respondent high on the trait gives a *low*
raw answer to a reverse item). The observed 7-point answer is the category of :math:`y^*_{ij}`
between ordinal thresholds :math:`\\tau_{j,1} < \\dots < \\tau_{j,6}` (Olsson, 1979, the model
that polychoric correlation assumes). With :math:`\\eta \\sim N(0, \\Phi)` the latent item
correlation is :math:`\\Lambda \\Phi \\Lambda^\\top` off the diagonal; :func:`generating_model`
returns these matrices.

In the demo population each customer has a hidden style archetype and relationship style, and
:math:`\\eta_i = \\mu_{style} + \\mu_{relationship} + \\sigma_w \\, \\zeta_i` with
:math:`\\zeta_i \\sim N(0, \\Phi)` (see :data:`STYLE_PROFILES`, :data:`RELATIONSHIP_PROFILES`,
:data:`WITHIN_GROUP_SD`). Archetype catalogs must describe the same profiles.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

QUESTIONNAIRE_ID = "post_purchase_luxury"
LANGUAGES = ("en", "it", "fr")
SCALE_POINTS = 7

CONSTRUCTS: tuple[str, ...] = (
    "craftsmanship_heritage",
    "exclusivity_status",
    "novelty_trends",
    "minimalism",
    "sustainability",
    "digital_community",
    "personal_service",
    "privacy_discretion",
)
#: The six style and value constructs that style archetype profiles are defined on.
STYLE_CONSTRUCTS: tuple[str, ...] = CONSTRUCTS[:6]


@dataclass(frozen=True)
class ItemSpec:
    """One Likert item of the generating model.

    Attributes
    ----------
    name : str
        Item name as in ``questionnaires/post_purchase_luxury.yaml`` (the team brief writes
        reverse-keyed items with an ``R`` suffix, ``ch4R``; the stored name is ``ch4``).
    construct : str
        The construct the item measures (one of :data:`CONSTRUCTS`).
    loading : float
        Standardised loading magnitude :math:`\\lambda_j` on the construct, after reverse keying.
    reverse : bool
        True when the raw answer is low for respondents high on the construct.
    threshold_shift : float
        Shift added to :data:`BASE_THRESHOLDS` for this item (some items are easier to endorse).
    """

    name: str
    construct: str
    loading: float
    reverse: bool
    threshold_shift: float


ITEM_SPECS: tuple[ItemSpec, ...] = (
    ItemSpec("ch1", "craftsmanship_heritage", 0.80, False, -0.15),
    ItemSpec("ch2", "craftsmanship_heritage", 0.75, False, 0.00),
    ItemSpec("ch3", "craftsmanship_heritage", 0.70, False, 0.10),
    ItemSpec("ch4", "craftsmanship_heritage", 0.62, True, 0.05),
    ItemSpec("es1", "exclusivity_status", 0.78, False, 0.10),
    ItemSpec("es2", "exclusivity_status", 0.72, False, 0.20),
    ItemSpec("es3", "exclusivity_status", 0.64, True, -0.10),
    ItemSpec("es4", "exclusivity_status", 0.80, False, 0.00),
    ItemSpec("nt1", "novelty_trends", 0.82, False, 0.05),
    ItemSpec("nt2", "novelty_trends", 0.74, False, -0.05),
    ItemSpec("nt3", "novelty_trends", 0.68, False, 0.15),
    ItemSpec("nt4", "novelty_trends", 0.60, True, 0.00),
    ItemSpec("mi1", "minimalism", 0.76, False, -0.10),
    ItemSpec("mi2", "minimalism", 0.63, True, 0.10),
    ItemSpec("mi3", "minimalism", 0.80, False, 0.00),
    ItemSpec("mi4", "minimalism", 0.70, False, -0.05),
    ItemSpec("su1", "sustainability", 0.84, False, -0.05),
    ItemSpec("su2", "sustainability", 0.77, False, 0.05),
    ItemSpec("su3", "sustainability", 0.65, True, 0.15),
    ItemSpec("su4", "sustainability", 0.72, False, -0.20),
    ItemSpec("dc1", "digital_community", 0.80, False, 0.20),
    ItemSpec("dc2", "digital_community", 0.75, False, 0.10),
    ItemSpec("dc3", "digital_community", 0.71, False, 0.00),
    ItemSpec("dc4", "digital_community", 0.62, True, -0.05),
    ItemSpec("ps1", "personal_service", 0.82, False, -0.10),
    ItemSpec("ps2", "personal_service", 0.78, False, 0.00),
    ItemSpec("ps3", "personal_service", 0.72, False, 0.10),
    ItemSpec("pr1", "privacy_discretion", 0.80, False, 0.00),
    ItemSpec("pr2", "privacy_discretion", 0.70, True, 0.10),
    ItemSpec("pr3", "privacy_discretion", 0.76, False, -0.10),
)

LIKERT_ITEMS: tuple[str, ...] = tuple(spec.name for spec in ITEM_SPECS)
REVERSE_ITEMS: frozenset[str] = frozenset(spec.name for spec in ITEM_SPECS if spec.reverse)
ITEM_CONSTRUCT: Mapping[str, str] = MappingProxyType({s.name: s.construct for s in ITEM_SPECS})
CONSTRUCT_ITEMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {c: tuple(s.name for s in ITEM_SPECS if s.construct == c) for c in CONSTRUCTS}
)

#: Cumulative shares 5%, 13%, 27%, 47%, 70%, 89% at zero trait: luxury clients agree more often
#: than they disagree, as post-purchase surveys usually show.
BASE_THRESHOLDS: np.ndarray = norm.ppf([0.05, 0.13, 0.27, 0.47, 0.70, 0.89])
BASE_THRESHOLDS.setflags(write=False)

#: Correlation of the latent constructs (order of :data:`CONSTRUCTS`); modest, positive definite.
LATENT_CORRELATION: np.ndarray = np.array(
    [
        # CH    ES     NT     MI     SU     DC     PS     PR
        [1.00, 0.30, -0.15, 0.10, 0.20, -0.10, 0.25, 0.10],  # craftsmanship_heritage
        [0.30, 1.00, 0.25, -0.20, -0.10, 0.20, 0.30, -0.05],  # exclusivity_status
        [-0.15, 0.25, 1.00, -0.15, 0.05, 0.35, 0.05, -0.15],  # novelty_trends
        [0.10, -0.20, -0.15, 1.00, 0.20, -0.10, 0.00, 0.20],  # minimalism
        [0.20, -0.10, 0.05, 0.20, 1.00, 0.05, 0.05, 0.05],  # sustainability
        [-0.10, 0.20, 0.35, -0.10, 0.05, 1.00, 0.10, -0.30],  # digital_community
        [0.25, 0.30, 0.05, 0.00, 0.05, 0.10, 1.00, 0.15],  # personal_service
        [0.10, -0.05, -0.15, 0.20, 0.05, -0.30, 0.15, 1.00],  # privacy_discretion
    ]
)
LATENT_CORRELATION.setflags(write=False)

STYLE_ARCHETYPES: tuple[str, ...] = (
    "modern_minimalist",
    "vintage_romantic",
    "bold_maximalist",
    "classic_heritage",
    "avant_garde_creative",
    "ethical_luxury_seeker",
)
RELATIONSHIP_STYLES: tuple[str, ...] = (
    "heritage_appreciation",
    "status_exclusivity",
    "personalised_service",
    "digital_community",
    "discreet_privacy",
)

#: Latent mean of each style archetype on the six style/value constructs (zero on
#: ``personal_service`` and ``privacy_discretion``), on the scale of the generating model's
#: unit-variance factors; within one group the constructs spread with :data:`WITHIN_GROUP_SD`.
STYLE_PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        # Clean lines, few pieces, quiet quality.
        "modern_minimalist": MappingProxyType({
            "craftsmanship_heritage": 0.0, "exclusivity_status": -0.3, "novelty_trends": 0.3,
            "minimalism": 1.4, "sustainability": 0.3, "digital_community": 0.0}),
        # Romance, the past, softness and sentiment; away from trends and restraint.
        "vintage_romantic": MappingProxyType({
            "craftsmanship_heritage": 0.8, "exclusivity_status": -0.4, "novelty_trends": -1.0,
            "minimalism": -0.7, "sustainability": 0.6, "digital_community": -0.4}),
        # More is more: statement pieces, trends, being seen.
        "bold_maximalist": MappingProxyType({
            "craftsmanship_heritage": -0.3, "exclusivity_status": 0.9, "novelty_trends": 1.1,
            "minimalism": -1.3, "sustainability": -0.5, "digital_community": 0.5}),
        # Heritage houses, savoir-faire, investment pieces.
        "classic_heritage": MappingProxyType({
            "craftsmanship_heritage": 1.4, "exclusivity_status": 0.6, "novelty_trends": -0.5,
            "minimalism": 0.4, "sustainability": -0.3, "digital_community": -0.6}),
        # Experimental design, newness, creative communities.
        "avant_garde_creative": MappingProxyType({
            "craftsmanship_heritage": -0.5, "exclusivity_status": -0.3, "novelty_trends": 1.3,
            "minimalism": -0.2, "sustainability": 0.3, "digital_community": 0.9}),
        # Provenance, ethics and longevity over display.
        "ethical_luxury_seeker": MappingProxyType({
            "craftsmanship_heritage": 0.3, "exclusivity_status": -0.9, "novelty_trends": -0.3,
            "minimalism": 0.4, "sustainability": 1.5, "digital_community": -0.1}),
    }
)

#: Latent mean shift of each relationship style; each has one primary construct
#: (:data:`RELATIONSHIP_PRIMARY_CONSTRUCT`) and small secondary shifts.
RELATIONSHIP_PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "heritage_appreciation": MappingProxyType(
            {"craftsmanship_heritage": 1.5, "personal_service": 0.2}),
        "status_exclusivity": MappingProxyType(
            {"exclusivity_status": 1.6, "personal_service": 0.3, "privacy_discretion": -0.2}),
        "personalised_service": MappingProxyType(
            {"personal_service": 1.7, "privacy_discretion": 0.2}),
        "digital_community": MappingProxyType(
            {"digital_community": 1.6, "privacy_discretion": -0.5}),
        "discreet_privacy": MappingProxyType(
            {"privacy_discretion": 1.7, "digital_community": -0.4, "exclusivity_status": -0.3}),
    }
)
RELATIONSHIP_PRIMARY_CONSTRUCT: Mapping[str, str] = MappingProxyType(
    {
        "heritage_appreciation": "craftsmanship_heritage",
        "status_exclusivity": "exclusivity_status",
        "personalised_service": "personal_service",
        "digital_community": "digital_community",
        "discreet_privacy": "privacy_discretion",
    }
)

#: Standard deviation of the latent constructs within one (style, relationship) group. With three
#: or four items per construct, this spread keeps the groups separable from Likert answers alone
#: (cross-validated LDA on construct means: style ARI about 0.5, relationship ARI about 0.55).
WITHIN_GROUP_SD = 0.6

#: Population shares of the hidden groups (drawn independently of each other).
STYLE_SHARES: Mapping[str, float] = MappingProxyType({
    "modern_minimalist": 0.20, "vintage_romantic": 0.15, "bold_maximalist": 0.14,
    "classic_heritage": 0.21, "avant_garde_creative": 0.12, "ethical_luxury_seeker": 0.18})
RELATIONSHIP_SHARES: Mapping[str, float] = MappingProxyType({
    "heritage_appreciation": 0.22, "status_exclusivity": 0.22, "personalised_service": 0.24,
    "digital_community": 0.16, "discreet_privacy": 0.16})

# ---- non-Likert questionnaire items ------------------------------------------------------------
ATTENTION_ITEM = "attn1"
ATTENTION_EXPECTED = 6
NPS_ITEM = "nps"
CATEGORIES: tuple[str, ...] = (
    "leather_goods", "jewellery", "watches", "ready_to_wear", "shoes", "fragrance_beauty")
SURVEY_CHANNELS: tuple[str, ...] = ("boutique", "website", "app", "social_media", "events")
TEXT_ITEMS: Mapping[str, int] = MappingProxyType(
    {"style_words": 500, "special_purchase": 1000, "improve": 1000})
#: ``improve`` is shown only when the NPS answer is at most this value.
IMPROVE_MAX_NPS = 6

# ---- behaviour tied to the hidden groups -------------------------------------------------------
#: Probability of each product category (order of :data:`CATEGORIES`) per style archetype.
CATEGORY_PREFERENCES: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "modern_minimalist": (0.25, 0.15, 0.15, 0.25, 0.10, 0.10),
    "vintage_romantic": (0.15, 0.35, 0.10, 0.15, 0.10, 0.15),
    "bold_maximalist": (0.15, 0.20, 0.05, 0.30, 0.20, 0.10),
    "classic_heritage": (0.25, 0.15, 0.35, 0.10, 0.10, 0.05),
    "avant_garde_creative": (0.10, 0.15, 0.05, 0.40, 0.20, 0.10),
    "ethical_luxury_seeker": (0.25, 0.15, 0.10, 0.25, 0.10, 0.15),
})
TRANSACTION_CHANNELS: tuple[str, ...] = ("store", "online", "app")
#: Probability of store / online / app per relationship style.
CHANNEL_PREFERENCES: Mapping[str, tuple[float, float, float]] = MappingProxyType({
    "heritage_appreciation": (0.70, 0.25, 0.05),
    "status_exclusivity": (0.65, 0.25, 0.10),
    "personalised_service": (0.85, 0.12, 0.03),
    "digital_community": (0.25, 0.35, 0.40),
    "discreet_privacy": (0.40, 0.55, 0.05),
})
#: Probability that a respondent ticks each survey channel (order of :data:`SURVEY_CHANNELS`).
SURVEY_CHANNEL_PROBABILITIES: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "heritage_appreciation": (0.85, 0.40, 0.10, 0.10, 0.25),
    "status_exclusivity": (0.80, 0.40, 0.25, 0.35, 0.45),
    "personalised_service": (0.95, 0.25, 0.10, 0.05, 0.40),
    "digital_community": (0.35, 0.60, 0.70, 0.75, 0.20),
    "discreet_privacy": (0.50, 0.70, 0.15, 0.03, 0.05),
})
#: Mild value link: multiplier on the customer's mean order value and purchase rate.
SPEND_MULTIPLIERS: Mapping[str, float] = MappingProxyType({
    "heritage_appreciation": 1.15, "status_exclusivity": 1.6, "personalised_service": 1.3,
    "digital_community": 0.8, "discreet_privacy": 1.1})
RATE_MULTIPLIERS: Mapping[str, float] = MappingProxyType({
    "heritage_appreciation": 1.0, "status_exclusivity": 1.1, "personalised_service": 1.2,
    "digital_community": 1.3, "discreet_privacy": 0.9})


def _check_world() -> None:
    """Fail at import when the constants above contradict each other (cheap, runs once)."""
    for spec in ITEM_SPECS:
        if spec.construct not in CONSTRUCTS or not 0.6 <= spec.loading <= 0.85:
            raise ValueError(f"world model: bad item spec {spec}")
    for table, keys in ((STYLE_PROFILES, STYLE_ARCHETYPES), (RELATIONSHIP_PROFILES, RELATIONSHIP_STYLES)):
        if tuple(table) != keys:
            raise ValueError("world model: profile keys out of order")
        for name, profile in table.items():
            unknown = set(profile) - set(CONSTRUCTS)
            if unknown:
                raise ValueError(f"world model: profile {name!r} names unknown constructs {unknown}")
    if np.linalg.eigvalsh(LATENT_CORRELATION).min() <= 0.1:
        raise ValueError("world model: LATENT_CORRELATION is not comfortably positive definite")
    for shares in (STYLE_SHARES, RELATIONSHIP_SHARES):
        if abs(sum(shares.values()) - 1) > 1e-9:
            raise ValueError("world model: shares do not sum to 1")


_check_world()


def profile_frame(kind: str = "style") -> pd.DataFrame:
    """Profiles as a DataFrame (rows: archetypes, columns: all eight :data:`CONSTRUCTS`).

    Parameters
    ----------
    kind : {"style", "relationship"}
        Which catalog's profiles to return.
    """
    tables = {"style": (STYLE_PROFILES, STYLE_ARCHETYPES),
              "relationship": (RELATIONSHIP_PROFILES, RELATIONSHIP_STYLES)}
    if kind not in tables:
        raise ValueError(f"kind must be one of {sorted(tables)}, got {kind!r}")
    table, rows = tables[kind]
    frame = pd.DataFrame(0.0, index=pd.Index(rows, name=kind), columns=list(CONSTRUCTS))
    for name, profile in table.items():
        for construct, value in profile.items():
            frame.loc[name, construct] = value
    return frame


def latent_means(style: np.ndarray, relationship: np.ndarray) -> np.ndarray:
    """Latent mean vectors for arrays of group codes.

    Parameters
    ----------
    style, relationship : ndarray of int
        Indices into :data:`STYLE_ARCHETYPES` and :data:`RELATIONSHIP_STYLES`.

    Returns
    -------
    ndarray of shape (n, 8)
        :math:`\\mu_{style} + \\mu_{relationship}` in the order of :data:`CONSTRUCTS`.
    """
    return (profile_frame("style").to_numpy()[style]
            + profile_frame("relationship").to_numpy()[relationship])


@dataclass(frozen=True)
class GeneratingModel:
    """The ordinal factor model the Likert answers are drawn from.

    Attributes
    ----------
    items : tuple of str
        Item names, the row order of every item-indexed array.
    constructs : tuple of str
        Factor names, the column order of :attr:`loadings`.
    loadings : ndarray of shape (30, 8)
        Loadings of the *raw* answers (negative for reverse-keyed items).
    factor_correlation : ndarray of shape (8, 8)
        Latent correlation :math:`\\Phi`.
    thresholds : ndarray of shape (30, 6)
        Ordinal thresholds on the standard-normal :math:`y^*` scale; answer ``k`` (1–7) is drawn
        when :math:`\\tau_{k-1} < y^* \\le \\tau_k`.
    reverse : ndarray of bool, shape (30,)
        Reverse-keyed items.
    """

    items: tuple[str, ...]
    constructs: tuple[str, ...]
    loadings: np.ndarray
    factor_correlation: np.ndarray
    thresholds: np.ndarray
    reverse: np.ndarray

    @property
    def n_factors(self) -> int:
        return len(self.constructs)

    @property
    def keyed_loadings(self) -> np.ndarray:
        """Loadings after reverse keying (all non-negative), as an analysis recovers them."""
        return np.abs(self.loadings)

    @property
    def uniquenesses(self) -> np.ndarray:
        return 1.0 - (self.loadings**2).sum(axis=1)

    def item_correlation(self, keyed: bool = False) -> np.ndarray:
        """Latent (polychoric) item correlation :math:`\\Lambda\\Phi\\Lambda^\\top` with unit diagonal.

        Parameters
        ----------
        keyed : bool
            If True, the correlation after reverse keying (``8 - answer``) of reverse items.
        """
        lam = self.keyed_loadings if keyed else self.loadings
        corr = lam @ self.factor_correlation @ lam.T
        np.fill_diagonal(corr, 1.0)
        return corr

    def loadings_frame(self, keyed: bool = False) -> pd.DataFrame:
        lam = self.keyed_loadings if keyed else self.loadings
        return pd.DataFrame(lam, index=list(self.items), columns=list(self.constructs))

    def category_probabilities(self) -> np.ndarray:
        """Marginal probability of each answer 1–7 per item (shape 30 × 7) when :math:`\\eta \\sim N(0, \\Phi)`."""
        cdf = norm.cdf(self.thresholds)
        cdf = np.hstack([np.zeros((len(self.items), 1)), cdf, np.ones((len(self.items), 1))])
        return np.diff(cdf, axis=1)


def generating_model() -> GeneratingModel:
    """Return the generating loadings, latent correlation and thresholds of the Likert items."""
    loadings = np.zeros((len(ITEM_SPECS), len(CONSTRUCTS)))
    thresholds = np.empty((len(ITEM_SPECS), SCALE_POINTS - 1))
    for j, spec in enumerate(ITEM_SPECS):
        loadings[j, CONSTRUCTS.index(spec.construct)] = -spec.loading if spec.reverse else spec.loading
        thresholds[j] = BASE_THRESHOLDS + spec.threshold_shift
    reverse = np.array([spec.reverse for spec in ITEM_SPECS])
    arrays = [loadings, thresholds, reverse, LATENT_CORRELATION.copy()]
    for array in arrays:
        array.setflags(write=False)
    return GeneratingModel(LIKERT_ITEMS, CONSTRUCTS, loadings, arrays[3], thresholds, reverse)


def ordinal_answers(latent: np.ndarray, model: GeneratingModel, rng: np.random.Generator) -> np.ndarray:
    """Draw 7-point answers for latent construct scores through the ordinal factor model.

    Parameters
    ----------
    latent : ndarray of shape (n, 8)
        Construct scores :math:`\\eta_i`.
    model : GeneratingModel
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int8, shape (n, 30)
        Raw answers 1–7 (reverse items not recoded).
    """
    lam = model.loadings
    unique_sd = np.sqrt(1.0 - (lam**2).sum(axis=1))
    ystar = latent @ lam.T
    ystar += rng.standard_normal(ystar.shape) * unique_sd
    answers = np.ones(ystar.shape, dtype=np.int8)
    for k in range(model.thresholds.shape[1]):
        answers += ystar > model.thresholds[:, k]
    return answers
