"""A request id per request: taken from a well-formed ``X-Request-ID`` sent by a proxy, otherwise
made here; it is echoed in the response header and written on every log line of the request."""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, g, request

bp = Blueprint("request_id", __name__)

HEADER = "X-Request-ID"
#: What a proxy may pass through; anything else (too long, spaces, quotes, newlines) is replaced,
#: so a client cannot forge log structure.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


@bp.before_app_request
def _assign_request_id() -> None:
    presented = request.headers.get(HEADER, "")
    g.request_id = presented if _WELL_FORMED.match(presented) else uuid.uuid4().hex


@bp.after_app_request
def _echo_request_id(response):
    if "request_id" not in g:  # an earlier before-request hook answered on its own (e.g. 429)
        _assign_request_id()
    response.headers[HEADER] = g.request_id
    return response
