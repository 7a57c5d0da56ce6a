"""OpenAPI descriptions of the ingestion endpoints.

The ingestion routes read their raw body themselves (streamed, capped,
decompressed, decoded by msgspec), so FastAPI cannot infer their schemas:
they are written here and attached with ``openapi_extra`` and ``responses``.
"""

from __future__ import annotations

from typing import Any, Final

from pigeon.collector._body import BODY_TIMEOUT_SECONDS

__all__ = ["ERROR_RESPONSES", "INGEST_RESPONSES", "request_body"]

_STRING_OR_NULL: Final = {"type": ["string", "null"]}

_PROPERTIES: Final = {
    "type": ["object", "null"],
    "description": "Event properties, validated against the write key's catalog: "
    "undeclared ones are dropped, wrong types refuse the event, long strings are truncated; "
    "a frames property is an array of strings.",
    "additionalProperties": {
        "type": ["string", "integer", "boolean", "null", "array"],
        "items": {"type": "string"},
    },
}

SEGMENT_MESSAGE: Final[dict[str, Any]] = {
    "type": "object",
    "title": "SegmentTrack",
    "required": ["event"],
    "properties": {
        "type": {"type": "string", "enum": ["track"], "description": "Only track is accepted."},
        "event": {"type": "string", "description": "An event declared in the catalog."},
        "properties": _PROPERTIES,
        "anonymousId": {
            **_STRING_OR_NULL,
            "description": "The random install id (max 128 characters).",
        },
        "userId": {
            **_STRING_OR_NULL,
            "description": "Used as the install id when anonymousId is absent or null.",
        },
        "messageId": {
            "type": "string",
            "description": "Unique id (UUIDv7 from pigeon); a repeated id is stored once.",
        },
        "timestamp": {"type": "string", "format": "date-time"},
        "context": {
            "type": "object",
            "description": "pigeon's layout (app, library, os, runtime, catalog) or the "
            "historical flat one (version, python_version, system, machine, platform).",
        },
    },
}

_SEGMENT_BATCH: Final = {
    "type": "object",
    "title": "SegmentBatch",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": SEGMENT_MESSAGE},
        "sentAt": {
            "type": "string",
            "format": "date-time",
            "description": "When the client sent the batch: corrects its clock skew.",
        },
        "writeKey": {"type": "string", "description": "When not given as Basic auth user."},
    },
}

_SEGMENT_TRACK: Final = {
    **SEGMENT_MESSAGE,
    "title": "SegmentTrackRequest",
    "properties": {
        **SEGMENT_MESSAGE["properties"],
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string"},
    },
}

_POSTHOG_EVENT: Final = {
    "type": "object",
    "title": "PostHogEvent",
    "required": ["event", "distinct_id"],
    "properties": {
        "event": {"type": "string"},
        "distinct_id": {"type": "string", "description": "The install id."},
        "properties": {
            **_PROPERTIES,
            "description": "Catalog properties, plus $lib, $lib_version, $python_version, "
            "$os, $os_version, $app_version read as context.",
        },
        "timestamp": {"type": "string", "format": "date-time"},
        "uuid": {"type": "string"},
        "api_key": {"type": "string"},
    },
}

_POSTHOG_BODY: Final = {
    "title": "PostHogCapture",
    "oneOf": [
        {
            "type": "object",
            "required": ["batch", "api_key"],
            "properties": {
                "batch": {"type": "array", "items": _POSTHOG_EVENT},
                "api_key": {"type": "string"},
                "sent_at": {"type": "string", "format": "date-time"},
            },
        },
        _POSTHOG_EVENT,
        {"type": "array", "items": _POSTHOG_EVENT},
    ],
}

BODIES: Final = {
    "segment_batch": _SEGMENT_BATCH,
    "segment_track": _SEGMENT_TRACK,
    "posthog": _POSTHOG_BODY,
}

_ERROR: Final = {
    "type": "object",
    "title": "Error",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}

_RESULT: Final = {
    "type": "object",
    "title": "IngestResult",
    "required": ["success", "accepted", "rejected"],
    "properties": {
        "success": {"type": "boolean", "const": True},
        "accepted": {"type": "integer", "description": "Valid events (stored, or already stored)."},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"index": {"type": "integer"}, "reason": {"type": "string"}},
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: _error("Unknown or missing write key."),
    429: _error("Too many requests from this address; see Retry-After."),
    503: _error("The store is busy or unavailable; retry after Retry-After."),
}

INGEST_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "Committed: every valid event is stored; invalid ones are listed.",
        "content": {"application/json": {"schema": _RESULT}},
    },
    400: _error("Bad JSON (or not UTF-8), corrupt compressed data, or no valid event."),
    **ERROR_RESPONSES,
    408: _error(f"The body did not arrive within {BODY_TIMEOUT_SECONDS:g} seconds."),
    413: _error("An event over 32 KB, or a body over 500 KB after decompression."),
    415: _error("Unsupported Content-Encoding (supported: gzip, deflate, identity)."),
}


def request_body(name: str) -> dict[str, Any]:
    """The ``openapi_extra`` that documents one ingestion body (JSON, optionally compressed)."""
    return {
        "requestBody": {
            "required": True,
            "description": "JSON, optionally compressed (Content-Encoding: gzip or deflate).",
            "content": {"application/json": {"schema": BODIES[name]}},
        }
    }
