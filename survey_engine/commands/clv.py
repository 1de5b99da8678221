"""``survey-engine clv``: customer lifetime value, value tiers and transaction files."""
from __future__ import annotations

import json
from pathlib import Path

import click

_DATE = click.DateTime(formats=["%Y-%m-%d"])


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
@click.option("--observation-end", type=_DATE, default=None, help="Last day observed (YYYY-MM-DD); default the last purchase day.")
@click.option("--time-unit", type=click.Choice(["D", "W", "M"]), default="W", show_default=True,
              help="Model time unit: days, weeks or months (365.25/12 days).")
@click.option("--horizon-weeks", type=click.FloatRange(min=0, min_open=True), default=52.0, show_default=True,
              help="Prediction horizon in weeks (converted into the model time unit).")
@click.option("--discount-rate", type=click.FloatRange(min=0), default=0.10, show_default=True,
              help="Yearly discount rate for lifetime value, converted to the model time unit.")
@click.option("--tiers", "tiers_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Tiers YAML (weights and cut-offs); default the packaged survey_engine/clv/tiers.yaml.")
@click.option("--penalizer", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="L2 penaliser for the likelihoods; try 0.001 when a fit does not converge.")
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

      survey-engine clv analyse --transactions tx.csv --customer-col customer --date-col date
      --amount-col amount --date-format %Y%m%d --calibration-end 1997-09-30 --json report.json
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


commands = [clv]
