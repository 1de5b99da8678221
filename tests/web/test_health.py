from survey_engine.app import create_app


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_database_unreachable(settings):
    from dataclasses import replace

    broken = replace(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:9/nothing_here?connect_timeout=2")
    client = create_app(broken, test_config={"TESTING": True}).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert response.headers["Retry-After"]


def test_security_headers_on_every_page(client):
    for path in ["/healthz", "/s/unknown-token", "/api/v1/openapi.json"]:
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
