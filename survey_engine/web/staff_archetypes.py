"""Staff page: archetypes. The catalogs, how customers distribute over style archetypes and
relationship styles, archetype × value tier, a 2-D map of respondents, and candidate archetypes from
discovery with an action that accepts one into a catalog file."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from survey_engine.definitions.errors import DefinitionError
from survey_engine.services import archetypes as archetype_service
from survey_engine.services import segments
from survey_engine.services import survey as survey_service
from survey_engine.services.survey import NotFound, ServiceError
from survey_engine.web import charts, get_session, settings
from survey_engine.web.staff_auth import current_staff, staff_required

bp = Blueprint("staff_archetypes", __name__, url_prefix="/staff/archetypes")

TIER_TITLES = {"ultra_luxury": "Ultra luxury", "luxury": "Luxury", "premium": "Premium", "entry": "Entry",
               "no value": "No purchases"}


def _questionnaire(session) -> tuple[str | None, list[dict]]:
    questionnaires = survey_service.list_questionnaires(session)
    known = [q["id"] for q in questionnaires]
    chosen = request.values.get("questionnaire") or (known[0] if known else None)
    if chosen is not None and chosen not in known:
        raise ServiceError(f"unknown questionnaire {chosen!r}", field="questionnaire")
    return chosen, questionnaires


def _name(catalog, archetype_id: str) -> str:
    try:
        return catalog.archetype(archetype_id).name.get("en") or archetype_id
    except KeyError:
        return archetype_id


def _catalog_views(session, questionnaire_id, catalogs, report):
    views = []
    for catalog in catalogs.values():
        if catalog.catalog.proposal:
            continue
        view = {"catalog": catalog, "report": (report or {}).get("catalogs", {}).get(catalog.id)}
        stats = view["report"]
        if stats:
            ids = list(stats["distribution"])
            names = [_name(catalog, a) for a in ids]
            total = max(stats["n_customers"], 1)
            view["distribution"] = charts.bar_chart(
                names, [stats["distribution"][a] for a in ids], title=f"Customers per {catalog.catalog.title or catalog.id}",
                description=f"Top archetype of {stats['n_customers']} customers in {catalog.id} "
                            f"({stats['version']}); mean confidence {stats['confidence']['mean']:.2f}.",
                value_label="Customers", colors=[charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(ids))],
                extra_columns=("Share",), extra=[(f"{stats['distribution'][a] / total:.0%}",) for a in ids])
            view["confusion"] = charts.heatmap(
                [[stats["confusion"][a][b] if stats["confusion"][a][b] is not None else float("nan") for b in ids]
                 for a in ids], names, names, title=f"Confusion between {catalog.id}",
                description="Mean membership (columns) of the customers whose top archetype is the row: the diagonal "
                            "is their confidence; large off-diagonal cells are archetypes the data hardly separates.",
                row_header="Top archetype", value_format="{:.2f}")
            crosstab = segments.tier_crosstab(session, questionnaire_id, catalog.id)
            if crosstab:
                rows = dict(zip(crosstab["archetypes"], crosstab["counts"]))
                order = [a for a in catalog.archetype_ids if a in rows] + [a for a in rows if a not in catalog.archetype_ids]
                view["tiers"] = charts.heatmap(
                    [rows[a] for a in order], [_name(catalog, a) for a in order],
                    [TIER_TITLES.get(t, t) for t in crosstab["tiers"]],
                    title=f"{catalog.catalog.title or catalog.id} × value tier",
                    description=f"Customers per top archetype and predicted value tier (CLV model "
                                f"v{crosstab['clv_model_version']}), {crosstab['n_customers']} customers.",
                    row_header="Archetype", value_format="{:.0f}")
            points = segments.respondent_map(session, questionnaire_id, catalog.id)
            if points:
                def weights(k):
                    return ", ".join(f"{'+' if w > 0 else '−'}{name}" for name, w in points.axes[k]["factors"])

                view["map"] = charts.scatter_map(
                    points.x, points.y, [_name(catalog, a) for a in points.archetypes],
                    title=f"Respondents by {catalog.catalog.title or catalog.id}",
                    description=f"{len(points.x)} respondents on the first two principal components of their "
                                f"standardised factor scores (factor model {points.factor_model_id}), coloured by "
                                f"top archetype. Component 1 weighs most {weights(0)}; component 2 {weights(1)}.",
                    x_label=f"Component 1 ({points.axes[0]['share']:.0%} of variance)",
                    y_label=f"Component 2 ({points.axes[1]['share']:.0%} of variance)",
                    group_order=[_name(catalog, a) for a in catalog.archetype_ids])
        views.append(view)
    return views


@bp.get("/")
@staff_required("archetypes")
def index():
    session = get_session()
    questionnaire_id, questionnaires = _questionnaire(session)
    context = {"active_section": "archetypes", "questionnaires": questionnaires,
               "questionnaire_id": questionnaire_id, "catalog_views": [], "problems": [], "proposals": [],
               "text_items": [], "targets": []}
    if questionnaire_id is None:
        return render_template("staff/archetypes.html", **context)
    catalogs_dir = settings().archetypes_dir
    try:
        catalogs = archetype_service.load_catalogs(session, questionnaire_id, catalogs_dir)
    except DefinitionError as exc:
        context["problems"] = exc.issues
        return render_template("staff/archetypes.html", **context)
    try:
        report = archetype_service.archetype_report(session, questionnaire_id)
    except NotFound:
        report = None
    spec = survey_service.spec_of(survey_service.latest_version(session, questionnaire_id))
    context.update(
        catalog_views=_catalog_views(session, questionnaire_id, catalogs, report), has_assignments=report is not None,
        proposals=segments.list_proposals(session, questionnaire_id, settings().instance_dir),
        text_items=[item.name for item in spec.items if item.type == "free_text"],
        targets=[c for c in catalogs.values() if not c.catalog.proposal])
    return render_template("staff/archetypes.html", **context)


@bp.post("/assign")
@staff_required("archetypes")
def assign():
    session = get_session()
    questionnaire_id, _ = _questionnaire(session)
    summary = archetype_service.assign_archetypes(session, questionnaire_id, catalogs_dir=settings().archetypes_dir)
    session.commit()
    flash(f"Assigned {summary['n_customers']} customers in {len(summary['catalogs'])} catalogs "
          f"(factor model {summary['factor_model_id']}).")
    return redirect(url_for("staff_archetypes.index", questionnaire=questionnaire_id), code=303)


@bp.post("/discover")
@staff_required("archetypes")
def discover():
    session = get_session()
    questionnaire_id, _ = _questionnaire(session)
    path = segments.run_discovery(session, questionnaire_id, request.form.get("text_item", ""),
                                  catalogs_dir=settings().archetypes_dir, instance_dir=settings().instance_dir)
    session.commit()
    flash(f"Discovery finished: candidates are listed below (kept in {path.name}).")
    return redirect(url_for("staff_archetypes.index", questionnaire=questionnaire_id) + "#candidates", code=303)


@bp.post("/accept")
@staff_required("archetypes")
def accept():
    session = get_session()
    questionnaire_id, _ = _questionnaire(session)
    form = request.form
    path = segments.accept_candidate(
        session, questionnaire_id, proposal_file=form.get("proposal", ""), candidate_id=form.get("candidate", ""),
        catalog_id=form.get("catalog", ""), new_id=form.get("new_id", ""), name=form.get("name"),
        catalogs_dir=settings().archetypes_dir, instance_dir=settings().instance_dir, author=current_staff().email)
    flash(f"Added {form.get('new_id')} to {path.name} (its version went up by one). Customers are assigned to it "
          "at the next assignment run.")
    return redirect(url_for("staff_archetypes.index", questionnaire=questionnaire_id), code=303)
