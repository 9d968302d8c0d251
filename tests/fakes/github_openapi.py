"""GitHub's REST contract for the fake in ``github_server.py``: the upstream description
(``shared/data/github/issues-openapi.json``) as a request and response validator, and GitHub's
objects, errors and links (built in ``github_shapes.py``).

The file is OpenAPI 3.0.3 (octokit/openapi 23.0.2): its schemas are a dialect of JSON Schema
draft 4. Translated for jsonschema, as the file needs:

- ``nullable: true`` (87 uses) adds ``"null"`` to ``type`` and ``None`` to an ``enum``
  (``state_reason``); with no ``type`` (``milestone``'s ``oneOf``) the schema becomes
  ``anyOf: [<schema>, {"type": "null"}]``;
- ``$ref: "#/components/..."`` is made absolute and the translated document registered under
  that URI, so a fragment validates on its own (no ``$ref`` in the file has siblings);
- ``example(s)`` are dropped; ``x-github-*``, ``deprecated`` and ``format: int64`` are ignored;
  ``date-time`` (RFC 3339) and ``uri`` are checked here (jsonschema's checks need more packages).

Every response example in the file then validates (but search's "lexical-fallback", whose items
are ``["..."]``). One quirk stays: ``validation-error.errors[].value`` is a ``oneOf`` of three
nullable branches that ``null`` matches thrice, so the fake never sends ``"value": null``.

Parameters arrive as strings; an ``integer`` one must be digits. Statuses an operation does not
list (401 but for search, rate-limit 403/429, 5xx) are held to ``basic-error``, as GitHub answers
them. Headers are not in the description: ``check_request`` adds GitHub's documented refusals
(no ``User-Agent`` 403, unknown ``X-GitHub-Api-Version`` 400, bad JSON 400) and stricter ones (an
``Accept`` without JSON 415, no ``Authorization`` 401, unknown query parameters 422).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from fakes.github_shapes import accepts_json, epoch
from support.paths import SHARED_DATA

DESCRIPTION = SHARED_DATA / "github" / "issues-openapi.json"
BASE_URI = "urn:github-rest:issues-openapi"
BASIC_ERROR = {"$ref": f"{BASE_URI}#/components/schemas/basic-error"}
MISSING: Any = object()  # no request body, as opposed to a JSON null
API_VERSIONS = ("2022-11-28", "2026-03-10")
NO_USER_AGENT = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"  # fmt: skip
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.I | re.A)

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return not isinstance(value, str)
    epoch(value)  # a ValueError for month 13 or the 31st of April
    return True


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is None or bool(parts.scheme and parts.netloc and " " not in value)


def to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema object as the draft-4 JSON Schema jsonschema validates."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = BASE_URI + value if value.startswith("#") else value
        elif key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in ("items", "not", "additionalProperties"):
            out[key] = to_json_schema(value)
        elif key not in ("example", "examples", "nullable"):
            out[key] = value
    if node.get("nullable") is not True:
        return out
    if isinstance(out.get("type"), str):  # errors then name the type or format that failed
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}  # a oneOf without a type of its own


def _translate(node: Any, key: str = "") -> Any:
    """The description with every schema translated and everything else kept."""
    if key == "schema":
        return to_json_schema(node)
    if isinstance(node, dict) and key == "schemas":  # components.schemas
        return {name: to_json_schema(schema) for name, schema in node.items()}
    if isinstance(node, dict):
        return {k: _translate(v, k) for k, v in node.items() if k not in ("example", "examples")}
    return [_translate(v) for v in node] if isinstance(node, list) else node


@dataclass
class Operation:
    """One method and path template of the description: what it takes and what it answers."""

    method: str
    template: str
    operation_id: str
    documentation_url: str
    pattern: re.Pattern[str]
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name
    body_schema: dict[str, Any] | None = None
    body_required: bool = False
    responses: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: no body


@dataclass
class Checked:
    """A request held to the description, before any token or state is looked at."""

    op: Operation | None
    params: dict[str, Any]  # path and query parameters, as their schema types
    body: Any  # the parsed JSON body, or MISSING
    problems: list[str]
    refusal: tuple[int, str] | None = None  # (status, message) GitHub answers without going on


class OpenAPI:
    """``OpenAPI.load()``: ``match`` a request to its operation; ``*_problems`` list what is
    wrong with its parameters, its body and the answer."""

    def __init__(self, document: dict[str, Any]):
        if not str(document.get("openapi", "")).startswith("3.0."):
            raise ValueError(f"not an OpenAPI 3.0 description: {document.get('openapi')!r}")
        self.document = _translate(copy.deepcopy(document))
        resource = DRAFT4.create_resource(self.document)
        self.registry = Registry().with_resource(BASE_URI, resource)
        self.operations = [
            self._operation(method.upper(), template, op, item.get("parameters", []))
            for template, item in self.document["paths"].items()
            for method, op in item.items()
            if method in ("get", "post", "patch", "put", "delete")
        ]

    @classmethod
    @functools.cache
    def load(cls, path: Path = DESCRIPTION) -> OpenAPI:
        """The description at ``path``, read and translated once per process."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while node.get("$ref", "").startswith("#/"):
            target: Any = self.document
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    def _operation(self, method: str, template: str, op: dict, shared: list) -> Operation:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        docs = op.get("externalDocs", {}).get("url", "https://docs.github.com/rest")
        result = Operation(method, template, op["operationId"], docs, re.compile(regex))
        for param in map(self._resolve, [*shared, *op.get("parameters", [])]):
            result.parameters[param["name"]] = param
        if "requestBody" in op:
            body = self._resolve(op["requestBody"])
            result.body_schema = body["content"]["application/json"]["schema"]
            result.body_required = bool(body.get("required"))
        for status, raw in op["responses"].items():
            content = self._resolve(raw).get("content", {}).get("application/json")
            result.responses[status] = content["schema"] if content else None
        return result

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str]]:
        """The operation serving ``method path`` and its path parameters, or ``(None, {})``."""
        for op in self.operations:
            found = op.pattern.fullmatch(path)
            if found and op.method == method:
                return op, found.groupdict()
        return None, {}

    def check_request(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        raw: bytes,
    ) -> Checked:
        """``headers`` with lower-cased names; ``path`` below the API root."""
        op, path_params = self.match(method, path)
        if op is None:
            problem = f"no operation of the description serves {method} {path}"
            return Checked(None, {}, MISSING, [problem], (404, "Not Found"))
        try:
            body = json.loads(raw) if raw.strip() else MISSING
        except ValueError:
            return Checked(op, {}, MISSING, ["body: not JSON"], (400, "Problems parsing JSON"))
        params, problems = self.parameter_problems(op, path_params, query)
        problems += self.body_problems(op, body)
        accept, version = headers.get("accept", "*/*"), headers.get("x-github-api-version")
        for refused, status, message in (
            (not headers.get("user-agent"), 403, NO_USER_AGENT),
            (not accepts_json(accept), 415, f"Unsupported 'Accept' header: {accept!r}"),
            (version not in (None, *API_VERSIONS), 400, f"API version '{version}' not supported"),
            (not headers.get("authorization", "").strip(), 401, "Requires authentication"),
        ):
            if refused:
                problems.append(f"header: {message}")
                return Checked(op, params, body, problems, (status, message))
        return Checked(op, params, body, problems)

    def problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        """What is wrong with ``value`` under ``schema``, one line per error."""
        validator = Draft4Validator(schema, registry=self.registry, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        return [".".join([where, *map(str, e.absolute_path)]) + f": {e.message}" for e in errors]

    def parameter_problems(
        self, op: Operation, path_params: dict[str, str], query: dict[str, list[str]]
    ) -> tuple[dict[str, Any], list[str]]:
        """The path and query parameters as their schema types, and what is wrong with them."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        given = {**{k: [v] for k, v in path_params.items()}, **query}
        for name, texts in given.items():
            param = op.parameters.get(name) or {"in": "query"}
            where, schema, value = f"{param['in']}.{name}", param.get("schema"), texts[-1]
            if schema is None or param["in"] not in ("path", "query"):
                problems.append(f"{where}: not a parameter of {op.operation_id}")
            elif schema.get("type") == "integer" and not re.fullmatch(r"[+-]?\d+", value):
                problems.append(f"{where}: {value!r} is not an integer")
            else:
                values[name] = int(value) if schema.get("type") == "integer" else value
                problems += self.problems(schema, values[name], where)
        problems += [
            f"{p['in']}.{name}: required, missing"
            for name, p in op.parameters.items()
            if p.get("required") and name not in given
        ]
        return values, problems

    def body_problems(self, op: Operation, body: Any) -> list[str]:
        """What is wrong with a JSON request body (``MISSING`` when there was none)."""
        if body is MISSING:
            return ["body: required, missing"] if op.body_required else []
        if op.body_schema is None:
            return [f"body: {op.operation_id} takes none"]
        return self.problems(op.body_schema, body, "body")

    def response_problems(self, op: Operation | None, status: int, body: Any) -> list[str]:
        """What is wrong with an answer (``body`` is None when there is none)."""
        schema = BASIC_ERROR if op is None else op.responses.get(str(status), BASIC_ERROR)
        where = f"response {status} ({op.operation_id if op else 'no operation'})"
        if schema is None or body is None:
            return [] if schema is body else [f"{where}: a body where the description has none"]
        return self.problems(schema, body, where)
