"""OpenAPI 3.1 description of /api/v1/ (hand-written: the API is small)."""

from django.conf import settings

_err = {"$ref": "#/components/responses/Error"}
_run = {
    "description": "the run",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
}


def _op(summary, responses, body=None, params=None):
    op = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


_code = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "pagemig API",
        "version": "1",
        "description": "Runs of the page migration simulator. Session authentication; "
        "unsafe methods need the CSRF token in X-CSRFToken. Errors carry `errors`, a list "
        "of {field, message}. Live frames stream over WebSockets (docs/protocol.md).",
    },
    "paths": {
        "/api/v1/runs/": {
            "get": _op("List your runs", {"200": {"description": "runs"}, "401": _err}),
            "post": _op(
                "Create a run (queued, then started when a slot is free)",
                {"201": _run, "400": _err, "401": _err, "429": _err},
                body={"$ref": "#/components/schemas/RunRequest"},
            ),
        },
        "/api/v1/runs/{code}/": {
            "get": _op("Get a run", {"200": _run, "404": _err}, params=[_code])
        },
        "/api/v1/runs/{code}/cancel": {
            "post": _op("Cancel", {"200": _run, "404": _err, "409": _err}, params=[_code])
        },
        "/api/v1/runs/{code}/pause": {
            "post": _op("Pause", {"202": _run, "404": _err, "409": _err}, params=[_code])
        },
        "/api/v1/runs/{code}/resume": {
            "post": _op(
                "Resume a paused run, or an interrupted one from its last snapshot",
                {"202": _run, "404": _err, "409": _err},
                params=[_code],
            )
        },
        "/api/v1/runs/{code}/metrics": {
            "get": _op("Metrics series", {"200": {"description": "samples"}}, params=[_code])
        },
        "/api/v1/runs/{code}/metrics.csv": {
            "get": _op("Metrics as CSV", {"200": {"description": "text/csv"}}, params=[_code])
        },
        "/api/v1/runs/{code}/scenario": {
            "get": _op(
                "The run's scenario (format=json|toml)",
                {"200": {"description": "scenario"}, "400": _err},
                params=[
                    _code,
                    {"name": "format", "in": "query", "schema": {"enum": ["json", "toml"]}},
                ],
            )
        },
        "/api/v1/runs/{code}/events": {
            "get": _op("Event log", {"200": {"description": "events"}}, params=[_code])
        },
        "/api/v1/runs/{code}/reports/{name}": {
            "get": _op(
                "A final /proc-style report",
                {"200": {"description": "text/plain"}, "404": _err, "409": _err},
                params=[
                    _code,
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "enum": [
                                "buddyinfo",
                                "pagetypeinfo",
                                "vmstat",
                                "extfrag",
                                "unusable",
                                "trace",
                            ]
                        },
                    },
                ],
            )
        },
        "/api/v1/runs/{code}/shares": {
            "get": _op("List share links", {"200": {"description": "links"}}, params=[_code]),
            "post": _op(
                "Create a read-only share link",
                {"201": {"description": "link"}, "400": _err},
                body={"type": "object", "properties": {"view_state": {"type": "object"}}},
                params=[_code],
            ),
        },
        "/api/v1/shares/{token}/revoke": {
            "post": _op(
                "Revoke a share link",
                {"200": {"description": "link"}, "404": _err},
                params=[
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
    },
    "components": {
        "responses": {
            "Error": {
                "description": "error",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "error": {"type": "string"},
                                "errors": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "field": {"type": ["string", "null"]},
                                            "message": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        }
                    }
                },
            }
        },
        "schemas": {
            "RunRequest": {
                "type": "object",
                "properties": {
                    "scenario": {"type": "object", "description": "see docs/scenario.md"},
                    "preset": {"type": "string"},
                    "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                    "profile": {"enum": ["v4.8", "v6.18"]},
                    "title": {"type": "string", "maxLength": 200},
                    "fps": {"type": "number", "minimum": 0.1, "maximum": settings.MAX_FPS},
                },
                "additionalProperties": False,
            },
            "Run": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {
                        "enum": [
                            "queued",
                            "running",
                            "paused",
                            "succeeded",
                            "failed",
                            "cancelled",
                            "interrupted",
                        ]
                    },
                    "scenario": {"type": "object"},
                    "seed": {"type": "integer"},
                    "profile": {"type": "string"},
                    "engine_version": {"type": "string"},
                    "total_pages": {"type": "integer"},
                    "last_seq": {"type": "integer"},
                    "cells": {"type": "integer"},
                    "pages_per_cell": {"type": "integer"},
                    "url": {"type": "string"},
                },
            },
        },
    },
}
