"""A request id per request: taken from a well-formed ``X-Request-ID`` sent by a proxy, otherwise
made here; it is echoed in the response header and written on every log line of the request."""
from __future__ import annotations

import itertools
import os
import re
import secrets

from flask import Blueprint, g, request

bp = Blueprint("request_id", __name__)

HEADER = "X-Request-ID"
#: What a proxy may pass through; anything else (too long, spaces, quotes, newlines) is replaced,
#: so a client cannot forge log structure.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


_process: tuple[int, str, itertools.count] | None = None


def new_request_id() -> str:
    """32 hex digits, unique: a random prefix per process (made again after a fork) and a counter,
    which costs no system call per request, unlike ``uuid4``."""
    global _process
    state = _process
    if state is None or state[0] != os.getpid():
        state = _process = (os.getpid(), secrets.token_hex(8), itertools.count())
    return f"{state[1]}{next(state[2]):016x}"


@bp.before_app_request
def _assign_request_id() -> None:
    presented = request.headers.get(HEADER, "")
    g.request_id = presented if _WELL_FORMED.match(presented) else new_request_id()


@bp.after_app_request
def _echo_request_id(response):
    if "request_id" not in g:  # an earlier before-request hook answered on its own (e.g. 429)
        _assign_request_id()
    response.headers[HEADER] = g.request_id
    return response
