"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written by hand next to the handlers in api.py; a test validates it with
openapi-spec-validator and checks every route in the app is described.
"""

from __future__ import annotations

from typing import Any

from oplguard import __version__
from oplguard.config.vocabulary import words
from oplguard.removals.vocabulary import RequestStatus, ReviewAction
from oplguard.web.rdns import GenericKind, RdnsStatus


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": ["string", "null"]}
REQUEST_ID = {"type": "string", "pattern": "^[a-z2-7]{16}$"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "ListAnswer": {
        "type": "object",
        "required": ["list", "category", "category_name", "listed"],
        "properties": {
            "list": {"type": "string"},
            "description": {"type": "string"},
            "category": {"type": "string", "examples": ["open-proxy", "zombie", "spam-source"]},
            "category_name": {"type": "string"},
            "category_meaning": {"type": "string"},
            "listed": {"type": "boolean"},
            "network": {"type": "string", "description": "the entry that lists the IP"},
            "reason": {"type": "string"},
            "listed_since": NULLABLE_STRING,
            "expires": NULLABLE_STRING,
            "advice": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ReverseDns": {
        "type": "object",
        "required": ["status", "names", "forward_confirmed"],
        "properties": {
            "status": {"enum": list(words(RdnsStatus))},
            "names": {"type": "array", "items": {"type": "string"}},
            "forward_confirmed": {"type": ["boolean", "null"]},
            "forward_addresses": {"type": "array", "items": {"type": "string"}},
            "generic": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["kind", "pattern", "label"],
                        "properties": {
                            "kind": {"enum": list(words(GenericKind))},
                            "pattern": {"type": "string"},
                            "label": {"type": "string"},
                        },
                    },
                ]
            },
            "detail": {"type": "string"},
            "advice": {"type": "array", "items": {"type": "string"}},
        },
    },
    "IpReport": {
        "type": "object",
        "required": ["ip", "version", "listed", "lists", "advice", "reverse_dns"],
        "properties": {
            "ip": {"type": "string"},
            "version": {"enum": [4, 6]},
            "listed": {"type": "boolean"},
            "lists": {"type": "array", "items": _ref("ListAnswer")},
            "advice": {"type": "array", "items": {"type": "string"}},
            "reverse_dns": _ref("ReverseDns"),
        },
    },
    "RemovalInput": {
        "type": "object",
        "required": ["ip", "email", "explanation"],
        "properties": {
            "ip": {"type": "string", "maxLength": 64},
            "email": {"type": "string", "maxLength": 254},
            "explanation": {"type": "string", "maxLength": 4000},
        },
    },
    "Removal": {
        "type": "object",
        "required": ["id", "ip", "status", "lists", "created_at", "updated_at", "note"],
        "properties": {
            "id": REQUEST_ID,
            "ip": {"type": "string"},
            "status": {"enum": list(words(RequestStatus))},
            "lists": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "number", "description": "Unix time"},
            "updated_at": {"type": "number"},
            "decided_at": {"type": ["number", "null"]},
            "note": {"type": "string", "description": "the reviewer's note to the requester"},
            "status_url": {"type": "string"},
            "merged": {"type": "boolean"},
            "outcome": {"type": "array", "items": {"type": "string"}},
        },
    },
    "NotListed": {
        "type": "object",
        "required": ["ip", "status", "message"],
        "properties": {
            "ip": {"type": "string"},
            "status": {"const": "not-listed"},
            "message": {"type": "string"},
        },
    },
    "Note": {"type": "object", "properties": {"note": {"type": "string", "maxLength": 2000}}},
}

ID_PARAM = {"name": "request_id", "in": "path", "required": True, "schema": REQUEST_ID}
LIMITED = _error("rate limit reached; see Retry-After")
UNAUTHORIZED = _error("admin token missing or wrong")


def _paths() -> dict[str, Any]:
    removal = _json(_ref("Removal"), "the request")
    return {
        "/api/v1/ip/{ip}": {
            "get": {
                "summary": "Which lists hold an IPv4 or IPv6 address, why, and its reverse DNS",
                "operationId": "lookupIp",
                "parameters": [
                    {"name": "ip", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json(_ref("IpReport"), "the answer of every list"),
                    "400": _error("not one IPv4 or IPv6 address"),
                    "429": LIMITED,
                },
            }
        },
        "/api/v1/removals": {
            "post": {
                "summary": "Request removal of a listed IP",
                "operationId": "createRemoval",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("RemovalInput")}},
                },
                "responses": {
                    "201": _json(_ref("Removal"), "a new request"),
                    "200": _json(
                        {"oneOf": [_ref("Removal"), _ref("NotListed")]},
                        "merged into the IP's pending request, or the IP is not listed",
                    ),
                    "400": _error("the body is not a JSON object"),
                    "413": _error("the body is too large"),
                    "415": _error("the body is not application/json"),
                    "422": _error("a field is missing or invalid"),
                    "429": LIMITED,
                },
            }
        },
        "/api/v1/removals/{request_id}": {
            "get": {
                "summary": "Status, decision and note of a removal request",
                "operationId": "getRemoval",
                "parameters": [ID_PARAM],
                "responses": {"200": removal, "404": _error("no such request")},
            }
        },
        "/api/v1/admin/removals": {
            "get": {
                "summary": "Removal requests with their requesters (admin)",
                "operationId": "listRemovals",
                "security": [{"adminToken": []}],
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"enum": list(words(RequestStatus))},
                    }
                ],
                "responses": {
                    "200": _json({"type": "array", "items": _ref("Removal")}, "newest first"),
                    "400": _error("unknown status"),
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/v1/admin/removals/{request_id}/{action}": {
            "post": {
                "summary": "Approve (delist the IP) or deny a removal request (admin)",
                "operationId": "decideRemoval",
                "security": [{"adminToken": []}],
                "parameters": [
                    ID_PARAM,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": list(words(ReviewAction))},
                    },
                ],
                "requestBody": {"content": {"application/json": {"schema": _ref("Note")}}},
                "responses": {
                    "200": _json(_ref("Removal"), "the decided request"),
                    "401": UNAUTHORIZED,
                    "404": _error("no such request"),
                    "409": _error("already decided"),
                    "415": _error("the body is not application/json"),
                    "422": _error("a bad note"),
                    "500": _error("a list file could not be rewritten"),
                },
            }
        },
    }


def openapi_document(public_url: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "oplguard IP lookup and delisting API",
            "version": __version__,
            "description": "Check an IP against this site's block lists and request its removal.",
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }
    if public_url:
        document["servers"] = [{"url": public_url.rstrip("/")}]
    return document
