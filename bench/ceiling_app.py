"""The ceiling for bench_load.py: a bare Flask app with one JSON route at the submit path, served
by the same gunicorn configuration. It parses the same body and answers a JSON object of the same
shape, with no validation and no database."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/responses")
def submit():
    body = request.get_json()
    return jsonify({"ok": True, "status": "submitted", "response_id": len(body["answers"]),
                    "submitted_at": "2026-01-01T00:00:00+00:00"})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
