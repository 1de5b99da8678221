"""Linking source records into persons: deterministic rules, a scored fuzzy rule, union-find.

Records are first normalised (:mod:`survey_engine.identity.normalise`); then

1. **deterministic rules** link pairs that share an identifier, unless something on the pair
   contradicts it:

   - ``external_id``: the same id from another system (the CRM number on a store receipt);
   - ``email``: the same normalised address, and first names that are not different (two
     different first names on one address are a family address);
   - ``phone_name``: the same E.164 number, the same last name (equal, or one typo or umlaut
     spelling apart), first names that are not different, and no conflicting email. A household
     shares a landline and a surname, so a phone and a last name alone would merge spouses; a
     father and son of one name at one landline differ only by email.

   "Not different" means equal, nickname-equivalent (:data:`~survey_engine.identity.normalise.NICKNAMES`),
   an initial of the other, Jaro–Winkler similarity of at least ``name_similarity``, or missing.
   Pairs a guard holds back are still scored by the fuzzy rule.
2. a **fuzzy rule** scores candidate pairs found by blocking (:data:`BLOCKING_RULES`: same phone,
   or same postcode with the same last-name Soundex or the same first name) with the
   Fellegi–Sunter model (Fellegi & Sunter 1969, *JASA* 64(328), 1183–1210): each comparison
   (first name, last name, postcode, phone, email) falls into a level (:data:`LEVELS`), and the
   pair's match weight and match probability are

   .. math::

       w = \\log_2 \\frac{\\lambda}{1-\\lambda} + \\sum_k \\log_2 \\frac{m_k(\\ell_k)}{u_k(\\ell_k)},
       \\qquad p = \\frac{1}{1 + 2^{-w}},

   where :math:`m_k(\\ell) = P(\\text{level } \\ell \\mid \\text{match})`,
   :math:`u_k(\\ell) = P(\\ell \\mid \\text{non-match})` and :math:`\\lambda` is the probability
   that two random records of one country match. :meth:`IdentityResolver.fit` estimates them the
   way Splink does: :math:`u` from random record pairs (of the same country: names and postcodes
   depend on it, and every blocking rule stays within one country), :math:`m` from the pairs the
   deterministic rules linked (each comparison from pairs whose rule does not involve it) and
   :math:`\\lambda` from the number of deterministically linked pairs over their assumed recall.
   A pair is linked when both names are present and pass the name gate (first name not
   different, last name at least ``name_similarity``), a phone or the postcode agrees, and
   :math:`p` reaches ``threshold``. On the demo population the probabilities are calibrated (the observed share of
   true matches in each probability band is close to the band's mean; tested);
3. **clustering** joins linked records with union-find, strongest evidence first (manual
   must-links, then ``external_id``, ``email``, ``phone_name``, then fuzzy links by score), and
   refuses any link that would put the two records of a cannot-link pair in one person, however
   indirect the path (the refused links are reported);
4. a **golden record** per person is assembled by the survivorship rules in :data:`SURVIVORSHIP`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from survey_engine.identity.normalise import first_name_forms, normalise_records, umlaut_variant
from survey_engine.identity.unionfind import UnionFind

DETERMINISTIC_RULES: tuple[str, ...] = ("external_id", "email", "phone_name")
FUZZY_RULE = "fuzzy"
MANUAL_RULE = "manual"
RULES: tuple[str, ...] = DETERMINISTIC_RULES + (FUZZY_RULE,)
#: Order in which links are applied by union-find; an earlier link wins a cannot-link conflict.
RULE_PRIORITY: Mapping[str, int] = MappingProxyType(
    {MANUAL_RULE: 0, "external_id": 1, "email": 2, "phone_name": 3, FUZZY_RULE: 4})

#: Candidate pairs for the fuzzy rule: records sharing all the columns of one rule. Every rule
#: includes a phone or a postcode, the corroboration the fuzzy rule requires besides the names.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("phone_e164",),
    ("country_norm", "postcode_norm", "last_soundex"),
    ("country_norm", "postcode_norm", "first_key"),
)

#: Comparison levels, strongest first; ``missing`` (a value absent on either side) weighs 0.
LEVELS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "first_name": ("exact", "nickname", "close", "similar", "different", "missing"),
    "last_name": ("exact", "close", "similar", "different", "missing"),
    "postcode": ("exact", "different", "missing"),
    "phone": ("exact", "different", "missing"),
    "email": ("exact", "different", "missing"),
})
#: Jaro–Winkler similarity at or above which a name is ``close`` (``similar`` starts at the
#: resolver's ``name_similarity``).
CLOSE_SIMILARITY = 0.92

#: Starting values of m and u, used when the data hold too few pairs to estimate them (fewer than
#: ``min_training_pairs``). Typical magnitudes from the record-linkage literature (Winkler 1990;
#: Splink's defaults): identifiers agree for most matches and almost no non-matches.
DEFAULT_M: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "first_name": {"exact": 0.85, "nickname": 0.05, "close": 0.05, "similar": 0.03, "different": 0.02},
    "last_name": {"exact": 0.92, "close": 0.04, "similar": 0.02, "different": 0.02},
    "postcode": {"exact": 0.90, "different": 0.10},
    "phone": {"exact": 0.90, "different": 0.10},
    "email": {"exact": 0.85, "different": 0.15},
})
DEFAULT_U: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "first_name": {"exact": 0.02, "nickname": 0.001, "close": 0.002, "similar": 0.01, "different": 0.967},
    "last_name": {"exact": 0.01, "close": 0.002, "similar": 0.005, "different": 0.983},
    "postcode": {"exact": 0.01, "different": 0.99},
    "phone": {"exact": 1e-5, "different": 1 - 1e-5},
    "email": {"exact": 1e-5, "different": 1 - 1e-5},
})

#: Golden-record survivorship: for each field, the order in which candidate values are ranked.
#: ``priority`` = rank of the record's source in ``source_priority`` (the system of record first),
#: ``complete`` = the more informative spelling (accents kept, not all capitals, longer),
#: ``recent`` = newest ``created_at`` first, ``oldest`` = earliest first. Address fields come
#: together from one record, so a postcode is never paired with another record's city; for the
#: address ``complete`` means postcode and city before city alone.
SURVIVORSHIP: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "first_name": ("priority", "complete", "recent"),
    "last_name": ("priority", "complete", "recent"),
    "email": ("recent", "priority"),
    "phone": ("recent", "priority"),
    "address": ("complete", "recent", "priority"),
    "external_id": ("priority", "oldest"),
})
DEFAULT_SOURCE_PRIORITY: tuple[str, ...] = ("crm", "loyalty", "ecommerce", "store")


@dataclass(frozen=True)
class Resolution:
    """The outcome of one resolution run.

    Attributes
    ----------
    persons : DataFrame
        One row per person (``person_id`` 0..k-1): the golden record ``first_name``,
        ``last_name``, ``email``, ``phone`` (E.164), ``postcode``, ``city``, ``country``,
        ``external_id`` (the surviving external id), ``external_ids`` (all of them), ``sources``,
        ``n_records``, ``first_seen``, ``last_seen`` and ``provenance`` ({field: source_record_id
        the value came from}).
    membership : DataFrame
        ``source_record_id`` → ``person_id``, one row per input record, in input order.
    links : DataFrame
        The links union-find accepted or that joined records already together: ``record_a``,
        ``record_b``, ``rule``, ``score`` (1.0 for deterministic and manual links, the match
        probability for fuzzy ones), ``detail`` (comparison levels of a fuzzy link).
    rejected : DataFrame
        Links refused because they would break a cannot-link pair: the link's columns plus
        ``blocked_by`` (the cannot-link pair, as source record ids).
    skipped_blocks : DataFrame
        ``rule``, ``size``: values shared by more than ``max_block_size`` records, which were not
        used to pair records (typically a filler value such as a shop's own phone number).
    """

    persons: pd.DataFrame
    membership: pd.DataFrame
    links: pd.DataFrame
    rejected: pd.DataFrame
    skipped_blocks: pd.DataFrame


@dataclass
class _Prepared:
    records: pd.DataFrame  # normalised
    ids: np.ndarray
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    uniques: dict[str, np.ndarray] = field(default_factory=dict)
    training: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    deterministic: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    skipped_blocks: list[tuple[str, int]] = field(default_factory=list)


# ---- pair generation ----------------------------------------------------------------------------

def _codes(values: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per value (``-1`` where missing) and the distinct values."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _combined_codes(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One code per distinct combination of the given code columns (``-1`` if any is missing)."""
    if len(columns) == 1:
        return columns[0]
    frame = pd.DataFrame({str(k): c for k, c in enumerate(columns)})
    missing = (frame < 0).any(axis=1).to_numpy()
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy().astype(np.int64)
    codes[missing] = -1
    return codes


def pairs_within_groups(codes: np.ndarray, max_group_size: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """All pairs ``(i, j)``, ``i < j``, of positions sharing a code (``-1`` = no group).

    Groups larger than ``max_group_size`` are skipped (a filler value shared by thousands of
    records is not evidence); they are returned as ``(code, size)``.

    The pairs are built without a Python loop over groups: after sorting by code, position ``p``
    pairs with ``p + d`` for every offset ``d`` at which the code is still the same.
    """
    codes = np.asarray(codes, dtype=np.int64)
    order = np.flatnonzero(codes >= 0)
    order = order[np.argsort(codes[order], kind="stable")]
    sorted_codes = codes[order]
    skipped: list[tuple[int, int]] = []
    if max_group_size is not None and sorted_codes.size:
        values, counts = np.unique(sorted_codes, return_counts=True)
        big = values[counts > max_group_size]
        if big.size:
            skipped = [(int(v), int(c)) for v, c in zip(values, counts) if c > max_group_size]
            keep = ~np.isin(sorted_codes, big)
            order, sorted_codes = order[keep], sorted_codes[keep]
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    d = 1
    while d < sorted_codes.size:
        same = sorted_codes[d:] == sorted_codes[:-d]
        if not same.any():
            break
        positions = np.flatnonzero(same)
        left.append(order[positions])
        right.append(order[positions + d])
        d += 1
    if not left:
        return np.empty(0, np.int64), np.empty(0, np.int64), skipped
    a, b = np.concatenate(left), np.concatenate(right)
    return np.minimum(a, b), np.maximum(a, b), skipped


def _unique_pairs(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    keys = a.astype(np.int64) * n + b.astype(np.int64)
    keys.sort()  # sort-based distinct values: much faster than hashing for millions of int64 keys
    if keys.size:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys // n, keys % n


# ---- comparisons --------------------------------------------------------------------------------

def _name_levels(codes: np.ndarray, uniques: np.ndarray, a: np.ndarray, b: np.ndarray,
                 similar_at: float, nicknames: bool) -> np.ndarray:
    """Level index of each pair for a name comparison (see :data:`LEVELS`)."""
    from rapidfuzz.distance import JaroWinkler

    levels = LEVELS["first_name" if nicknames else "last_name"]
    index = {name: k for k, name in enumerate(levels)}
    ca, cb = codes[a], codes[b]
    out = np.full(a.size, index["missing"], dtype=np.int8)
    both = (ca >= 0) & (cb >= 0)
    out[both & (ca == cb)] = index["exact"]
    differ = np.flatnonzero(both & (ca != cb))
    if differ.size:
        lo, hi = np.minimum(ca[differ], cb[differ]), np.maximum(ca[differ], cb[differ])
        n = max(len(uniques), 1)
        pair_keys, inverse = np.unique(lo * n + hi, return_inverse=True)
        pair_levels = np.empty(pair_keys.size, dtype=np.int8)
        for k, key in enumerate(pair_keys):
            x, y = uniques[key // n], uniques[key % n]
            if nicknames and (first_name_forms(x) & first_name_forms(y)
                              or (min(len(x), len(y)) == 1 and x[0] == y[0])):  # an initial
                pair_levels[k] = index["nickname"]
                continue
            if umlaut_variant(x) == umlaut_variant(y):
                pair_levels[k] = index["close"]
                continue
            similarity = JaroWinkler.similarity(x, y)
            pair_levels[k] = (index["close"] if similarity >= CLOSE_SIMILARITY
                              else index["similar"] if similarity >= similar_at else index["different"])
        out[differ] = pair_levels[inverse.ravel()]
    return out


def _equality_levels(codes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ca, cb = codes[a], codes[b]
    out = np.full(a.size, 2, dtype=np.int8)  # missing
    both = (ca >= 0) & (cb >= 0)
    out[both] = np.where(ca[both] == cb[both], 0, 1)
    return out


def _weights_table(m: Mapping[str, Mapping[str, float]], u: Mapping[str, Mapping[str, float]]
                   ) -> dict[str, np.ndarray]:
    table = {}
    for comparison, levels in LEVELS.items():
        table[comparison] = np.array([0.0 if level == "missing" else
                                      math.log2(m[comparison][level] / u[comparison][level])
                                      for level in levels])
    return table


# ---- the estimator ------------------------------------------------------------------------------

class IdentityResolver(BaseEstimator):
    """Resolve source records (CRM, loyalty, e-commerce, store, ...) into persons.

    Parameters
    ----------
    rules : sequence of str
        Which of :data:`RULES` to apply (default all). Without ``"fuzzy"`` only the
        deterministic rules link.
    threshold : float
        Minimum Fellegi–Sunter match probability of a fuzzy link, in (0, 1).
    name_similarity : float
        Minimum Jaro–Winkler similarity of two first names (for ``phone_name`` and the fuzzy
        rule's name gate) and of two last names (fuzzy name gate) that are not equal keys or
        nicknames.
    max_block_size : int
        Records sharing one blocking or identifier value beyond this many are not paired on that
        value (a store's own phone number typed for walk-in clients would link thousands).
    source_priority : sequence of str
        Sources from most to least trusted for survivorship (unknown sources rank last).
    deterministic_recall : float
        Assumed share of true duplicate pairs the deterministic rules find, for the prior
        :math:`\\lambda` (Splink's ``estimate_probability_two_random_records_match``).
    n_random_pairs : int
        Random record pairs drawn to estimate the u-probabilities.
    min_training_pairs : int
        Fewer pairs than this leave a comparison's m or u at :data:`DEFAULT_M` / :data:`DEFAULT_U`.
    random_state : int
        Seed for the random pairs.

    Attributes
    ----------
    m_, u_ : dict
        ``{comparison: {level: probability}}`` used for scoring.
    m_estimated_, u_estimated_ : dict
        ``{comparison: bool}``: whether the probabilities were estimated from the data or are
        the defaults.
    prior_ : float
        :math:`\\lambda`, the probability that two random records match.
    match_weights_ : DataFrame
        ``log2(m/u)`` per comparison and level (the partial match weights).
    n_records_ : int
        Records seen by ``fit``.
    """

    def __init__(self, rules: Sequence[str] = RULES, threshold: float = 0.9, name_similarity: float = 0.88,
                 max_block_size: int = 500, source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
                 deterministic_recall: float = 0.9, n_random_pairs: int = 100_000,
                 min_training_pairs: int = 50, random_state: int = 0):
        self.rules = rules
        self.threshold = threshold
        self.name_similarity = name_similarity
        self.max_block_size = max_block_size
        self.source_priority = source_priority
        self.deterministic_recall = deterministic_recall
        self.n_random_pairs = n_random_pairs
        self.min_training_pairs = min_training_pairs
        self.random_state = random_state

    # -- validation and preparation ---------------------------------------------------------------

    def _check_params(self) -> None:
        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            raise ValueError(f"rules: unknown rule(s) {unknown}; choose from {list(RULES)}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if not 0.0 < self.name_similarity <= 1.0:
            raise ValueError(f"name_similarity must lie in (0, 1], got {self.name_similarity}")
        if not 0.0 < self.deterministic_recall <= 1.0:
            raise ValueError(f"deterministic_recall must lie in (0, 1], got {self.deterministic_recall}")
        if self.max_block_size < 2:
            raise ValueError(f"max_block_size must be at least 2, got {self.max_block_size}")

    def _prepare(self, records: pd.DataFrame) -> _Prepared:
        self._check_params()
        normal = normalise_records(records).reset_index(drop=True)
        prepared = _Prepared(normal, normal["source_record_id"].astype(str).to_numpy(dtype=object))
        for column in ("external_id_norm", "email_norm", "phone_e164", "first_key", "last_key",
                       "last_soundex", "country_norm"):
            prepared.codes[column], prepared.uniques[column] = _codes(normal[column].to_numpy(dtype=object))
        # a postcode is only comparable within its country
        postcode = [f"{c}|{p}" if isinstance(p, str) else None
                    for c, p in zip(normal["country_norm"], normal["postcode_norm"])]
        prepared.codes["postcode_norm"], _ = _codes(np.array(postcode, dtype=object))
        self._deterministic_pairs(prepared)
        return prepared

    def _deterministic_pairs(self, prepared: _Prepared) -> None:
        """Pairs of each deterministic rule, and the unguarded pairs that train the m-probabilities.

        A shared identifier links only when nothing contradicts it: different first names on one
        email are a family address; a conflicting email on one phone and name is the case of a
        father and son of the same name at one landline. Those pairs go to the scored rule.
        """
        different = LEVELS["first_name"].index("different")
        if "external_id" in self.rules:
            prepared.deterministic["external_id"] = self._group_pairs(prepared, "external_id", "external_id_norm")
        if "email" in self.rules:
            a, b = self._group_pairs(prepared, "email", "email_norm")
            prepared.training["email_any"] = (a, b)
            compatible = self._first_levels(prepared, a, b) != different
            prepared.deterministic["email"] = (a[compatible], b[compatible])
        if "phone_name" in self.rules:
            a, b = self._group_pairs(prepared, "phone_name", "phone_e164")
            last = self._last_levels(prepared, a, b)
            same_last = np.isin(last, [LEVELS["last_name"].index(x) for x in ("exact", "close")])
            compatible = same_last & (self._first_levels(prepared, a, b) != different)
            a, b = a[compatible], b[compatible]
            prepared.training["phone_name_any"] = (a, b)
            email = _equality_levels(prepared.codes["email_norm"], a, b)
            agree = email != LEVELS["email"].index("different")
            prepared.deterministic["phone_name"] = (a[agree], b[agree])

    def _group_pairs(self, prepared: _Prepared, rule: str, *columns: str) -> tuple[np.ndarray, np.ndarray]:
        combined = _combined_codes([prepared.codes[c] for c in columns])
        a, b, skipped = pairs_within_groups(combined, self.max_block_size)
        prepared.skipped_blocks.extend((rule, size) for _, size in skipped)
        return a, b

    def _first_levels(self, prepared: _Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _name_levels(prepared.codes["first_key"], prepared.uniques["first_key"], a, b,
                            self.name_similarity, nicknames=True)

    def _last_levels(self, prepared: _Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _name_levels(prepared.codes["last_key"], prepared.uniques["last_key"], a, b,
                            self.name_similarity, nicknames=False)

    def _compare(self, prepared: _Prepared, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
        """Level index of every comparison for the pairs ``(a[k], b[k])``."""
        codes = prepared.codes
        return {
            "first_name": self._first_levels(prepared, a, b),
            "last_name": self._last_levels(prepared, a, b),
            "postcode": _equality_levels(codes["postcode_norm"], a, b),
            "phone": _equality_levels(codes["phone_e164"], a, b),
            "email": _equality_levels(codes["email_norm"], a, b),
        }

    # -- fit ----------------------------------------------------------------------------------------

    def fit(self, records: pd.DataFrame, y=None) -> "IdentityResolver":
        """Estimate the Fellegi–Sunter parameters ``m_``, ``u_`` and ``prior_`` from ``records``."""
        self._fit_prepared(self._prepare(records))
        return self

    def _fit_prepared(self, prepared: _Prepared) -> None:
        n = len(prepared.ids)
        self.n_records_ = n
        rng = np.random.default_rng(self.random_state)
        det_a = np.concatenate([p[0] for p in prepared.deterministic.values()] or [np.empty(0, np.int64)])
        det_b = np.concatenate([p[1] for p in prepared.deterministic.values()] or [np.empty(0, np.int64)])
        uf = UnionFind(n)
        for x, y in zip(det_a.tolist(), det_b.tolist()):
            uf.union(x, y)
        cluster = uf.labels()
        # Every blocking rule pairs records of one country (a phone number implies its country),
        # and names and postcodes depend strongly on the country; so the prior and the
        # u-probabilities are those of two random records *of the same country*.
        country = prepared.codes["country_norm"]
        _, country_sizes = np.unique(country, return_counts=True)
        sizes = np.bincount(cluster)
        linked_pairs = float((sizes * (sizes - 1) / 2).sum())
        total_pairs = float((country_sizes * (country_sizes - 1) / 2).sum())
        prior = linked_pairs / self.deterministic_recall / total_pairs if total_pairs else 0.0
        self.prior_ = float(np.clip(prior if prior > 0 else 1.0 / max(total_pairs, 1.0), 1e-12, 0.5))

        m: dict[str, dict[str, float]] = {c: dict(v) for c, v in DEFAULT_M.items()}
        u: dict[str, dict[str, float]] = {c: dict(v) for c, v in DEFAULT_U.items()}
        self.m_estimated_ = dict.fromkeys(LEVELS, False)
        self.u_estimated_ = dict.fromkeys(LEVELS, False)

        # u: random same-country pairs that the deterministic rules did not put in one cluster
        ra, rb = _random_pairs_within(country, self.n_random_pairs, rng)
        keep = cluster[ra] != cluster[rb]
        ra, rb = ra[keep], rb[keep]
        if ra.size:
            levels = self._compare(prepared, ra, rb)
            for comparison, observed in levels.items():
                estimate = _level_frequencies(observed, LEVELS[comparison], self.min_training_pairs)
                if estimate is not None:
                    u[comparison] = estimate
                    self.u_estimated_[comparison] = True

        # m: each comparison from pairs linked by an identifier that does not involve it (the
        # guards' own comparison is trained on the pairs before the guard)
        training = {
            "first_name": ("email_any", "external_id"),
            "last_name": ("email", "external_id"),
            "postcode": ("email", "external_id", "phone_name"),
            "phone": ("email", "external_id"),
            "email": ("external_id", "phone_name_any"),
        }
        available = {**prepared.deterministic, **prepared.training}
        for comparison, sets in training.items():
            pairs = [available[name] for name in sets if name in available]
            if not pairs:
                continue
            a = np.concatenate([p[0] for p in pairs])
            b = np.concatenate([p[1] for p in pairs])
            a, b = _unique_pairs(np.minimum(a, b), np.maximum(a, b), max(n, 1)) if a.size else (a, b)
            if a.size > self.n_random_pairs:
                pick = rng.choice(a.size, size=self.n_random_pairs, replace=False)
                a, b = a[pick], b[pick]
            if not a.size:
                continue
            observed = self._compare_one(prepared, comparison, a, b)
            estimate = _level_frequencies(observed, LEVELS[comparison], self.min_training_pairs)
            if estimate is not None:
                m[comparison] = estimate
                self.m_estimated_[comparison] = True
        self.m_, self.u_ = m, u
        weights = _weights_table(m, u)
        self.match_weights_ = pd.DataFrame(
            [(c, level, weights[c][k]) for c, levels in LEVELS.items() for k, level in enumerate(levels)],
            columns=["comparison", "level", "weight"])

    def _compare_one(self, prepared: _Prepared, comparison: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if comparison == "first_name":
            return self._first_levels(prepared, a, b)
        if comparison == "last_name":
            return self._last_levels(prepared, a, b)
        column = {"postcode": "postcode_norm", "phone": "phone_e164", "email": "email_norm"}[comparison]
        return _equality_levels(prepared.codes[column], a, b)

    # -- scoring ------------------------------------------------------------------------------------

    def score_pairs(self, records: pd.DataFrame) -> pd.DataFrame:
        """Fuzzy-rule candidate pairs of ``records`` with their levels, match weight and probability.

        Returns a frame with ``record_a``, ``record_b``, one level column per comparison,
        ``match_weight`` (bits), ``probability`` and ``name_gate`` (both names agree well enough).
        Useful to inspect or recalibrate the threshold against clerically reviewed pairs.
        """
        check_is_fitted(self, "m_")
        prepared = self._prepare(records)
        a, b, levels, weight, probability, gate = self._score(prepared)
        frame = pd.DataFrame({"record_a": prepared.ids[a], "record_b": prepared.ids[b]})
        for comparison, observed in levels.items():
            frame[comparison] = np.array(LEVELS[comparison], dtype=object)[observed]
        frame["match_weight"], frame["probability"], frame["name_gate"] = weight, probability, gate
        return frame

    def _candidates(self, prepared: _Prepared) -> tuple[np.ndarray, np.ndarray]:
        parts_a, parts_b = [], []
        for rule in BLOCKING_RULES:
            a, b = self._group_pairs(prepared, "blocking:" + "+".join(rule), *rule)
            parts_a.append(a)
            parts_b.append(b)
        a, b = np.concatenate(parts_a), np.concatenate(parts_b)
        if not a.size:
            return a, b
        return _unique_pairs(a, b, len(prepared.ids))

    def _score(self, prepared: _Prepared):
        a, b = self._candidates(prepared)
        levels = self._compare(prepared, a, b)
        weights = _weights_table(self.m_, self.u_)
        weight = np.full(a.size, math.log2(self.prior_ / (1.0 - self.prior_)))
        for comparison, observed in levels.items():
            weight += weights[comparison][observed]
        probability = 1.0 / (1.0 + np.exp2(-weight))
        first_ok = np.isin(levels["first_name"], [LEVELS["first_name"].index(x)
                                                  for x in ("exact", "nickname", "close", "similar")])
        last_ok = np.isin(levels["last_name"], [LEVELS["last_name"].index(x) for x in ("exact", "close", "similar")])
        corroborated = (levels["phone"] == 0) | (levels["postcode"] == 0)
        return a, b, levels, weight, probability, first_ok & last_ok & corroborated

    # -- predict ------------------------------------------------------------------------------------

    def predict(self, records: pd.DataFrame, *, must_link: Iterable[tuple[str, str]] = (),
                cannot_link: Iterable[tuple[str, str]] = ()) -> Resolution:
        """Link ``records`` into persons, honouring manual constraints.

        Parameters
        ----------
        records : DataFrame
            Source records (see :func:`survey_engine.identity.normalise.normalise_records`).
        must_link : iterable of (source_record_id, source_record_id)
            Manual merges: these records always end in one person.
        cannot_link : iterable of (source_record_id, source_record_id)
            Manual splits: these records never end in one person, whatever links them.

        Raises
        ------
        ValueError
            When a constraint names an unknown record, or the must-links join the two records of
            a cannot-link pair (the constraints contradict each other).
        """
        check_is_fitted(self, "m_")
        return self._predict_prepared(self._prepare(records), must_link, cannot_link)

    def fit_predict(self, records: pd.DataFrame, y=None, *, must_link: Iterable[tuple[str, str]] = (),
                    cannot_link: Iterable[tuple[str, str]] = ()) -> Resolution:
        """``fit`` then ``predict`` on the same records, normalising them once."""
        prepared = self._prepare(records)
        self._fit_prepared(prepared)
        return self._predict_prepared(prepared, must_link, cannot_link)

    def _predict_prepared(self, prepared: _Prepared, must_link, cannot_link) -> Resolution:
        ids = prepared.ids
        position = {record_id: k for k, record_id in enumerate(ids)}
        must = _constraint_positions(must_link, position, "must_link")
        cannot = _constraint_positions(cannot_link, position, "cannot_link")
        _check_consistent(must, cannot, len(ids), ids)

        frames = []
        for rule, (a, b) in prepared.deterministic.items():
            frames.append(pd.DataFrame({"a": a, "b": b, "rule": rule, "score": 1.0, "detail": None}))
        if FUZZY_RULE in self.rules:
            a, b, levels, _, probability, gate = self._score(prepared)
            accept = gate & (probability >= self.threshold)
            if accept.any():
                detail = _describe_levels({c: v[accept] for c, v in levels.items()})
                frames.append(pd.DataFrame({"a": a[accept], "b": b[accept], "rule": FUZZY_RULE,
                                            "score": probability[accept], "detail": detail}))
        if must:
            frames.append(pd.DataFrame({"a": [x for x, _ in must], "b": [y for _, y in must],
                                        "rule": MANUAL_RULE, "score": 1.0, "detail": None}))
        links = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"a": pd.Series(dtype=np.int64), "b": pd.Series(dtype=np.int64), "rule": pd.Series(dtype=object),
             "score": pd.Series(dtype=float), "detail": pd.Series(dtype=object)})
        links["priority"] = links["rule"].map(RULE_PRIORITY).astype(int)
        # one row per pair: the strongest rule that made it
        links = links.sort_values(["priority", "score"], ascending=[True, False], kind="stable")
        links = links.drop_duplicates(["a", "b"], keep="first").reset_index(drop=True)

        uf = UnionFind(len(ids), cannot_link=cannot)
        keep = np.zeros(len(links), dtype=bool)
        blocked: list[tuple[int, tuple[int, int]]] = []
        for k, (x, y) in enumerate(zip(links["a"].tolist(), links["b"].tolist())):
            if uf.union(x, y) or uf.connected(x, y):
                keep[k] = True
            else:
                blocked.append((k, uf.conflict(x, y)))
        labels = uf.labels()
        _verify(labels, cannot, ids)

        accepted = links[keep]
        rejected = links.iloc[[k for k, _ in blocked]].copy()
        rejected["blocked_by"] = [(ids[p], ids[q]) for _, (p, q) in blocked]
        membership = pd.DataFrame({"source_record_id": ids, "person_id": labels})
        persons = golden_records(prepared.records, labels, self.source_priority)
        skipped = pd.DataFrame(prepared.skipped_blocks, columns=["rule", "size"])
        return Resolution(persons=persons, membership=membership, links=_public_links(accepted, ids),
                          rejected=_public_links(rejected, ids, extra=("blocked_by",)), skipped_blocks=skipped)


# ---- helpers ----------------------------------------------------------------------------------------

def _random_pairs_within(groups: np.ndarray, size: int, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``size`` random pairs of distinct positions drawn within the same group."""
    n = groups.size
    if n < 2 or size <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.argsort(groups, kind="stable")
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    group_of = np.repeat(np.arange(starts.size), counts)  # group index of each sorted position
    first = rng.integers(0, n, size=size)
    g = group_of[first]
    second = starts[g] + rng.integers(0, counts[g])
    a, b = order[first], order[second]
    distinct = a != b
    return a[distinct], b[distinct]


def _level_frequencies(observed: np.ndarray, levels: Sequence[str], minimum: int) -> dict[str, float] | None:
    """Level probabilities among non-missing observations, Laplace-smoothed; ``None`` if too few."""
    counted = [k for k, level in enumerate(levels) if level != "missing"]
    counts = np.array([(observed == k).sum() for k in counted], dtype=float)
    total = counts.sum()
    if total < minimum:
        return None
    probabilities = (counts + 1.0) / (total + len(counted))
    return {levels[k]: float(p) for k, p in zip(counted, probabilities)}


def _describe_levels(levels: Mapping[str, np.ndarray]) -> list[str]:
    named = {c: np.array(LEVELS[c], dtype=object)[v] for c, v in levels.items()}
    return [",".join(f"{c}={named[c][k]}" for c in LEVELS) for k in range(len(next(iter(named.values()))))]


def _constraint_positions(pairs: Iterable[tuple[str, str]], position: Mapping[str, int], name: str
                          ) -> list[tuple[int, int]]:
    out = []
    for pair in pairs:
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected pairs of source record ids, got {pair!r}") from None
        unknown = [str(v) for v in (x, y) if str(v) not in position]
        if unknown:
            raise ValueError(f"{name}: pair ({x!r}, {y!r}) names unknown source record(s) {unknown}")
        if str(x) == str(y):
            raise ValueError(f"{name}: pair ({x!r}, {y!r}) names the same record twice")
        p, q = position[str(x)], position[str(y)]
        out.append((min(p, q), max(p, q)))
    return out


def _check_consistent(must: list[tuple[int, int]], cannot: list[tuple[int, int]], n: int, ids) -> None:
    if not must or not cannot:
        return
    uf = UnionFind(n)
    for x, y in must:
        uf.union(x, y)
    for x, y in cannot:
        if uf.connected(x, y):
            raise ValueError(f"manual decisions contradict each other: must-links join {ids[x]!r} and "
                             f"{ids[y]!r}, which a cannot-link keeps apart")


def _verify(labels: np.ndarray, cannot: list[tuple[int, int]], ids) -> None:
    for x, y in cannot:
        if labels[x] == labels[y]:  # union-find refuses these; a failure here is a bug
            raise AssertionError(f"cannot-link pair ({ids[x]!r}, {ids[y]!r}) ended in one person")


def _public_links(links: pd.DataFrame, ids: np.ndarray, extra: Sequence[str] = ()) -> pd.DataFrame:
    a, b = links["a"].to_numpy(dtype=np.int64), links["b"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({"record_a": ids[a], "record_b": ids[b], "rule": links["rule"].to_numpy(dtype=object),
                        "score": links["score"].to_numpy(dtype=float),
                        "detail": links["detail"].to_numpy(dtype=object)})
    for column in extra:
        out[column] = links[column].to_numpy(dtype=object)
    return out


# ---- golden records ---------------------------------------------------------------------------------

def _completeness(values: pd.Series) -> np.ndarray:
    """Higher for the more informative spelling: accents kept, not all capitals, longer."""
    def score(value: object) -> float:
        if not isinstance(value, str) or not value.strip():
            return -1.0
        text = value.strip()
        accents = any(ord(ch) > 127 for ch in text)
        shouting = text.isupper() and len(text) > 1
        return 1000.0 * accents + 100.0 * (not shouting) + len(text)

    cache: dict = {}
    out = np.empty(len(values), dtype=float)
    for i, value in enumerate(values.tolist()):
        if value not in cache:
            cache[value] = score(value)
        out[i] = cache[value]
    return out


def _sorted_sets(person: pd.Series, values: pd.Series, n_persons: int) -> list[list]:
    """The distinct values of each person, sorted (one pass, no per-group pandas calls)."""
    pairs = pd.DataFrame({"p": person.to_numpy(), "v": values.to_numpy(dtype=object)}).dropna()
    pairs = pairs.drop_duplicates().sort_values(["p", "v"], kind="stable")
    out: list[list] = [[] for _ in range(n_persons)]
    for p, v in zip(pairs["p"].tolist(), pairs["v"].tolist()):
        out[p].append(v)
    return out


def golden_records(records: pd.DataFrame, labels: np.ndarray,
                   source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY) -> pd.DataFrame:
    """One golden record per person from normalised records, by the rules in :data:`SURVIVORSHIP`.

    Parameters
    ----------
    records : DataFrame
        Output of :func:`~survey_engine.identity.normalise.normalise_records`.
    labels : array of int
        Person of each record (``0 .. k-1``).
    source_priority : sequence of str
        Sources from most to least trusted.

    Returns
    -------
    DataFrame
        See :attr:`Resolution.persons`. Without a ``created_at`` column, later rows count as more
        recent.
    """
    frame = pd.DataFrame({
        "person_id": np.asarray(labels, dtype=np.int64),
        "source_record_id": records["source_record_id"].astype(str).to_numpy(),
        "source": records["source"].to_numpy(dtype=object),
        "first_name": records["first_name"].map(lambda v: v.strip() if isinstance(v, str) else None),
        "last_name": records["last_name"].map(lambda v: v.strip() if isinstance(v, str) else None),
        "email": records["email_norm"].to_numpy(dtype=object),
        "phone": records["phone_e164"].to_numpy(dtype=object),
        "postcode": records["postcode_norm"].to_numpy(dtype=object),
        "city": (records["city"].map(lambda v: v.strip() if isinstance(v, str) and v.strip() else None)
                 if "city" in records.columns else None),
        "country": records["country_norm"].to_numpy(dtype=object),
        "external_id": records["external_id_norm"].to_numpy(dtype=object),
    })
    rank = {source: k for k, source in enumerate(source_priority)}
    frame["priority"] = frame["source"].map(lambda s: rank.get(s, len(rank))).astype(int)
    if "created_at" in records.columns:
        created = pd.to_datetime(records["created_at"], utc=True, errors="coerce")
        frame["created_at"] = created.to_numpy()
        recency = created.rank(method="first").fillna(0.0).to_numpy()
    else:
        frame["created_at"] = pd.NaT
        recency = np.arange(len(frame), dtype=float)
    frame["recent"] = -recency   # ascending sort puts the newest first
    frame["oldest"] = recency
    frame["name_complete"] = -(_completeness(frame["first_name"]) + _completeness(frame["last_name"]))
    frame["address_complete"] = -(frame["postcode"].notna().astype(int) * 2 + frame["city"].notna().astype(int))

    def pick(columns: Sequence[str], present: str, order: Sequence[str], complete: str = "name_complete"):
        keys = [complete if key == "complete" else key for key in order]
        candidates = frame[frame[present].notna()].sort_values(["person_id", *keys], kind="stable")
        return candidates.drop_duplicates("person_id").set_index("person_id")[list(columns) + ["source_record_id"]]

    persons = pd.DataFrame(index=pd.RangeIndex(int(labels.max()) + 1 if len(labels) else 0, name="person_id"))
    provenance: dict[str, pd.Series] = {}
    for field_name in ("first_name", "last_name", "email", "phone", "external_id"):
        chosen = pick([field_name], field_name, SURVIVORSHIP[field_name])
        persons[field_name] = chosen[field_name]
        provenance[field_name] = chosen["source_record_id"]
    frame["has_address"] = frame["postcode"].where(frame["postcode"].notna(), frame["city"])
    address = pick(["postcode", "city", "country"], "has_address", SURVIVORSHIP["address"], "address_complete")
    for column in ("postcode", "city", "country"):
        persons[column] = address[column]
    provenance["address"] = address["source_record_id"]
    countries = frame[frame["country"].notna()].sort_values(["person_id", "recent"]).drop_duplicates("person_id")
    persons["country"] = persons["country"].fillna(countries.set_index("person_id")["country"])

    grouped = frame.groupby("person_id", sort=True)
    persons["external_ids"] = _sorted_sets(frame["person_id"], frame["external_id"], len(persons))
    persons["sources"] = _sorted_sets(frame["person_id"], frame["source"], len(persons))
    persons["n_records"] = grouped.size()
    persons["first_seen"] = grouped["created_at"].min()
    persons["last_seen"] = grouped["created_at"].max()
    prov = pd.DataFrame(provenance).reindex(persons.index)
    persons["provenance"] = [{k: v for k, v in row.items() if isinstance(v, str)}
                             for row in prov.to_dict(orient="records")]
    persons = persons.astype({c: object for c in ("first_name", "last_name", "email", "phone", "postcode",
                                                  "city", "country", "external_id")})
    persons = persons.where(persons.notna(), None)
    return persons.reset_index()


def resolve(records: pd.DataFrame, *, must_link: Iterable[tuple[str, str]] = (),
            cannot_link: Iterable[tuple[str, str]] = (), **params) -> Resolution:
    """Resolve ``records`` into persons in one call: ``IdentityResolver(**params).fit_predict``.

    See :class:`IdentityResolver` for ``params`` and :meth:`IdentityResolver.predict` for the
    constraints.
    """
    return IdentityResolver(**params).fit_predict(records, must_link=must_link, cannot_link=cannot_link)
