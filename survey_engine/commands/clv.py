"""``survey-engine clv``: customer lifetime value, value tiers and transaction files."""
from __future__ import annotations

import json
from pathlib import Path

import click

_DATE = click.DateTime(formats=["%Y-%m-%d"])

def model_options(command):
    """The model options `clv analyse` and `clv fit` share (observation end, unit, horizon, discount,
    tiers file, penaliser)."""
    options = [
        click.option("--observation-end", type=_DATE, default=None,
                     help="Last day observed (YYYY-MM-DD); default the last purchase day."),
        click.option("--time-unit", type=click.Choice(["D", "W", "M"]), default="W", show_default=True,
                     help="Model time unit: days, weeks or months (365.25/12 days)."),
        click.option("--horizon-weeks", type=click.FloatRange(min=0, min_open=True), default=52.0, show_default=True,
                     help="Prediction horizon in weeks (converted into the model time unit)."),
        click.option("--discount-rate", type=click.FloatRange(min=0), default=0.10, show_default=True,
                     help="Yearly discount rate for lifetime value, converted to the model time unit."),
        click.option("--tiers", "tiers_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None,
                     help="Tiers YAML (weights and cut-offs); default the packaged survey_engine/clv/tiers.yaml."),
        click.option("--penalizer", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="L2 penaliser for the likelihoods; try 0.001 when a fit does not converge."),
    ]
    for option in reversed(options):
        command = option(command)
    return command



@click.group()
def clv() -> None:
    """Customer lifetime value and value tiers from purchase transactions.

    The models are BG/NBD (how often a client buys and whether they are still active) and
    Gamma-Gamma (how much they spend per purchase), fitted by maximum likelihood. Clients are then
    placed in value tiers (ultra_luxury, luxury, premium, entry) by predicted value, category
    breadth and relationship depth, with flags for rising clients and lapse risk.
    """


@clv.command("analyse")
@click.option("--transactions", "transactions_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV file of transaction lines with a header row (from any source).")
@click.option("--customer-col", required=True, help="Column holding the customer id.")
@click.option("--date-col", required=True, help="Column holding the purchase date or timestamp.")
@click.option("--amount-col", required=True, help="Column holding the line amount (not negative).")
@click.option("--currency-col", default=None, help="Column holding the ISO currency code; without it every amount is in --default-currency.")
@click.option("--category-col", default=None, help="Column holding the product category (adds category breadth to the tier score).")
@click.option("--channel-col", default=None, help="Column holding the sales channel (adds the channel mix to the predictions).")
@click.option("--date-format", default=None, help="strftime format of the dates, e.g. %Y%m%d; ISO 8601 when omitted.")
@click.option("--currency-rates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML rates table (reporting_currency, rates); default $SURVEY_ENGINE_CURRENCY_RATES or the packaged table.")
@click.option("--default-currency", default=None, help="Currency of amounts without a currency; default the reporting currency.")
@click.option("--calibration-end", type=_DATE, default=None,
              help="Fit on purchases up to this day (YYYY-MM-DD) and compare predictive tiers with past-spend tiers on the days after it.")
@model_options
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report (parameters, standard errors, log-likelihoods, tiers, hold-out comparison) here.")
@click.option("--predictions", "predictions_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one row per customer (customer_id, frequency, recency, T, monetary_value, p_alive, "
                   "expected_purchases, expected_average_value, clv, tier, rising, ...) to this CSV.")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write rows that could not be read (line number, reason, raw fields) to this CSV.")
def analyse(transactions_path, customer_col, date_col, amount_col, currency_col, category_col, channel_col,
            date_format, currency_rates, default_currency, calibration_end, observation_end, time_unit,
            horizon_weeks, discount_rate, tiers_path, penalizer, json_path, predictions_path, rejects_path) -> None:
    """Fit CLV models on a transaction file and write a JSON report (and optionally predictions).

    Bad rows (unparseable date, missing customer, negative or non-numeric amount, unknown currency)
    are skipped and reported with their line numbers; the analysis uses the good rows.

    Example (CDNOW-style file with dates like 19970101):

    \b
      survey-engine clv analyse --transactions tx.csv --customer-col customer \\
        --date-col date --amount-col amount --date-format %Y%m%d \\
        --calibration-end 1997-09-30 --json report.json
    """
    from survey_engine.clv.analysis import run_clv_analysis
    from survey_engine.clv.mle import ConvergenceError
    from survey_engine.clv.tiers import load_tier_config
    from survey_engine.clv.transactions import (
        TransactionColumns, load_currency_rates, read_transactions, write_rejects,
    )

    try:
        rates = load_currency_rates(currency_rates)
        tier_config = load_tier_config(tiers_path)
        columns = TransactionColumns(
            customer=customer_col, date=date_col, amount=amount_col, currency=currency_col,
            category=category_col, channel=channel_col,
        )
        rows, rejects = read_transactions(
            transactions_path, columns, rates, date_format=date_format, default_currency=default_currency
        )
        if rejects:
            click.echo(f"{len(rejects)} row(s) skipped in {transactions_path}:", err=True)
            for rej in rejects[:10]:
                click.echo(f"  line {rej.line}: {rej.reason}", err=True)
            if len(rejects) > 10:
                click.echo(f"  ... ({len(rejects) - 10} more{'; see ' + str(rejects_path) if rejects_path else ''})", err=True)
        if rejects_path is not None:
            with open(rejects_path, "w", newline="", encoding="utf-8") as handle:
                write_rejects(rejects, handle)
        if rows.empty:
            raise click.ClickException(f"{transactions_path}: no valid transaction rows")
        result = run_clv_analysis(
            rows,
            category_col="category" if category_col else None,
            channel_col="channel" if channel_col else None,
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit=time_unit,
            horizon_weeks=horizon_weeks,
            annual_discount_rate=discount_rate,
            tier_config=tier_config,
            penalizer=penalizer,
        )
    except (ValueError, ConvergenceError) as exc:
        raise click.ClickException(str(exc)) from None

    report = {
        **result.report,
        "source": {
            "file": str(transactions_path),
            "rows_loaded": int(len(rows)),
            "rows_rejected": len(rejects),
            "reporting_currency": rates.reporting_currency,
        },
    }
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if predictions_path is not None:
        result.predictions.to_csv(predictions_path, index=False)
    bg = report["bgnbd"]
    click.echo(
        f"{report['n_customers']} customers; BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.3f} a={bg['a']:.3f} "
        f"b={bg['b']:.3f} (LL {bg['log_likelihood']:.1f}); report written to {json_path}"
    )


@clv.command("import")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV file of transaction lines with a header row.")
@click.option("--customer-col", default="customer_id", show_default=True, help="Column holding the customer id.")
@click.option("--order-col", default="order_id", show_default=True, help="Column holding the order id.")
@click.option("--line-col", default="line_id", show_default=True, help="Column holding the line number within the order.")
@click.option("--date-col", default="timestamp", show_default=True, help="Column holding the purchase timestamp.")
@click.option("--amount-col", default="amount", show_default=True, help="Column holding the line amount.")
@click.option("--currency-col", default="currency", show_default=True,
              help="Column holding the ISO currency code; pass an empty value (--currency-col '') when there is none.")
@click.option("--category-col", default="category", show_default=True, help="Column holding the product category ('' for none).")
@click.option("--channel-col", default="channel", show_default=True, help="Column holding the channel: store, online, app ('' for none).")
@click.option("--store-col", default="store_or_country", show_default=True, help="Column holding the store or country ('' for none).")
@click.option("--date-format", default=None, help="strftime format of the dates; ISO 8601 when omitted.")
@click.option("--currency-rates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML rates table; default $SURVEY_ENGINE_CURRENCY_RATES or the packaged table.")
@click.option("--default-currency", default=None, help="Currency of rows without one; default the reporting currency.")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write rows that could not be loaded (line number, reason, raw fields) to this CSV.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Rows read and stored at a time; memory use depends on this, not on the file size.")
def import_(csv_path, customer_col, order_col, line_col, date_col, amount_col, currency_col, category_col,
            channel_col, store_col, date_format, currency_rates, default_currency, rejects_path, chunk_size) -> None:
    """Load a transaction CSV into the database, converting amounts to the reporting currency.

    Lines already stored (same order id and line id) are skipped, so importing a file again adds
    nothing. Bad rows (unparseable date, missing customer, negative or non-numeric amount, unknown
    currency) are skipped and reported with their line numbers; the good rows load.
    """
    from survey_engine.clv.transactions import TransactionColumns, load_currency_rates
    from survey_engine.db import get_engine
    from survey_engine.services.clv import import_transactions_csv

    try:
        rates = load_currency_rates(currency_rates)
        columns = TransactionColumns(
            customer=customer_col, date=date_col, amount=amount_col, currency=currency_col or None,
            order_id=order_col, line_id=line_col, category=category_col or None, channel=channel_col or None,
            store=store_col or None,
        )
        summary = import_transactions_csv(
            get_engine(), csv_path, columns, rates, rejects_to=rejects_path, chunk_size=chunk_size,
            date_format=date_format, default_currency=default_currency, keep_rejects=10,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for rej in summary.rejects:
        click.echo(f"  line {rej.line}: {rej.reason}", err=True)
    if summary.rows_rejected > len(summary.rejects):
        more = summary.rows_rejected - len(summary.rejects)
        click.echo(f"  ... ({more} more{'; see ' + str(rejects_path) if rejects_path else ''})", err=True)
    click.echo(
        f"import run {summary.run_id}: {summary.rows_read} rows read, {summary.rows_loaded} loaded, "
        f"{summary.rows_duplicate} already stored, {summary.rows_rejected} rejected "
        f"(amounts in {rates.reporting_currency})"
    )


@clv.command("fit")
@click.option("--calibration-end", type=_DATE, default=None,
              help="Validate instead: fit on purchases up to this day (YYYY-MM-DD) and store the hold-out comparison "
                   "of predictive and past-spend tiers; the active model is not replaced.")
@model_options
def fit(calibration_end, observation_end, time_unit, horizon_weeks, discount_rate, tiers_path, penalizer) -> None:
    """Fit the CLV models on the stored transactions and store every customer's value and tier.

    The new model is versioned and becomes the active one; earlier models are kept unchanged. If
    the fit fails, the active model stays as it was. Survey responses count towards relationship
    depth in the tier score.
    """
    from survey_engine.clv.mle import ConvergenceError
    from survey_engine.clv.tiers import load_tier_config
    from survey_engine.db import get_engine
    from survey_engine.services.clv import fit_clv_model

    try:
        record = fit_clv_model(
            get_engine(), calibration_end=calibration_end, observation_end=observation_end, time_unit=time_unit,
            horizon_weeks=horizon_weeks, annual_discount_rate=discount_rate, penalizer=penalizer,
            tier_config=load_tier_config(tiers_path), tiers_source=None if tiers_path is None else str(tiers_path),
        )
    except (ValueError, ConvergenceError) as exc:
        raise click.ClickException(str(exc)) from None
    bg, gg = record.params["bgnbd"], record.params["gamma_gamma"]
    counts = record.report["tiers"]["counts"]
    click.echo(
        f"CLV model version {record.version} ({record.kind}{', active' if record.is_active else ''}): "
        f"{record.n_customers} customers; BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.3f} a={bg['a']:.3f} "
        f"b={bg['b']:.3f}; Gamma-Gamma p={gg['p']:.2f} q={gg['q']:.2f} gamma={gg['gamma']:.2f}; tiers "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    if "holdout" in record.report:
        for level, numbers in record.report["holdout"]["comparison"]["levels"].items():
            pred, past = numbers["predictive"], numbers["past_spend"]
            click.echo(
                f"  hold-out {level}: predictive tiers held {_pct(pred['share_of_actual_top_placed'])} of the actual top "
                f"and {_pct(pred['share_of_holdout_revenue'])} of revenue; past spend {_pct(past['share_of_actual_top_placed'])} "
                f"and {_pct(past['share_of_holdout_revenue'])}"
            )


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


commands = [clv]
