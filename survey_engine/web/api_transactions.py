"""JSON API for transactions: ``POST /api/v1/transactions`` stores transaction lines (idempotent on
order and line id) through the same service as ``survey-engine clv import``."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from survey_engine.web.api import FieldErrors, json_body, require_role

bp = Blueprint("api_transactions", __name__, url_prefix="/api/v1")
#: A bearer-key API, not a browser form: no CSRF token.
CSRF_EXEMPT = True

MAX_RECORDS = 1000
ALLOWED_KEYS = {"customer_id", "order_id", "line_id", "timestamp", "amount", "currency", "category", "channel", "store"}


@bp.post("/transactions")
@require_role("marketer", "admin")
def post_transactions():
    """Store up to 1000 transaction lines.

    Body: ``{"transactions": [{"customer_id", "order_id", "line_id", "timestamp" (ISO 8601),
    "amount", "currency"?, "category"?, "channel"?, "store"?}, ...]}``. All records are stored or,
    when any is invalid, none (400 with one error per field, keyed ``transactions[i].field``).
    Lines already stored count as duplicates: 201 when something new was stored, else 200.
    """
    from survey_engine.clv.transactions import load_currency_rates
    from survey_engine.services.clv import InvalidRecords, import_transaction_records

    body = json_body()
    errors: dict[str, str] = {}
    for key in body:
        if key != "transactions":
            errors[key] = "unknown field"
    records = body.get("transactions")
    if not isinstance(records, list) or not records:
        errors["transactions"] = "must be a non-empty list of transaction objects"
    elif len(records) > MAX_RECORDS:
        errors["transactions"] = f"at most {MAX_RECORDS} records per request, got {len(records)}"
    else:
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                errors[f"transactions[{i}]"] = "must be an object"
                continue
            for key in record:
                if key not in ALLOWED_KEYS:
                    errors[f"transactions[{i}].{key}"] = "unknown field"
            for key, value in record.items():
                if isinstance(value, (dict, list, bool)):
                    errors[f"transactions[{i}].{key}"] = "must be a string or a number"
    if errors:
        raise FieldErrors(errors)
    try:
        rates = load_currency_rates()
        summary = import_transaction_records(current_app.extensions["engine"], records, rates)
    except InvalidRecords as exc:
        raise FieldErrors(exc.errors) from None
    status = 201 if summary.rows_loaded else 200
    return jsonify({"ok": True, "import_run_id": summary.run_id, "received": summary.rows_read,
                    "stored": summary.rows_loaded, "duplicates": summary.rows_duplicate,
                    "reporting_currency": rates.reporting_currency}), status


#: OpenAPI fragments for this blueprint, merged into the API document by ``survey_engine.web.openapi``.
OPENAPI_SCHEMAS = {
    "TransactionBatch": {
        "type": "object", "required": ["transactions"], "additionalProperties": False,
        "properties": {"transactions": {"type": "array", "minItems": 1, "maxItems": MAX_RECORDS, "items": {
            "type": "object", "required": ["customer_id", "order_id", "line_id", "timestamp", "amount"],
            "additionalProperties": False, "properties": {
                "customer_id": {"type": "string"}, "order_id": {"type": "string"}, "line_id": {"type": "string"},
                "timestamp": {"type": "string", "description": "ISO 8601; offsets are converted to UTC"},
                "amount": {"type": ["number", "string"], "description": "not negative, in `currency`"},
                "currency": {"type": "string", "description": "ISO code in the rates table; default the reporting currency"},
                "category": {"type": "string"}, "channel": {"type": "string"}, "store": {"type": "string"}}}}}},
    "TransactionBatchResult": {
        "type": "object", "required": ["ok", "import_run_id", "received", "stored", "duplicates"], "properties": {
            "ok": {"const": True}, "import_run_id": {"type": "integer"}, "received": {"type": "integer"},
            "stored": {"type": "integer"}, "duplicates": {"type": "integer"}, "reporting_currency": {"type": "string"}}},
}
OPENAPI_PATHS = {
    "/api/v1/transactions": {"post": {
        "summary": "Store transaction lines (idempotent on order_id + line_id; all or none)",
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/TransactionBatch"}}}},
        "responses": {
            "201": {"description": "New lines stored", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/TransactionBatchResult"}}}},
            "200": {"description": "Every line was already stored", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/TransactionBatchResult"}}}},
            "400": {"description": "Invalid records", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "No or bad API key"}, "403": {"description": "Role not allowed"}}}},
}
