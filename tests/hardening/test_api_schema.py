"""schemathesis against ``/api/v1/openapi.json`` through the WSGI app: generated requests, valid
and invalid, to every documented operation never get a 5xx, and every response matches the
document (status code, content type, headers, body schema)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from survey_engine.services.survey import create_api_key, find_invitation, submit_response
from survey_engine.web.openapi import openapi_document
from tests.helpers import complete_answers, invite

#: "Responses conform to the document" and "no 5xx"; generated invalid input must be refused (4xx).
#: (schemathesis' positive_data_acceptance is left out: answers and identity payloads have rules
#: that JSON Schema cannot state, e.g. which items a questionnaire has.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
_PATHS = openapi_document()["paths"]
OPERATIONS = sorted((path, method) for path, item in _PATHS.items()
                    for method in item if method in {"get", "post", "put", "patch", "delete"})
#: Negative cases need something to break: parameters or a body.
CASES = [(path, method, mode) for path, method in OPERATIONS for mode in GenerationMode
         if mode is GenerationMode.POSITIVE or _PATHS[path][method].get("parameters")
         or _PATHS[path][method].get("requestBody")]


@pytest.fixture
def admin_key(session, loaded_questionnaires):
    key = create_api_key(session, "admin")
    # Something to list, read and replay, so responses have bodies worth checking.
    issued = invite(session, customer="SCHEMA1", order="O1")
    submit_response(session, find_invitation(session, issued.token), complete_answers(), language="en")
    session.commit()
    return key


@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=[f"{m.upper()} {p} {g.value}" for p, m, g in CASES])
def test_api_never_errors_and_matches_its_document(app, admin_key, path, method, mode):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method.upper()]
    headers = {"Authorization": f"Bearer {admin_key}"}

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
