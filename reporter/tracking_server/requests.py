"""Reading MLflow requests: a JSON body (POST, PATCH) or query parameters (GET), with the
errors MLflow's server gives for a missing or malformed field."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from reporter.core.errors import InvalidArgumentError
from reporter.core.wire import WireError, int_from_json, text_from_json

MAX_RESULTS_LIMIT = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD for runs


async def params_of(request: Request) -> dict[str, Any]:
    """Return the request's fields: query parameters of a GET (or of a DELETE that has
    them), else its JSON body (MLflow's client sends the registry's DELETEs with one).

    Repeated query parameters (`experiment_ids=1&experiment_ids=2`) become lists."""
    if request.method == "GET" or (request.method == "DELETE" and request.query_params):
        out: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in out:
                prior = out[key]
                out[key] = [*prior, value] if isinstance(prior, list) else [prior, value]
            else:
                out[key] = value
        return out
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # bad JSON, nesting or numbers too deep/long
        raise WireError(f"Malformed JSON request body: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise WireError(f"The request body must be a JSON object, got {type(data).__name__}")
    return data


def required(data: Mapping[str, Any], *names: str) -> str:
    """Return the first of `names` present as a non-empty string (MLflow's aliases, such as
    run_id and run_uuid); MLflow's 'Missing value for required parameter' error if none."""
    for name in names:
        value = data.get(name)
        if value not in (None, ""):
            return text_from_json(value, name)
    raise InvalidArgumentError(f"Missing value for required parameter '{names[0]}'.")


def optional(data: Mapping[str, Any], name: str) -> str | None:
    """Return a string field, or None when it is missing."""
    value = data.get(name)
    return None if value is None else text_from_json(value, name)


def optional_int(data: Mapping[str, Any], name: str) -> int | None:
    """Return an integer field, or None when it is missing."""
    value = data.get(name)
    return None if value is None or value == "" else int_from_json(value, name)


def strings(data: Mapping[str, Any], name: str) -> list[str]:
    """Return a repeated string field (one value, a list, or missing)."""
    value = data.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [text_from_json(v, name) for v in items]


def max_results(data: Mapping[str, Any], default: int, limit: int = MAX_RESULTS_LIMIT) -> int:
    """Return max_results, checked as MLflow does (1..limit)."""
    value = optional_int(data, "max_results")
    if value is None:
        return default
    if value < 1 or value > limit:
        raise InvalidArgumentError(
            f"Invalid value {value} for parameter 'max_results' supplied. It must be at most "
            f"{limit} and positive."
        )
    return value


def page(items: list[Any], data: Mapping[str, Any], size: int) -> tuple[list[Any], str | None]:
    """Return one page of `items` and the token of the next page (None after the last).

    Tokens are MLflow's: base64 of {"offset": N}."""
    token = optional(data, "page_token")
    offset = decode_token(token) if token else 0
    chunk = items[offset : offset + size]
    end = offset + len(chunk)
    return chunk, (encode_token(end) if end < len(items) else None)


def encode_token(offset: int) -> str:
    """Return the page token of an offset."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str) -> int:
    """Return the offset of a page token; INVALID_PARAMETER_VALUE if it is not one of ours."""
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
        offset = data["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgumentError(f"Invalid page token {token!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidArgumentError(f"Invalid page token {token!r}: bad offset")
    return offset
