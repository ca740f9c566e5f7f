"""`MUREC_LOG_FORMAT=json`: one JSON object per record, with the caller's fields, and secrets redacted as in text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from data.logsafe import JsonLines, RedactSecrets

pytestmark = pytest.mark.fast
TOKEN = "123456:secret-bot-token"


def test_a_record_is_one_json_line_with_its_fields_and_no_secret() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.addFilter(RedactSecrets([TOKEN]))
    logger = logging.getLogger("murecom.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("GET /bot%s/getMe", TOKEN, extra={"platform": "telegram", "ms": 12.5})
        try:
            raise ValueError(f"token {TOKEN} refused")
        except ValueError:
            logger.exception("start failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "GET /bot[REDACTED]/getMe" and first["level"] == "INFO"
    assert (first["platform"], first["ms"], first["logger"]) == ("telegram", 12.5, "murecom.test.json")
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["level"] == "ERROR" and "ValueError: token [REDACTED] refused" in second["exception"]
    assert TOKEN not in stream.getvalue()
