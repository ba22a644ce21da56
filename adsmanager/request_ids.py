"""A request id on every response and every log line of that request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
# An id from upstream (a load balancer, the feed service) is kept if it is sane; \Z, not $,
# which also matches before a final newline (and the id goes into every log line).
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,128}\Z")
access_log = logging.getLogger("adsmanager.access")


def _with_request_id(factory):
    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return record

    make_record.adds_request_id = True
    return make_record


def configure_logging(level: str) -> None:
    """Every log record carries the request id; the root handler prints it."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_request_id", False):
        return
    logging.setLogRecordFactory(_with_request_id(factory))
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def current() -> str:
    return g.get("request_id", "-")


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign() -> None:
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if _ACCEPTABLE.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _stamp(response):
        response.headers[HEADER] = current()
        elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms
        )
        return response
