"""Seed the database with a synthetic demo population (customers, invitations, responses and the
data other concerns contribute), writing the hidden ground truth to files apart from the tables."""
from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlmodel import Session, func, select

from survey_engine.models import Customer, Invitation, Response
from survey_engine.services.survey import ServiceError, latest_version

#: Other concerns add their part of the demo here: ``name -> "module:function"``; each function is
#: called as ``function(session, population)`` when its module imports, in this order (data first,
#: then the models fitted on it), and returns a short summary. Listing them by name keeps this
#: module free of imports from concerns built on top of it.
CONTRIBUTORS: dict[str, str] = {
    "transactions": "survey_engine.services.clv:store_demo_transactions",
    "identity": "survey_engine.services.identity:store_demo_source_records",
    "factors": "survey_engine.services.factors:fit_demo_factor_model",
    "clv": "survey_engine.services.clv:fit_demo_clv_model",
    "archetypes": "survey_engine.services.archetypes:assign_demo_archetypes",
    "profiles": "survey_engine.services.profiles:refresh_demo_profiles",
}


class DemoStepFailed(ServiceError):
    """A contributor of the demo failed; the whole demo is rolled back."""

    status = 500


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    invitations: int
    responses: int
    drafts: int
    truth_file: Path
    contributed: dict[str, Any]


def _utc(value) -> Any:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=timezone.utc)


def _token_hash(seed: int, key: str) -> str:
    # Demo invitations are already answered or closed; their tokens are never shown, so a
    # deterministic hash that no one holds a token for is enough and keeps seeding reproducible.
    return hashlib.sha256(f"demo:{seed}:{key}".encode()).hexdigest()


def existing_customers(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Customer)).one()


def _contributor(path: str) -> Callable | None:
    """The contributing function, or None when its module is not part of this installation."""
    module_name, _, function = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    if not hasattr(module, function):
        raise DemoStepFailed(f"demo contributor {path}: {module_name} has no function {function!r}")
    return getattr(module, function)


def seed_demo(session: Session, *, customers: int, seed: int, instance_dir: Path,
              questionnaire_id: str = "post_purchase_luxury", end: date | None = None,
              ttl_days: int = 60, steps: tuple[str, ...] | None = None) -> DemoSummary:
    """Generate and store a demo population of ``customers`` people (same seed, same people).

    ``steps`` limits the contributed steps to those named in :data:`CONTRIBUTORS` (default: all);
    ``steps=()`` stores the survey data alone.

    The observation window ends ``end`` (default today), so the demo looks current.
    """
    from survey_engine.demo import generate_population

    end = end or date.today()
    population = generate_population(customers, seed=seed, start=end - timedelta(days=3 * 365 + 180), end=end)
    version = latest_version(session, questionnaire_id)

    customer_rows = [
        {"external_id": row.customer_id, "first_name": row.first_name, "last_name": row.last_name,
         "email": row.email, "phone": row.phone, "postcode": None if pd.isna(row.postcode) else row.postcode,
         "country": row.country, "preferred_language": row.preferred_language,
         "consent_marketing": bool(row.consent_marketing), "consent_profiling": bool(row.consent_profiling),
         "created_at": _utc(row.created_at)}
        for row in population.customers.itertuples(index=False)
    ]
    session.execute(insert(Customer), customer_rows)
    ids = dict(session.exec(select(Customer.external_id, Customer.id)).all())

    rng = np.random.default_rng(seed)
    invitation_rows, response_rows = [], []
    responded = set()
    for row in population.responses.itertuples(index=False):
        responded.add(row.customer_id)
        started = _utc(row.started_at)
        submitted = _utc(row.submitted_at)
        opened = started - timedelta(minutes=float(rng.uniform(0, 30)))
        invitation_rows.append({
            "token_hash": _token_hash(seed, row.response_id), "customer_id": ids[row.customer_id],
            "order_id": row.order_id, "questionnaire_id": questionnaire_id,
            "questionnaire_version_id": version.id, "language": row.language,
            "created_at": opened - timedelta(hours=float(rng.uniform(1, 72))),
            "expires_at": opened + timedelta(days=ttl_days), "opened_at": opened, "started_at": started,
            "completed_at": submitted,
        })
        response_rows.append({
            "customer_id": ids[row.customer_id], "questionnaire_version_id": version.id,
            "status": row.status, "language": row.language, "answers": row.answers, "channel": "web",
            "started_at": started, "updated_at": _utc(row.updated_at), "submitted_at": submitted,
            "duration_seconds": None if row.status != "submitted" else float(row.duration_seconds),
        })
    # Customers who did not answer were invited after their last order; some opened the link.
    last_orders = population.transactions.sort_values("timestamp").groupby("customer_id").last()
    for customer_id, order in last_orders.iterrows():
        if customer_id in responded:
            continue
        created = _utc(order["timestamp"]) + timedelta(days=1)
        opened = created + timedelta(hours=float(rng.uniform(1, 96))) if rng.random() < 0.4 else None
        invitation_rows.append({
            "token_hash": _token_hash(seed, f"open:{customer_id}"), "customer_id": ids[customer_id],
            "order_id": order["order_id"], "questionnaire_id": questionnaire_id,
            "questionnaire_version_id": version.id, "language": None, "created_at": created,
            "expires_at": created + timedelta(days=ttl_days), "opened_at": opened, "started_at": None,
            "completed_at": None,
        })
    session.execute(insert(Invitation), invitation_rows)
    invitation_ids = dict(session.exec(select(Invitation.token_hash, Invitation.id)).all())
    for row, response in zip(population.responses.itertuples(index=False), response_rows):
        response["invitation_id"] = invitation_ids[_token_hash(seed, row.response_id)]
    session.execute(insert(Response), response_rows)

    contributed = {}
    for name, path in CONTRIBUTORS.items():
        if steps is not None and name not in steps:
            continue
        function = _contributor(path)
        if function is None:
            continue
        try:
            contributed[name] = function(session, population)
        except Exception as exc:
            raise DemoStepFailed(f"demo step {name!r} ({path}) failed: {type(exc).__name__}: {exc}") from exc

    instance_dir.mkdir(parents=True, exist_ok=True)
    truth_file = instance_dir / "demo_truth.csv"
    population.truth.customers.to_csv(truth_file, index=False)
    population.truth.records.to_csv(instance_dir / "demo_truth_records.csv", index=False)
    drafts = int((population.responses["status"] == "draft").sum())
    return DemoSummary(customers=len(customer_rows), invitations=len(invitation_rows),
                       responses=len(response_rows) - drafts, drafts=drafts, truth_file=truth_file,
                       contributed=contributed)
