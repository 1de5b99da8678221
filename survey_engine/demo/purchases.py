"""Purchase histories drawn from a BG/NBD process with Gamma-Gamma order values.

Each customer buys with a Poisson rate :math:`\\lambda \\sim \\mathrm{Gamma}(r, \\alpha)` while
alive and, after every *repeat* purchase, drops out for good with probability
:math:`p \\sim \\mathrm{Beta}(a, b)` (Fader, Hardie & Lee, 2005, "Counting your customers the
easy way", Marketing Science 24(2), section 2); the first purchase starts the customer's clock
and is not a drop-out opportunity, exactly as the model's likelihood assumes. Order values are
:math:`z \\sim \\mathrm{Gamma}(p_{gg}, \\nu)` with :math:`\\nu \\sim \\mathrm{Gamma}(q, \\gamma)`
(Fader, Hardie & Lee, 2005, "RFM and CLV", Journal of Marketing Research 42(4); the
Gamma-Gamma spend model), so a customer's mean order value is :math:`p_{gg} / \\nu`. Time is
simulated in days; the model parameters are stated per week, the unit the CLV module defaults to.

The demo population departs from the pure model on purpose in two ways: it multiplies rate and
value by mild relationship-style factors (so value is tied to the relationship style), and it
plants *rising* clients (``rising_rate`` of the customers, 5% by default) whose rate and spend
jump late in their history and who never drop out, so value tiers and drift have something to
find. :func:`iter_transactions` streams the pure model, from which a BG/NBD fit on the RFM summary
recovers ``(r, alpha, a, b)`` (tested in ``tests/demo/test_purchases.py``), for benchmarks of any
size.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from survey_engine.demo import world
from survey_engine.demo.people import COUNTRIES, COUNTRY_SHARES

#: Conversion from euros to each currency (units of currency per euro).
FX_FROM_EUR: Mapping[str, float] = MappingProxyType(
    {"EUR": 1.0, "GBP": 0.86, "USD": 1.09, "CHF": 0.96, "AED": 4.00})

#: Flagship stores per country; ``store_or_country`` holds a store code for store purchases and
#: the shipping country for online and app orders.
STORES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "IT": ("MIL-MONTENAPOLEONE", "MIL-SPIGA", "ROM-CONDOTTI", "FLR-TORNABUONI"),
    "FR": ("PAR-SAINTHONORE", "PAR-MONTAIGNE", "CAN-CROISETTE", "LYS-PRESQUILE"),
    "GB": ("LON-BONDST", "LON-SLOANE", "MAN-KINGST"),
    "US": ("NYC-MADISON", "NYC-FIFTH", "LAX-RODEO", "MIA-DESIGN"),
    "CH": ("ZRH-BAHNHOF", "GVA-RHONE", "LUG-NASSA"),
    "AE": ("DXB-MALL", "DXB-DIFC", "AUH-GALLERIA"),
})
_STORE_COUNTRY = {store: country for country, stores in STORES.items() for store in stores}

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "customer_id", "order_id", "line_id", "timestamp", "amount", "currency", "category",
    "channel", "store_or_country")


@dataclass(frozen=True)
class PurchaseParams:
    """Parameters of the generating BG/NBD and Gamma-Gamma models (time unit: weeks, money: EUR).

    Attributes
    ----------
    r, alpha : float
        Gamma heterogeneity of the weekly purchase rate (mean rate ``r / alpha``).
    a, b : float
        Beta heterogeneity of the dropout probability after each purchase (mean ``a / (a + b)``).
    p, q, gamma : float
        Gamma-Gamma order values: shape ``p`` per order, ``nu ~ Gamma(q, rate=gamma)``; the mean
        order value across customers is ``p * gamma / (q - 1)``.
    max_rate : float
        Cap on the weekly rate (the gamma tail would otherwise produce a few absurd buyers).
    """

    r: float = 0.6
    alpha: float = 15.0
    a: float = 0.8
    b: float = 4.0
    p: float = 6.0
    q: float = 3.5
    gamma: float = 750.0
    max_rate: float = 1.0


DEFAULT_PURCHASE_PARAMS = PurchaseParams()


@dataclass
class Histories:
    """Simulated orders (one row per order) and per-customer process parameters."""

    customer: np.ndarray  # index of the customer of each order
    day: np.ndarray  # days since the start of the observation window
    value_eur: np.ndarray
    rate_per_week: np.ndarray  # per customer
    dropout_probability: np.ndarray
    mean_order_value_eur: np.ndarray
    alive_at_end: np.ndarray


def simulate_histories(
    rng: np.random.Generator,
    first_day: np.ndarray,
    horizon_days: float,
    params: PurchaseParams = DEFAULT_PURCHASE_PARAMS,
    *,
    rate_multiplier: np.ndarray | None = None,
    spend_multiplier: np.ndarray | None = None,
    rise_day: np.ndarray | None = None,
    rise_rate_factor: float = 3.0,
    rise_min_rate: float = 0.08,
    rise_spend_factor: float = 2.5,
) -> Histories:
    """Simulate every customer's orders from their first purchase to ``horizon_days``.

    Parameters
    ----------
    rng : numpy.random.Generator
    first_day : ndarray of float
        Day of each customer's first purchase (their acquisition).
    horizon_days : float
        End of the observation window, in days since its start.
    params : PurchaseParams
    rate_multiplier, spend_multiplier : ndarray of float, optional
        Per-customer factors on the drawn rate and mean order value (1 when omitted).
    rise_day : ndarray of float, optional
        Day from which a customer is *rising* (NaN for others): rising customers never drop out,
        buy at ``max(rise_rate_factor * rate, rise_min_rate)`` per week and spend
        ``rise_spend_factor`` times more per order from that day on.

    Returns
    -------
    Histories
    """
    n = len(first_day)
    rate = np.minimum(rng.gamma(params.r, 1.0 / params.alpha, size=n), params.max_rate)
    if rate_multiplier is not None:
        rate = rate * rate_multiplier
    drop_p = rng.beta(params.a, params.b, size=n)
    nu = rng.gamma(params.q, 1.0 / params.gamma, size=n)
    mean_value = params.p / nu
    if spend_multiplier is not None:
        mean_value = mean_value * spend_multiplier
    rising = np.zeros(n, dtype=bool) if rise_day is None else ~np.isnan(rise_day)
    rise = np.full(n, np.inf) if rise_day is None else np.where(rising, rise_day, np.inf)
    drop_p = np.where(rising, 0.0, drop_p)
    rise_rate = np.maximum(rate * rise_rate_factor, rise_min_rate)

    # The first purchase (acquisition) is not a transaction opportunity for dropping out: in the
    # BG/NBD a customer can become inactive only right after a *repeat* purchase, which is what
    # the likelihood (eq. 6 of the paper: alive throughout when x = 0) assumes.
    t = np.asarray(first_day, dtype=float).copy()
    customers, days = [np.arange(n)], [t.copy()]
    dropped = np.zeros(n, dtype=bool)
    active = np.arange(n)
    while True:
        weekly = np.where(t[active] >= rise[active], rise_rate[active], rate[active])
        t[active] += rng.exponential(7.0 / weekly)
        active = active[t[active] < horizon_days]
        if not active.size:
            break
        customers.append(active)
        days.append(t[active])
        gone = rng.random(active.size) < drop_p[active]
        dropped[active[gone]] = True
        active = active[~gone]
    customer = np.concatenate(customers)
    day = np.concatenate(days)
    order = np.lexsort((day, customer))
    customer, day = customer[order], day[order]
    scale = mean_value[customer] / params.p
    scale = np.where(day >= rise[customer], scale * rise_spend_factor, scale)
    value = rng.gamma(params.p, scale)
    return Histories(customer, day, value, rate, drop_p, mean_value, ~dropped)


def orders_to_lines(
    rng: np.random.Generator,
    histories: Histories,
    customer_ids: np.ndarray,
    home_country: np.ndarray,
    style: np.ndarray,
    relationship: np.ndarray,
    start: pd.Timestamp,
    *,
    order_offset: int = 0,
    categorical: bool = False,
) -> pd.DataFrame:
    """Turn simulated orders into transaction lines (category, channel, store, currency).

    An order has 1–4 lines (``1 + Poisson(0.3)``) that split its value by a Dirichlet draw;
    categories follow the style archetype's :data:`~survey_engine.demo.world.CATEGORY_PREFERENCES`
    and channels the relationship style's :data:`~survey_engine.demo.world.CHANNEL_PREFERENCES`.
    Store purchases happen in a home-country store (85%) or abroad while travelling, and are paid
    in the store's currency; online and app orders ship home and are paid in the home currency.

    Returns
    -------
    DataFrame
        Columns :data:`TRANSACTION_COLUMNS`, sorted by customer and time.
    """
    n_orders = histories.customer.size
    cust = histories.customer
    order_no = np.arange(n_orders) + order_offset + 1
    channel_cdf = np.cumsum([world.CHANNEL_PREFERENCES[r] for r in world.RELATIONSHIP_STYLES], axis=1)
    channel = (rng.random(n_orders)[:, None] > channel_cdf[relationship[cust]]).sum(axis=1)
    channel = np.minimum(channel, 2)

    countries = np.array(list(COUNTRY_SHARES))
    home = home_country[cust]
    abroad = (channel == 0) & (rng.random(n_orders) < 0.15)
    shop_country = np.where(abroad, rng.choice(countries, size=n_orders, p=list(COUNTRY_SHARES.values())), home)
    store_pick = rng.random(n_orders)
    location = np.empty(n_orders, dtype=object)
    for code, stores in STORES.items():
        mask = shop_country == code
        location[mask] = np.array(stores, dtype=object)[(store_pick[mask] * len(stores)).astype(int)]
    online = channel != 0
    location[online] = home[online]
    currency_of = {code: c.currency for code, c in COUNTRIES.items()}
    pay_country = np.where(online, home, shop_country)
    currency = pd.Series(pay_country).map(currency_of).to_numpy(dtype=object)

    n_lines = np.minimum(1 + rng.poisson(0.3, size=n_orders), 4)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    first_line = np.cumsum(n_lines) - n_lines
    line_id = np.arange(line_order.size) - first_line[line_order] + 1
    shares = rng.gamma(3.0, size=line_order.size)
    shares /= np.bincount(line_order, weights=shares)[line_order]
    fx = pd.Series(currency).map(FX_FROM_EUR).to_numpy(dtype=float)
    amount = np.round(histories.value_eur[line_order] * shares * fx[line_order], 2)
    amount = np.maximum(amount, 25.0)  # nothing in a luxury store costs less

    cat_cdf = np.cumsum([world.CATEGORY_PREFERENCES[s] for s in world.STYLE_ARCHETYPES], axis=1)
    category = (rng.random(line_order.size)[:, None] > cat_cdf[style[cust[line_order]]]).sum(axis=1)
    category = np.minimum(category, len(world.CATEGORIES) - 1)

    # Stores sell between 10:00 and 19:00 local time; online orders arrive at any hour.
    day = np.floor(histories.day)
    seconds = np.where(online, rng.uniform(0, 86400, n_orders), rng.uniform(36000, 68400, n_orders))
    timestamp = (start + pd.to_timedelta(day * 86400 + seconds, unit="s")).astype("datetime64[s]")

    def column(values, labels):
        if categorical:
            return pd.Categorical.from_codes(values, categories=list(labels))
        return np.array(labels, dtype=object)[values]

    frame = pd.DataFrame({
        "customer_id": customer_ids[cust[line_order]],
        "order_id": [f"O{k:09d}" for k in order_no[line_order]],
        "line_id": line_id.astype(np.int16),
        "timestamp": timestamp[line_order],
        "amount": amount,
        "currency": pd.Categorical(currency[line_order], categories=list(FX_FROM_EUR))
        if categorical else currency[line_order],
        "category": column(category, world.CATEGORIES),
        "channel": column(channel[line_order], world.TRANSACTION_CHANNELS),
        "store_or_country": pd.Categorical(location[line_order]) if categorical else location[line_order],
    })
    return frame


def iter_transactions(
    n_customers: int,
    seed: int = 0,
    chunk_size: int = 100_000,
    *,
    start: pd.Timestamp | str = "2022-01-01",
    end: pd.Timestamp | str = "2025-06-30",
    params: PurchaseParams = DEFAULT_PURCHASE_PARAMS,
) -> Iterator[pd.DataFrame]:
    """Stream a large synthetic transaction set in chunks of whole customers.

    Customers are acquired uniformly over the window and follow the pure BG/NBD / Gamma-Gamma
    process with ``params`` (no relationship-style value link, no rising clients), so a CLV fit on
    the stream should recover ``params``. Each chunk holds the complete histories of
    ``chunk_size`` customers, so memory is bounded by the chunk, not by ``n_customers``; string
    columns are pandas categoricals to keep chunks small. The stream is reproducible: the draws of chunk
    ``k`` depend only on ``(seed, k, chunk_size)``; order ids are numbered consecutively across
    the stream.

    Parameters
    ----------
    n_customers : int
        Total number of customers (1,000,000 is fine).
    seed : int
    chunk_size : int
        Customers per chunk.
    start, end : Timestamp or str
        Observation window.
    params : PurchaseParams

    Yields
    ------
    DataFrame
        Columns :data:`TRANSACTION_COLUMNS`; customer ids ``C0000001``…, unique order ids across
        chunks.
    """
    if n_customers < 0 or chunk_size < 1:
        raise ValueError(f"n_customers must be >= 0 and chunk_size >= 1, got {n_customers}, {chunk_size}")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end - start) / pd.Timedelta(days=1)
    if horizon <= 0:
        raise ValueError(f"end ({end.date()}) must be after start ({start.date()})")
    width = max(7, len(str(n_customers)))
    countries = np.array(list(COUNTRY_SHARES))
    order_offset = 0
    for k, lo in enumerate(range(0, n_customers, chunk_size)):
        hi = min(lo + chunk_size, n_customers)
        rng = np.random.default_rng([seed, k, chunk_size])
        size = hi - lo
        style = rng.choice(len(world.STYLE_ARCHETYPES), size=size, p=list(world.STYLE_SHARES.values()))
        relationship = rng.choice(len(world.RELATIONSHIP_STYLES), size=size,
                                  p=list(world.RELATIONSHIP_SHARES.values()))
        home = rng.choice(countries, size=size, p=list(COUNTRY_SHARES.values()))
        first_day = rng.uniform(0, horizon, size=size)
        histories = simulate_histories(rng, first_day, horizon, params)
        ids = np.array([f"C{i:0{width}d}" for i in range(lo + 1, hi + 1)], dtype=object)
        frame = orders_to_lines(rng, histories, ids, home, style, relationship, start,
                                order_offset=order_offset, categorical=True)
        order_offset += histories.customer.size
        yield frame
