"""Staff pages: customers. Search by name, email, customer number or person id; a client's profile
with every facet (value, archetypes with their reasons, factor scores, themes, consent and contact
policy, identity records), its history, advisor notes and archetype corrections."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel import select

from survey_engine.definitions.archetypes import load_archetype_catalogs
from survey_engine.definitions.errors import DefinitionError
from survey_engine.models import Customer, QuestionnaireVersion, Response
from survey_engine.models.identity import CustomerPerson
from survey_engine.services import customer_search
from survey_engine.services import identity as identity_service
from survey_engine.services import profiles as profile_service
from survey_engine.services import survey as survey_service
from survey_engine.services.survey import NotFound, ServiceError
from survey_engine.web import charts, get_session, settings
from survey_engine.web.staff_auth import current_staff, staff_required

bp = Blueprint("staff_customers", __name__, url_prefix="/staff/customers")

TIER_TITLES = {"ultra_luxury": "Ultra luxury", "luxury": "Luxury", "premium": "Premium", "entry": "Entry"}


@bp.get("/")
@staff_required("customers")
def index():
    query = request.args.get("q", "").strip()
    results, more, error = [], False, None
    if query:
        try:
            results, more = customer_search.search_customers(get_session(), query)
        except ServiceError as exc:
            error = exc.message
    return render_template("staff/customers.html", active_section="customers", query=query, results=results,
                           more=more, error=error, tiers=TIER_TITLES), (400 if error else 200)


def _catalogs():
    try:
        return {c.id: c for c in load_archetype_catalogs(settings().archetypes_dir, known_factors=None).values()
                if not c.catalog.proposal}
    except DefinitionError:
        return {}


def _name(catalogs, archetype_id: str | None) -> str:
    if not archetype_id:
        return "—"
    for catalog in catalogs.values():
        if archetype_id in catalog.archetype_ids:
            return catalog.archetype(archetype_id).name.get("en", archetype_id)
    return archetype_id


def _membership_chart(catalogs, memberships: dict, title: str, top: str | None):
    if not memberships:
        return None
    ordered = sorted(memberships.items(), key=lambda item: -item[1])
    labels = [_name(catalogs, a) for a, _ in ordered]
    colors = [charts.ACCENT if a == top else "#c9b99d" for a, _ in ordered]
    return charts.bar_chart(labels, [round(100 * p, 1) for _, p in ordered], title=title,
                            description=f"Membership probabilities (they add up to 100%); the highest is "
                                        f"{labels[0]} at {100 * ordered[0][1]:.0f}%.",
                            value_label="Membership (%)", value_format="{:.1f}", colors=colors)


def _free_text(session, response: Response) -> list[tuple[str, str]]:
    """(question, answer) of the free-text items a response answered, in questionnaire order."""
    spec = survey_service.spec_of(session.get(QuestionnaireVersion, response.questionnaire_version_id))
    return [(spec.text(item.text, spec.languages[0]), response.answers[item.name]) for item in spec.items
            if item.type == "free_text" and (response.answers.get(item.name) or "").strip()]


@bp.get("/<int:person_id>")
@staff_required("customers")
def profile(person_id: int):
    session = get_session()
    person = identity_service.find_person(session, person_id, follow=False)
    if person.retired_at is not None:
        flash(f"Person {person_id} was merged into person {person.merged_into_id}.")
        return redirect(url_for("staff_customers.profile", person_id=person.merged_into_id))
    identity = identity_service.person_public(session, person)
    try:
        shown = profile_service.show_profile(session, person_id)
    except NotFound:
        shown = None
    catalogs = _catalogs()
    context = {"active_section": "customers", "person": identity, "profile": shown, "catalogs": catalogs,
               "name_of": lambda a: _name(catalogs, a), "tiers": TIER_TITLES}
    customers = session.exec(select(Customer).join(CustomerPerson, CustomerPerson.external_id == Customer.external_id)
                             .where(CustomerPerson.person_id == person_id).order_by(Customer.external_id)).all()
    context["customers"] = customers
    responses = session.exec(select(Response).where(
        Response.customer_id.in_([c.id for c in customers]), Response.status == "submitted")
        .order_by(Response.submitted_at.desc()).limit(3)).all() if customers else []
    context["free_text"] = [(response, _free_text(session, response)) for response in responses]
    if shown:
        context["style_chart"] = _membership_chart(catalogs, shown["style_memberships"], "Style archetype",
                                                   shown["style_archetype"])
        context["relationship_chart"] = _membership_chart(catalogs, shown["relationship_memberships"],
                                                          "Relationship style", shown["relationship_style"])
        scores = shown["factor_scores"] or {}
        context["factor_chart"] = charts.signed_bars(
            list(scores), [float(v) for v in scores.values()], title="Factor scores",
            description="Standardised factor scores from the latest survey answers (0 = the average respondent).",
            value_label="Factor score") if scores else None
    return render_template("staff/customer.html", **context)


@bp.post("/<int:person_id>/notes")
@staff_required("customers")
def add_note(person_id: int):
    session = get_session()
    profile_service.add_note(session, person_id, author=current_staff().email, text=request.form.get("text", ""))
    session.commit()
    flash("Note saved.")
    return redirect(url_for("staff_customers.profile", person_id=person_id) + "#notes", code=303)


@bp.post("/<int:person_id>/corrections")
@staff_required("customers")
def correct(person_id: int):
    session = get_session()
    catalog_id, _, archetype_id = request.form.get("archetype", "").partition(":")
    correction = profile_service.correct_archetype(
        session, person_id, catalog_id=catalog_id, archetype_id=archetype_id, author=current_staff().email,
        reason=request.form.get("reason"), catalogs_dir=settings().archetypes_dir)
    session.commit()
    flash(f"Corrected to {correction.archetype_id} in {correction.catalog_id}: the profile shows it now, and the "
          "next archetype assignment uses it as a label.")
    return redirect(url_for("staff_customers.profile", person_id=person_id) + "#corrections", code=303)
