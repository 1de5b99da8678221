"""``survey-engine archetypes …``: assign customers to archetypes, report, propose new ones, validate catalogs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from survey_engine.commands.common import engine as _engine
from survey_engine.commands.common import settings as _settings


def _catalogs_dir(value: Path | None) -> Path:
    return value if value is not None else _settings().archetypes_dir


_CATALOGS_OPTION = click.option(
    "--catalogs", "catalogs_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="Folder of archetype catalogs (default: SURVEY_ENGINE_ARCHETYPES_DIR, else archetypes/).")


@click.group()
def archetypes() -> None:
    """Style archetypes and relationship styles of customers.

    Catalogs (archetypes/*.yaml) describe each archetype: names and descriptions in every
    language, example phrases, the expected factor profile and engagement guidance. Customers are
    assigned from their factor scores (the questionnaire's active factor model) and their free-text
    answers, with soft memberships and an explanation for each.
    """


@archetypes.command("validate")
@click.option("--questionnaire", "questionnaire_id", default=None,
              help="Also check factor names, free-text items and languages against this loaded questionnaire.")
@_CATALOGS_OPTION
def validate_command(questionnaire_id, catalogs_dir) -> None:
    """Check every catalog file and list all problems (file, path inside it, reason, line).

    Exits with status 1 when there is any problem.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.archetypes import validate_catalogs
    from survey_engine.services.survey import ServiceError

    directory = _catalogs_dir(catalogs_dir)
    try:
        if questionnaire_id:
            with session_scope(_engine()) as session:
                issues = validate_catalogs(session, directory, questionnaire_id)
        else:
            issues = validate_catalogs(None, directory)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    if issues:
        for issue in issues:
            click.echo(str(issue), err=True)
        click.echo(f"{len(issues)} problem(s) in {directory}", err=True)
        raise SystemExit(1)
    click.echo(f"All catalogs in {directory} are valid.")


@archetypes.command("assign")
@click.option("--questionnaire", "questionnaire_id", required=True, help="Questionnaire id, e.g. post_purchase_luxury.")
@click.option("--factor-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the factor-score evidence (0 ignores the Likert answers).")
@click.option("--text-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the free-text evidence (0 ignores the written answers).")
@_CATALOGS_OPTION
def assign_command(questionnaire_id, factor_weight, text_weight, catalogs_dir) -> None:
    """Assign every customer with a submitted response to the archetypes of each catalog.

    Uses each customer's latest submitted response: factor scores from the questionnaire's
    active factor model (run `survey-engine factors fit` first) and the free-text items each
    catalog names under catalog.text_items (embedded once and cached in the database). Every
    assignment is stored with its memberships, an explanation (the factors and catalog phrases
    that weighed most) and the catalog version, factor model and embedding model that produced
    it; earlier assignments are kept as history.
    """
    from survey_engine.db import session_scope
    from survey_engine.definitions.errors import DefinitionError
    from survey_engine.services.archetypes import assign_archetypes
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            summary = assign_archetypes(session, questionnaire_id, catalogs_dir=_catalogs_dir(catalogs_dir),
                                        factor_weight=factor_weight, text_weight=text_weight)
    except (ServiceError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Assigned {summary['n_customers']} customers (run {summary['run_id']}, factor model "
               f"{summary['factor_model_id']}, embeddings {summary['embedding_model_id']}).")
    for catalog_id, info in summary["catalogs"].items():
        click.echo(f"\n{catalog_id} ({info['version']}), mean confidence {info['mean_top_membership']:.2f}:")
        for archetype, count in info["counts"].items():
            click.echo(f"  {archetype:<28} {count:>6}")


@archetypes.command("report")
@click.option("--questionnaire", "questionnaire_id", required=True, help="Questionnaire id.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report_command(questionnaire_id, as_json) -> None:
    """Distribution, confidence and confusion of the current assignments, per catalog.

    Confusion row A shows the mean membership in each archetype of the customers assigned to A:
    the diagonal is their confidence, large off-diagonal values mark archetypes the data cannot
    tell apart well.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.archetypes import archetype_report
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            report = archetype_report(session, questionnaire_id)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for catalog_id, info in report["catalogs"].items():
        conf = info["confidence"]
        click.echo(f"{catalog_id} ({info['version']}): {info['n_customers']} customers; confidence mean "
                   f"{conf['mean']:.2f}, median {conf['median']:.2f}, {conf['share_below_0_5']:.0%} below 0.5")
        ids = list(info["distribution"])
        width = max(len(a) for a in ids) + 2
        click.echo("  " + "archetype".ljust(width) + "count  " + " ".join(a[:6].rjust(6) for a in ids))
        for a in ids:
            row = info["confusion"][a]
            cells = " ".join("     -" if row[b] is None else f"{row[b]:6.2f}" for b in ids)
            click.echo("  " + a.ljust(width) + f"{info['distribution'][a]:>5}  " + cells)
        click.echo("")


@archetypes.command("propose")
@click.option("--questionnaire", "questionnaire_id", required=True, help="Questionnaire id.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the proposal catalog (YAML).")
@click.option("--text-item", default="style_words", show_default=True,
              help="Free-text item whose answers shape the clusters.")
@click.option("--method", type=click.Choice(("silhouette", "bic")), default="silhouette", show_default=True,
              help="How the number of archetypes is chosen.")
@click.option("--max-k", type=click.IntRange(min=2), default=10, show_default=True,
              help="Largest number of archetypes tried.")
@_CATALOGS_OPTION
def propose_command(questionnaire_id, out_path, text_item, method, max_k, catalogs_dir) -> None:
    """Discover candidate archetypes in the responses and write them as a catalog to edit.

    Respondents are clustered on their factor scores averaged over respondents who wrote
    similar answers; the number of clusters is chosen by silhouette (or BIC) and its stability
    measured by bootstrap. Each candidate gets an automatic name from its top factors and most
    distinctive words, representative answers, its size and the nearest existing archetype. The
    file is marked `proposal: true`; edit it, then move the archetypes you accept into a catalog.
    """
    from survey_engine.db import session_scope
    from survey_engine.definitions.errors import DefinitionError
    from survey_engine.services.archetypes import propose_archetypes
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            text = propose_archetypes(session, questionnaire_id, text_item=text_item,
                                      catalogs_dir=_catalogs_dir(catalogs_dir), k_range=(2, max_k), method=method)
    except (ServiceError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from None
    out_path.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out_path}")


commands = [archetypes]
