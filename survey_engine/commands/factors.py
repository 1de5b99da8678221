"""``survey-engine factors …``: exploratory factor analysis of Likert answers."""
from __future__ import annotations

import json
from pathlib import Path

import click

from survey_engine.commands.common import engine as _engine

METHOD_CHOICES = ("minres", "ml", "principal")
ROTATION_CHOICES = ("oblimin", "promax", "quartimin", "geomin_obl", "varimax", "quartimax",
                    "equamax", "oblimax", "geomin_ort", "none")


def _item_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _n_factors(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a whole number nor 'auto'") from None
    if number < 1:
        raise click.BadParameter("must be at least 1")
    return number


def format_report(report: dict) -> str:
    """Readable text version of an analysis report."""
    lines = []
    ex = report["exclusions"]
    lines.append(
        f"Respondents analysed: {report['n_respondents']} of {report['n_respondents_total']} "
        f"({ex['n_excluded']} excluded: "
        + ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in ex["by_reason"].items())
        + ")"
    )
    lines.append(
        f"Items: {len(report['items'])}; correlation: {report['correlation_type']}"
        f" (requested {report['correlation_requested']}); missing data: {report['missing_data']}"
    )
    if report.get("reverse_keyed"):
        lines.append(f"Reverse keyed: {', '.join(report['reverse_keyed'])}")
    if report.get("smoothing_note"):
        lines.append(f"Note: {report['smoothing_note']}")
    kmo = report["kmo"]
    bart = report["bartlett"]
    lines.append(f"KMO overall: {kmo['overall']:.3f}   Bartlett: chi2 = {bart['chi2']:.1f}, "
                 f"df = {bart['df']}, p = {bart['p']:.3g}")
    pa = report["parallel_analysis"]
    lines.append(
        f"Parallel analysis suggests {pa['suggested_factors']} factor(s); extracted "
        f"{report['n_factors']} with {report['method']}, rotation {report['rotation']}"
    )
    labels = report["factors"]
    width = max(len(item) for item in report["items"]) + 2
    col = max(8, min(max(len(label) for label in labels) + 1, 14))
    lines.append("")
    lines.append("Loadings (|λ| ≥ 0.30 shown)".ljust(width) )
    lines.append(" " * width + "".join(label[: col - 1].rjust(col) for label in labels) + "      h2")
    for item in report["items"]:
        row = report["loadings"][item]
        cells = "".join(
            (f"{row[label]:.2f}" if abs(row[label]) >= 0.3 else "").rjust(col) for label in labels
        )
        lines.append(item.ljust(width) + cells + f"{report['communalities'][item]:8.2f}")
    ss = report["variance_explained"]["ss_loadings"]
    lines.append("SS loadings".ljust(width) + "".join(f"{ss[label]:.2f}".rjust(col) for label in labels))
    if len(labels) > 1:
        lines.append("")
        lines.append("Factor correlations")
        for label in labels:
            row = report["factor_correlations"][label]
            lines.append(label[: width - 1].ljust(width) + "".join(f"{row[o]:.2f}".rjust(col) for o in labels))
    fit = report["fit"]

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    lines.append("")
    lines.append(f"Fit: RMSR {fmt(fit['rmsr'], '.3f')}  TLI {fmt(fit['tli'], '.3f')}  "
                 f"RMSEA {fmt(fit['rmsea'], '.3f')}  BIC {fmt(fit['bic'], '.1f')}")
    if report["reliability"]:
        lines.append("")
        lines.append("Reliability                     alpha  omega  items")
        for name, rel in report["reliability"].items():
            lines.append(
                f"{(name + ' (' + rel['type'] + ')')[:31].ljust(31)} {fmt(rel['alpha'], '.2f'):>6} "
                f"{fmt(rel['omega'], '.2f'):>6}  {', '.join(rel['items'])}"
            )
    if report["warnings"]:
        lines.append("")
        lines.append("Warnings")
        for warning in report["warnings"]:
            lines.append(f"- {warning['message']}")
    return "\n".join(lines)


@click.group()
def factors() -> None:
    """Find the psychographic factors behind Likert answers (exploratory factor analysis)."""


@factors.command("analyse")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Response file, one row per respondent, one column per item (header row).")
@click.option("--items", required=True,
              help="Comma-separated item columns to analyse, e.g. A1,A2,A3.")
@click.option("--reverse", default="",
              help="Comma-separated reverse-keyed items (recoded as min + max − answer).")
@click.option("--scale-min", type=float, default=None, help="Lowest answer on the scale, e.g. 1.")
@click.option("--scale-max", type=float, default=None, help="Highest answer on the scale, e.g. 7.")
@click.option("--scales", "scales_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML file: scale name → list of items (a leading '-' marks a reverse-keyed item); "
                   "their alpha and omega are reported.")
@click.option("--n-factors", default="auto", show_default=True,
              help="Number of factors, or 'auto' to take parallel analysis' suggestion.")
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="minres", show_default=True,
              help="Extraction method.")
@click.option("--rotation", type=click.Choice(ROTATION_CHOICES), default="oblimin", show_default=True,
              help="Rotation (oblimin, promax, quartimin and geomin_obl allow correlated factors).")
@click.option("--correlation", type=click.Choice(("pearson", "polychoric", "auto")), default="auto",
              show_default=True,
              help="Correlation type; 'auto' uses polychoric when items have at most 7 categories.")
@click.option("--missing", type=click.Choice(("pairwise", "listwise")), default="pairwise",
              show_default=True, help="How unanswered items are handled.")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the full report as JSON.")
def analyse_command(csv_path, items, reverse, scale_min, scale_max, scales_path, n_factors, method,
                    rotation, correlation, missing, json_path) -> None:
    """Analyse a response file exported from any survey tool.

    Applies data-quality gates (straight-lining, too many missing answers), reverse keying,
    computes Pearson or polychoric correlations, KMO and Bartlett's test, parallel analysis,
    the factor solution with communalities, factor correlations and fit, and Cronbach's alpha and
    McDonald's omega per factor and per scale. Prints a readable report and writes all numbers
    to the JSON file.

    Example:

        survey-engine factors analyse --csv answers.csv --items A1,A2,A3,A4,A5,C1,C2,C3
        --reverse A1 --scale-min 1 --scale-max 6 --json report.json
    """
    import pandas as pd
    import yaml

    from survey_engine.psychometrics import analyse
    from survey_engine.psychometrics.analysis import parse_scales
    from survey_engine.psychometrics.items import ItemDataError, item_matrix

    item_names = _item_list(items)
    if len(item_names) < 3:
        raise click.UsageError("--items needs at least three item columns")
    reverse_items = _item_list(reverse)
    if (scale_min is None) != (scale_max is None):
        raise click.UsageError("give both --scale-min and --scale-max, or neither")
    if scale_min is not None and scale_min >= scale_max:
        raise click.UsageError("--scale-min must be below --scale-max")
    unknown = [item for item in reverse_items if item not in item_names]
    if unknown:
        raise click.UsageError(f"--reverse names items not in --items: {', '.join(unknown)}")
    k = _n_factors(n_factors)
    try:
        data = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{csv_path}: cannot read as CSV ({exc})") from None
    try:
        item_matrix(data, item_names, scale_min, scale_max, row_label="line", first_row_number=2)
    except ItemDataError as exc:
        raise click.ClickException(f"{csv_path}: {exc}") from None
    scales = None
    if scales_path:
        try:
            scales = yaml.safe_load(Path(scales_path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise click.ClickException(f"{scales_path}: not valid YAML ({exc})") from None
        if not isinstance(scales, dict):
            raise click.ClickException(f"{scales_path}: expected a mapping of scale name → list of items")
        try:
            parse_scales(scales, item_names)
        except ValueError as exc:
            raise click.ClickException(f"{scales_path}: {exc}") from None
    try:
        report = analyse(data, item_names, reverse=reverse_items, scale_min=scale_min,
                         scale_max=scale_max, scales=scales, n_factors=k, method=method,
                         rotation=rotation, correlation=correlation, missing=missing)
    except ValueError as exc:
        raise click.ClickException(f"{csv_path}: {exc}") from None
    Path(json_path).write_text(json.dumps(report, indent=2, default=_json_default), encoding="utf-8")
    click.echo(format_report(report))
    click.echo(f"\nFull report written to {json_path}")


@factors.command("fit")
@click.option("--questionnaire", "questionnaire_id", required=True, help="Questionnaire id, e.g. post_purchase_luxury.")
@click.option("--version", type=int, default=None, help="Questionnaire version (default: the latest).")
@click.option("--n-factors", default="auto", show_default=True,
              help="Number of factors, or 'auto' to take parallel analysis' suggestion.")
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="minres", show_default=True)
@click.option("--rotation", type=click.Choice(ROTATION_CHOICES), default="oblimin", show_default=True)
@click.option("--correlation", type=click.Choice(("pearson", "polychoric", "auto")), default="auto",
              show_default=True)
@click.option("--missing", type=click.Choice(("pairwise", "listwise")), default="pairwise", show_default=True)
@click.option("--scores", type=click.Choice(("regression", "bartlett")), default="regression",
              show_default=True, help="Factor score method used for respondents' profiles.")
@click.option("--no-activate", is_flag=True, help="Store the model without making it the active one.")
def fit_command(questionnaire_id, version, n_factors, method, rotation, correlation, missing, scores,
                no_activate) -> None:
    """Fit a factor model to the stored, submitted responses of a questionnaire.

    Reverse-keyed items and attention checks come from the questionnaire; respondents who fail
    the attention check, straight-line, finish implausibly fast or skip more than half the items
    are excluded and counted. The fitted model is stored as a new, immutable version and becomes
    the active model used to score new responses (unless --no-activate). A fit that fails is
    stored with its reason and never replaces the active model. Factor labels come from the
    constructs of each factor's top items; override them in <questionnaire>.factor_labels.yaml
    next to the questionnaire file (default label: new label).
    """
    from survey_engine.db import session_scope
    from survey_engine.services.factors import fit_factor_model
    from survey_engine.services.survey import ServiceError

    k = _n_factors(n_factors)
    try:
        with session_scope(_engine()) as session:
            record = fit_factor_model(session, questionnaire_id, version=version, activate=not no_activate,
                                      n_factors=k, method=method, rotation=rotation, correlation=correlation,
                                      missing=missing, scores=scores)
            record_id, status, error, results = record.id, record.status, record.error, record.results
            active = record.is_active
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    if status != "fitted":
        click.echo(f"Fit failed (stored as factor model {record_id}, not active): {error}", err=True)
        raise SystemExit(1)
    click.echo(format_report(results["report"]))
    click.echo(f"\nStored as factor model {record_id}" + (" (active)." if active else " (not active)."))


@factors.command("list")
@click.option("--questionnaire", "questionnaire_id", default=None, help="Only models of this questionnaire.")
def list_command(questionnaire_id) -> None:
    """List stored factor models, newest first (* marks the active one)."""
    from survey_engine.db import session_scope
    from survey_engine.services.factors import list_factor_models

    with session_scope(_engine()) as session:
        rows = list_factor_models(session, questionnaire_id)
    if not rows:
        click.echo("No factor models stored yet.")
        return
    for row in rows:
        mark = "*" if row["is_active"] else " "
        detail = (f"{row['n_factors']} factors from {row['n_respondents']} respondents: "
                  + ", ".join(row["factors"])) if row["status"] == "fitted" else f"failed: {row['error']}"
        click.echo(f"{mark} {row['id']:>4}  {row['questionnaire_id']} v{row['version']}  "
                   f"{row['created_at'][:19]}  {detail}")


@factors.command("activate")
@click.argument("model_id", type=int)
def activate_command(model_id) -> None:
    """Make the stored factor model MODEL_ID the one used to score new responses."""
    from survey_engine.db import session_scope
    from survey_engine.services.factors import activate_factor_model
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            record = activate_factor_model(session, model_id)
            name = f"{record.questionnaire_id} v{record.questionnaire_version}"
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Factor model {model_id} is now active for {name}.")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


commands = [factors]
