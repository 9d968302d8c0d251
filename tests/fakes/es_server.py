"""A loopback fake of the Elasticsearch REST API, enough for a point-in-time log export.

It speaks what the official Python client (elasticsearch-py 8/9 over elastic-transport) checks
and sends, as read in elastic/elasticsearch (``RestCompatibleVersionHelper``, the PIT and
search REST handlers) and in the client:

- every answer carries ``X-Elastic-Product: Elasticsearch`` (except 401/403, as the security
  layer answers before the product header is added) and a JSON content type: the request's
  ``application/vnd.elasticsearch+json;compatible-with=N`` when it asked for one, else
  ``application/json``.
- REST API compatibility: a server of major ``M`` accepts ``compatible-with`` ``M`` or
  ``M - 1`` on ``Accept`` and (with a body) ``Content-Type``, and both must agree; anything
  else is the real 400 ``media_type_header_exception`` with a ``status_exception`` cause
  ("Accept version must be either version 8 or 7, but found 9. Accept=...").
- ``GET /``: the info document, ``version.number`` ``8.19.2`` or ``9.1.2`` (or as configured).
- ``POST /{index}/_pit?keep_alive=1m``: ``{"id": ...}``. ``index`` is a comma-separated list of
  names and wildcards; a missing concrete name is a 404 ``index_not_found_exception``, a
  wildcard matching nothing is an empty PIT. The PIT is a snapshot: later documents are not in
  it.
- ``POST /_search`` with ``pit``: ``size`` (<= 10,000), ``sort`` (fields and ``_shard_doc``,
  asc/desc), ``search_after``, ``_source`` filtering (list, string, bool or includes/excludes;
  dotted patterns match nested objects and literal dotted keys), ``query`` (``match_all``,
  ``bool.filter`` / ``bool.must`` of ``range`` (gte/gt/lt/lte, epoch millis or ISO), ``term``
  and ``terms``). Answers ``took``, ``timed_out``, ``_shards``, ``hits`` (``total``,
  ``max_score: null``, hits with ``_index``, ``_id``, ``_score: null``, ``_source``, ``sort``)
  and a fresh ``pit_id`` (rotated on every search, as tests check the client passes it on).
  An index in the path together with a PIT is the real 400 validation error; an unknown or
  closed PIT is 404 ``search_context_missing_exception``.
- ``GET /{index}/_mapping`` (and ``GET /_mapping``): ``{name: {"mappings": {"properties": ...}}}``
  per matching index, properties sorted by name as ES prints them. A field's mapping is the one
  ``put_mapping`` gave, else ES's dynamic mapping of the first document that had it: ``long``,
  ``float``, ``boolean``, ``date`` for ISO 8601 text (``date_detection``), other text ``text`` with
  a ``keyword`` multi-field (``ignore_above: 256``), objects as ``properties`` without a type.
- ``POST /{index}/_search`` (no PIT; ``/_search`` searches every index): the same query, sort and
  ``_source`` handling over the live documents, without ``pit_id``; hits carry ``sort`` only when
  the request sorted.
- more query clauses (what ``aiops logs ask`` allows): ``bool.should`` with
  ``minimum_should_match`` (one ``should`` must match when there is no ``must``/``filter``),
  ``match`` (``operator``), ``match_phrase``, ``multi_match`` (``fields``, ``type`` phrase),
  ``exists``, ``prefix``, ``wildcard`` (``case_insensitive``), ``match_none``, and ``range`` on
  keyword text. A ``text`` field is matched word by word (lowercased word tokens, the standard
  analyzer's gist), any other field on its whole value; ``term``/``terms`` compare the source
  value exactly, whatever the mapping. A multi-field (``message.keyword``) reads its parent's
  value.
- ``DELETE /_pit`` with ``{"id": ...}``: ``{"succeeded": true, "num_freed": 1}``; 404 with
  ``num_freed: 0`` when the PIT is unknown.
- optional security: basic auth or an API key, else 401 ``security_exception``.
- errors in ES's shape ``{"error": {"root_cause": [...], "type", "reason"}, "status": N}``.

Documents are indexed from their ``_source``: a field's indexed value for range and sort is its
date (ISO 8601, naive = UTC, or epoch millis) or number; ``add(..., indexed=...)`` overrides it,
as a custom date format in a mapping would (the source then holds text a client cannot parse).

For tests it records every request and can fail (``fail_next``) or hang (``hang_next``).
"""

from __future__ import annotations

import base64
import fnmatch
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.loopback import LoopbackHTTP

VERSIONS = {8: "8.19.2", 9: "9.1.2"}
_LUCENE = {8: "9.12.2", 9: "10.2.2"}
_COMPAT = re.compile(r"application/vnd\.elasticsearch\+[\w.-]+\s*;\s*compatible-with=(\d+)")
MAX_RESULT_WINDOW = 10_000


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    status: int | None = None
    answer: Any = None  # the JSON body answered

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Document:
    index: str
    doc_id: str
    source: dict[str, Any]
    seq: int  # global insertion order: the _shard_doc tiebreaker
    indexed: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str  # "status" or "hang"
    status: int = 503
    path: str | None = None  # only requests whose path contains this
    seconds: float = 0.0


class FakeElasticsearch:
    """``with FakeElasticsearch(major=8) as es: es.add("logs-a", {...})``."""

    def __init__(
        self,
        major: int = 9,
        *,
        version: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        api_key: str | None = None,
    ):
        self.major = major
        self.version = version or VERSIONS[major]
        self.basic_auth = basic_auth
        self.api_key = api_key
        self.indices: dict[str, list[Document]] = {}
        self.mappings: dict[str, dict[str, Any]] = {}  # index -> its mapping's properties
        self.pits: dict[str, list[Document]] = {}  # live PIT key -> snapshot
        self.pit_ids: dict[str, str] = {}  # any id handed out -> PIT key
        self.pits_opened = 0
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._release = threading.Event()
        self._http = LoopbackHTTP(_Handler, self)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeElasticsearch:
        self._http.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._http.stop()

    def __enter__(self) -> FakeElasticsearch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._http.base_url("FakeElasticsearch")

    # -- data and steering ----------------------------------------------------------------------

    def add(
        self,
        index: str,
        source: dict[str, Any],
        *,
        doc_id: str | None = None,
        indexed: Mapping[str, Any] | None = None,
    ) -> Document:
        """Index one document; ``indexed`` overrides field values as the mapping parsed them."""
        with self._lock:
            doc = Document(
                index,
                doc_id or f"doc-{next(self._ids):06d}",
                source,
                next(self._seq),
                dict(indexed or {}),
            )
            self.indices.setdefault(index, []).append(doc)
            merge_properties(
                self.mappings.setdefault(index, {}), dynamic_properties(source), explicit=False
            )
        return doc

    def put_mapping(self, index: str, properties: Mapping[str, Any]) -> None:
        """Map fields explicitly (an index template's mapping): creates the index if needed;
        fields already mapped keep their mapping unless given here."""
        with self._lock:
            self.indices.setdefault(index, [])
            merge_properties(self.mappings.setdefault(index, {}), properties, explicit=True)

    def add_many(self, index: str, sources: Iterable[dict[str, Any]]) -> None:
        for source in sources:
            self.add(index, source)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def searches(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/_search")]

    def fail_next(self, n: int, status: int = 503, *, path: str | None = None) -> None:
        """Answer the next ``n`` requests (whose path contains ``path``) with ``status``."""
        with self._lock:
            self._faults.extend([_Fault("status", status, path)] * n)

    def hang_next(self, n: int, seconds: float = 5.0, *, path: str | None = None) -> None:
        """Hold the next ``n`` requests ``seconds`` (or until stop) before answering them."""
        with self._lock:
            self._faults.extend([_Fault("hang", path=path, seconds=seconds)] * n)

    def _take_fault(self, path: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.path is None or fault.path in path:
                del self._faults[i]
                return fault
        return None

    # -- the API ----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any):
        """``(status, body)`` for one authenticated request with acceptable headers."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if method in ("GET", "HEAD") and not parts:
            return 200, self.info()
        if method == "POST" and len(parts) == 2 and parts[1] == "_pit":
            return self.open_pit(parts[0], query)
        if method == "DELETE" and parts == ["_pit"]:
            return self.close_pit(body)
        if method == "GET" and parts and parts[-1] == "_mapping" and len(parts) <= 2:
            return self.get_mapping(parts[0] if len(parts) == 2 else "_all")
        if method in ("GET", "POST") and parts and parts[-1] == "_search" and len(parts) <= 2:
            return self.search(parts[0] if len(parts) == 2 else None, body or {})
        return 400, error(
            "illegal_argument_exception",
            f"request [{path}] contains unrecognized method [{method}] or path",
        )

    def info(self) -> dict[str, Any]:
        wire, index = ("8.19.0", "8.0.0") if self.major == 9 else ("7.17.0", "7.0.0")
        return {
            "name": "fake-es-0",
            "cluster_name": "aiops-test",
            "cluster_uuid": "c1uSt3rUuIdAIOPStest0",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2025-08-11T15:04:41.449624592Z",
                "build_snapshot": False,
                "lucene_version": _LUCENE.get(self.major, "10.2.2"),
                "minimum_wire_compatibility_version": wire,
                "minimum_index_compatibility_version": index,
            },
            "tagline": "You Know, for Search",
        }

    def resolve(self, expression: str) -> list[str] | tuple[int, dict]:
        names: list[str] = []
        for part in expression.split(","):
            if part.startswith("-"):
                names = [n for n in names if not fnmatch.fnmatchcase(n, part[1:])]
            elif "*" in part or part in ("_all", ""):
                pattern = "*" if part in ("_all", "") else part
                names += [n for n in sorted(self.indices) if fnmatch.fnmatchcase(n, pattern)]
            elif part in self.indices:
                names.append(part)
            else:
                return 404, error(
                    "index_not_found_exception",
                    f"no such index [{part}]",
                    **{"resource.type": "index_or_alias", "resource.id": part},
                    index_uuid="_na_",
                    index=part,
                )
        return list(dict.fromkeys(names))

    def open_pit(self, expression: str, query: dict[str, list[str]]):
        if not query.get("keep_alive"):
            return 400, error(
                "action_request_validation_exception",
                "Validation Failed: 1: [keep_alive] is not specified;",
            )
        names = self.resolve(expression)
        if isinstance(names, tuple):
            return names
        with self._lock:
            snapshot = [d for n in names for d in self.indices[n]]
            self.pits_opened += 1
            key = f"pit{self.pits_opened}"
            self.pits[key] = snapshot
            pit_id = self._new_pit_id(key, 0)
        return 200, {"id": pit_id}

    def _new_pit_id(self, key: str, generation: int) -> str:
        pit_id = base64.urlsafe_b64encode(f"{key}:{generation}".encode()).decode()
        self.pit_ids[pit_id] = key
        return pit_id

    def close_pit(self, body: Any):
        pit_id = body.get("id") if isinstance(body, dict) else None
        if not pit_id:
            return 400, error(
                "action_request_validation_exception", "Validation Failed: 1: no pit ids specified;"
            )
        with self._lock:
            key = self.pit_ids.get(pit_id)
            freed = self.pits.pop(key, None) is not None if key else False
        return (200 if freed else 404), {"succeeded": True, "num_freed": int(freed)}

    def get_mapping(self, expression: str):
        names = self.resolve(expression)
        if isinstance(names, tuple):
            return names
        with self._lock:
            return 200, {
                name: {"mappings": {"properties": sorted_properties(self.mappings[name])}}
                if self.mappings.get(name)
                else {"mappings": {}}
                for name in names
            }

    def search(self, index: str | None, body: dict[str, Any]):
        pit = body.get("pit")
        if pit is None:
            return self._search_live(index, body)
        if index is not None:
            return 400, error(
                "action_request_validation_exception",
                "Validation Failed: 1: [indices] cannot be used with point in time. Do not "
                "specify any index with point in time.;",
            )
        size = body.get("size", 10)
        if size > MAX_RESULT_WINDOW:
            return 400, error(
                "illegal_argument_exception",
                f"Result window is too large, from + size must be less than or equal to: "
                f"[{MAX_RESULT_WINDOW}] but was [{size}]. See the scroll api for a more "
                "efficient way to request large data sets.",
            )
        with self._lock:
            key = self.pit_ids.get(pit.get("id", ""))
            snapshot = self.pits.get(key) if key else None
            if snapshot is None:
                return 404, error(
                    "search_context_missing_exception",
                    f"No search context found for id [{pit.get('id')}]",
                )
            generation = sum(1 for k in self.pit_ids.values() if k == key)
            new_id = self._new_pit_id(key, generation)
        return self._answer(snapshot, body, new_id)

    def _search_live(self, index: str | None, body: dict[str, Any]):
        """A search without a PIT: the index expression's documents as they are now."""
        size = body.get("size", 10)
        if size > MAX_RESULT_WINDOW:
            return 400, error(
                "illegal_argument_exception",
                f"Result window is too large, from + size must be less than or equal to: "
                f"[{MAX_RESULT_WINDOW}] but was [{size}].",
            )
        names = self.resolve(index if index is not None else "_all")
        if isinstance(names, tuple):
            return names
        with self._lock:
            snapshot = [d for n in names for d in self.indices[n]]
        return self._answer(snapshot, body, None)

    def _answer(self, snapshot: list[Document], body: dict[str, Any], pit_id: str | None):
        size = body.get("size", 10)
        with self._lock:
            flat = {name: flat_fields(self.mappings.get(name, {})) for name in self.indices}
        try:
            matched = [d for d in snapshot if matches(d, body.get("query"), flat.get(d.index))]
            keyed = [(sort_values(d, body.get("sort"), flat.get(d.index)), d) for d in matched]
            orders = sort_orders(body.get("sort"))
            keyed.sort(key=lambda kd: sortable(kd[0], orders))
            after = body.get("search_after")
            if after is not None:
                bound = sortable(after, orders)
                keyed = [kd for kd in keyed if sortable(kd[0], orders) > bound]
        except _BadQuery as exc:
            return 400, error("parsing_exception", str(exc))
        page = keyed[:size]
        sorted_ = pit_id is not None or body.get("sort") is not None
        hits = [
            {
                "_index": d.index,
                "_id": d.doc_id,
                "_score": None,
                "_source": filter_source(d.source, body.get("_source", True)),
                **({"sort": values} if sorted_ else {}),
            }
            for values, d in page
        ]
        indices = {d.index for d in snapshot}
        return 200, {
            **({"pit_id": pit_id} if pit_id is not None else {}),
            "took": 1,
            "timed_out": False,
            "_shards": {"total": len(indices), "successful": len(indices), "skipped": 0,
                        "failed": 0},
            "hits": {
                "total": {"value": len(matched), "relation": "eq"},
                "max_score": None,
                "hits": hits,
            },
        }  # fmt: skip


class _BadQuery(Exception):
    pass


def error(kind: str, reason: str, status: int | None = None, **extra: Any) -> dict[str, Any]:
    """ES's error body (the status is added by the handler)."""
    cause = {"type": kind, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, **({"status": status} if status else {})}


FAULT_BODIES = {
    429: error(
        "es_rejected_execution_exception",
        "rejected execution of TimedRunnable{original=ActionRunnable#wrap, timeout=-1} on "
        "TaskExecutionTimeTrackingEsThreadPoolExecutor[name = fake-es-0/search, queue "
        "capacity = 1000, task execution EWMA = 1.2ms, total task execution time = 5s]",
    ),
    503: error(
        "cluster_block_exception",
        "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
    ),
    500: error("null_pointer_exception", "Cannot invoke \"Object.hashCode()\" because \"key\" is null"),
    400: error("illegal_argument_exception", "request rejected by the fake"),
}  # fmt: skip
PROXY_PAGE = "<html><body><h1>{status}</h1>The upstream server is not answering.</body></html>"


# -- mappings -------------------------------------------------------------------------------------

TEXT_TYPES = ("text", "match_only_text")
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"
)


@dataclass(frozen=True)
class Field:
    type: str
    source: str  # where the value is in _source (a multi-field's parent)


def dynamic_properties(source: Mapping[str, Any]) -> dict[str, Any]:
    """ES's dynamic mapping of one document (default ``date_detection``, no
    ``numeric_detection``); dotted keys become objects, as ES expands them."""
    properties: dict[str, Any] = {}
    for key, value in source.items():
        if isinstance(value, list):
            value = next((v for v in value if v is not None), None)
        if value is None:
            continue
        node, parts = properties, key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}}).setdefault("properties", {})
        if isinstance(value, Mapping):
            inner = dynamic_properties(value)
            spec = node.setdefault(parts[-1], {"properties": {}})
            merge_properties(spec.setdefault("properties", {}), inner, explicit=False)
        elif isinstance(value, bool):
            node.setdefault(parts[-1], {"type": "boolean"})
        elif isinstance(value, int):
            node.setdefault(parts[-1], {"type": "long"})
        elif isinstance(value, float):
            node.setdefault(parts[-1], {"type": "float"})
        elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
            node.setdefault(parts[-1], {"type": "date"})
        else:
            node.setdefault(parts[-1], {
                "type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}
            })  # fmt: skip
    return properties


def merge_properties(into: dict[str, Any], new: Mapping[str, Any], *, explicit: bool) -> None:
    """Add ``new`` fields to a mapping; an explicit mapping also replaces a field's type."""
    for name, spec in new.items():
        have = into.get(name)
        if have is None:
            into[name] = json.loads(json.dumps(spec))
        elif "properties" in spec and "properties" in have:
            merge_properties(have["properties"], spec["properties"], explicit=explicit)
        elif explicit:
            into[name] = json.loads(json.dumps(spec))


def sorted_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """As ES prints a mapping: fields by name, objects' properties too."""
    out = {}
    for name in sorted(properties):
        spec = dict(properties[name])
        if "properties" in spec:
            spec["properties"] = sorted_properties(spec["properties"])
        out[name] = spec
    return out


def flat_fields(properties: Mapping[str, Any], prefix: str = "") -> dict[str, Field]:
    """Dotted path -> type and source path, multi-fields included."""
    out: dict[str, Field] = {}
    for name, spec in properties.items():
        path = prefix + name
        out[path] = Field(spec.get("type", "object"), path)
        for sub, sub_spec in (spec.get("fields") or {}).items():
            out[f"{path}.{sub}"] = Field(sub_spec.get("type", "keyword"), path)
        out.update(flat_fields(spec.get("properties") or {}, path + "."))
    return out


def source_value(doc: Document, name: str, fields: Mapping[str, Field] | None = None) -> Any:
    """A field's value in the document's ``_source`` (a multi-field reads its parent)."""
    found = fields.get(name) if fields else None
    return lookup(doc.source, found.source if found is not None else name)


# -- the query, sort and _source semantics --------------------------------------------------------


def lookup(source: Any, name: str) -> Any:
    """A dotted field from nested objects or literal dotted keys (``None`` when absent)."""
    if not isinstance(source, dict):
        return None
    if name in source:
        return source[name]
    parts = name.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if isinstance(source.get(head), dict):
            found = lookup(source[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None


def indexed_value(doc: Document, name: str, fields: Mapping[str, Field] | None = None) -> Any:
    """What the index holds for a field: the override, a date as epoch ms, or the value (a
    multi-field's is its parent's)."""
    if name in doc.indexed:
        return doc.indexed[name]
    value = source_value(doc, name, fields)
    if isinstance(value, str):
        parsed = to_millis(value)
        return parsed if parsed is not None else value
    return value


def to_millis(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000 // 1)


def matches(doc: Document, query: Any, fields: Mapping[str, Field] | None = None) -> bool:
    """Whether ``doc`` matches ``query``; ``fields`` is its index's mapping (``flat_fields``)."""
    if query is None:
        return True
    if not isinstance(query, dict) or len(query) != 1:
        raise _BadQuery(f"query malformed, expected a single clause: {query!r}")
    (kind, spec), = query.items()  # fmt: skip
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "bool":
        clauses = [c for key in ("filter", "must") for c in _as_list(spec.get(key, []))]
        nots = _as_list(spec.get("must_not", []))
        shoulds = _as_list(spec.get("should", []))
        if not all(matches(doc, c, fields) for c in clauses):
            return False
        if any(matches(doc, c, fields) for c in nots):
            return False
        if not shoulds:
            return True
        msm = spec.get("minimum_should_match")
        needed = should_needed(msm, len(shoulds)) if msm is not None else (0 if clauses else 1)
        return sum(matches(doc, c, fields) for c in shoulds) >= needed
    if kind == "range":
        name, bounds = _field_spec(spec)
        value = indexed_value(doc, name, fields)
        if isinstance(value, str):  # a keyword: compared as text
            ops = {"gte": value.__ge__, "gt": value.__gt__, "lte": value.__le__, "lt": value.__lt__}
            return all(ops[op](str(bound)) for op, bound in bounds.items() if op in ops)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        ops = {"gte": value.__ge__, "gt": value.__gt__, "lte": value.__le__, "lt": value.__lt__}
        for op, bound in bounds.items():
            if op in ("format", "time_zone", "relation", "boost", "_name"):
                continue
            if op not in ops:
                raise _BadQuery(f"[range] query does not support [{op}]")
            limit = to_millis(bound)
            if limit is None:
                raise _BadQuery(f"failed to parse date field [{bound}]")
            if not ops[op](limit):
                return False
        return True
    if kind in ("term", "terms"):
        name, wanted = _field_spec(spec)
        folded = False
        if kind == "term":
            if isinstance(wanted, dict):
                folded = bool(wanted.get("case_insensitive"))
                wanted = wanted.get("value")
            wanted = [wanted]
        value = indexed_value(doc, name, fields)
        values = value if isinstance(value, list) else [value]
        if folded:
            return any(str(v).lower() in {str(w).lower() for w in wanted} for v in values)
        return any(v in wanted for v in values)
    if kind in ("match", "match_phrase"):
        name, wanted = _field_spec(spec)
        options = wanted if isinstance(wanted, dict) else {"query": wanted}
        return _words_match(doc, name, options, kind == "match_phrase", fields)
    if kind == "multi_match":
        phrase = spec.get("type") in ("phrase", "phrase_prefix")
        names = [str(n).split("^", 1)[0] for n in _as_list(spec.get("fields", []))]
        return any(_words_match(doc, n, spec, phrase, fields) for n in names)
    if kind == "exists":
        value = source_value(doc, spec["field"], fields)
        return value is not None and value != []
    if kind in ("prefix", "wildcard"):
        name, wanted = _field_spec(spec)
        options = wanted if isinstance(wanted, dict) else {"value": wanted}
        pattern = str(options.get("value", options.get("wildcard", "")))
        folded = bool(options.get("case_insensitive"))
        if kind == "prefix":
            regex = re.escape(pattern) + ".*"
        else:
            regex = "".join(
                ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
            )
        compiled = re.compile(regex, re.IGNORECASE | re.DOTALL if folded else re.DOTALL)
        value = source_value(doc, name, fields)
        values = value if isinstance(value, list) else [value]
        if _is_text(name, fields):  # each word of the text is a term
            values = [w for v in values if v is not None for w in words(v)]
        return any(v is not None and compiled.fullmatch(str(v)) for v in values)
    raise _BadQuery(f"unknown query [{kind}]")


def _field_spec(spec: Any) -> tuple[str, Any]:
    """``{field: value}`` of a leaf clause, ignoring ``boost`` and ``_name``."""
    named = [(k, v) for k, v in spec.items() if k not in ("boost", "_name")]
    if len(named) != 1:
        raise _BadQuery(f"query doesn't support multiple fields, found {[k for k, _ in named]}")
    return named[0]


def should_needed(msm: Any, n: int) -> int:
    """How many of ``n`` should clauses ``minimum_should_match`` asks for (ints, "2", "-1",
    "75%", "-25%")."""
    text = str(msm).strip()
    if text.endswith("%"):
        share = int(text[:-1])
        count = n * abs(share) // 100
        needed = count if share >= 0 else n - count
    else:
        value = int(text)
        needed = value if value >= 0 else n + value
    return max(0, min(n, needed))


def words(value: Any) -> list[str]:
    """The standard analyzer's gist: lowercased word characters."""
    return re.findall(r"\w+", str(value).lower())


def _is_text(name: str, fields: Mapping[str, Field] | None) -> bool:
    found = fields.get(name) if fields else None
    return found is not None and found.type in TEXT_TYPES


def _words_match(
    doc: Document, name: str, options: dict[str, Any], phrase: bool, fields: Mapping | None
) -> bool:
    """``match`` / ``match_phrase`` on one field: word by word on text, else the whole value."""
    query = options.get("query")
    value = source_value(doc, name, fields)
    values = [v for v in (value if isinstance(value, list) else [value]) if v is not None]
    found = fields.get(name) if fields else None
    if found is not None and found.type not in TEXT_TYPES:  # keyword, number, date, boolean
        wanted = indexed_value(Document("", "", {"v": query}, 0), "v")
        have = [indexed_value(Document("", "", {"v": v}, 0), "v") for v in values]
        return any(h == wanted or str(h) == str(query) for h in have)
    asked = words(query)
    if not asked:
        return False
    for v in values:
        tokens = words(v)
        if phrase:
            if any(tokens[i : i + len(asked)] == asked for i in range(len(tokens))):
                return True
        elif str(options.get("operator", "or")).lower() == "and":
            if all(t in tokens for t in asked):
                return True
        elif any(t in tokens for t in asked):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sort_orders(sort: Any) -> list[tuple[str, bool]]:
    """``[(field, descending)]`` of a sort spec (default: by score, which here is doc order)."""
    orders = []
    for item in _as_list(sort) if sort is not None else ["_shard_doc"]:
        if isinstance(item, str):
            orders.append((item, False))
        else:
            (name, how), = item.items()  # fmt: skip
            order = how.get("order", "asc") if isinstance(how, dict) else how
            orders.append((name, order == "desc"))
    return orders


def sort_values(doc: Document, sort: Any, fields: Mapping[str, Field] | None = None) -> list[Any]:
    out = []
    for name, _ in sort_orders(sort):
        if name == "_shard_doc":
            out.append(doc.seq)
        else:
            value = indexed_value(doc, name, fields)
            out.append(value if isinstance(value, int | float | str) else None)
    return out


def sortable(values: list[Any], orders: list[tuple[str, bool]]) -> tuple:
    """A key where missing values sort last and ``desc`` fields are reversed."""
    key = []
    for value, (_, desc) in zip(values, orders, strict=True):
        if value is None:
            key.append((1, 0))
        elif isinstance(value, str):
            key.append((0, tuple(-ord(c) for c in value) if desc else value))
        else:
            key.append((0, -value if desc else value))
    return tuple(key)


def filter_source(source: dict[str, Any], spec: Any) -> dict[str, Any] | None:
    if spec is True or spec is None:
        return source
    if spec is False:
        return None
    if isinstance(spec, str | list):
        includes, excludes = _as_list(spec), []
    else:
        includes = _as_list(spec.get("includes", spec.get("include", [])))
        excludes = _as_list(spec.get("excludes", spec.get("exclude", [])))

    def keep(path: str) -> bool:
        hit = not includes or any(_path_match(p, path) for p in includes)
        return hit and not any(_path_match(p, path) for p in excludes)

    def walk(node: Any, prefix: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, dict | list) and not keep(path):
                    kept = walk(value, path)
                    if kept:
                        out[key] = kept
                elif keep(path):
                    out[key] = value
            return out
        if isinstance(node, list):
            return [k for k in (walk(v, prefix) for v in node if isinstance(v, dict)) if k]
        return None

    return walk(source, "")


def _path_match(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern + ".")


# -- HTTP ------------------------------------------------------------------------------------------


def compat_error(major: int, accept: str, content_type: str, has_body: bool) -> dict | None:
    """The 400 body a server of ``major`` answers to these media types, or None if fine."""
    found = _COMPAT.search(accept)
    accept_version = int(found.group(1)) if found else None
    found = _COMPAT.search(content_type) if has_body else None
    content_version = int(found.group(1)) if found else None
    allowed = (major, major - 1)
    cause = None
    if accept_version is not None and accept_version not in allowed:
        cause = (
            f"Accept version must be either version {major} or {major - 1}, but found "
            f"{accept_version}. Accept={accept}"
        )
    elif content_version is not None and content_version not in allowed:
        cause = (
            f"Content-Type version must be either version {major} or {major - 1}, but found "
            f"{content_version}. Content-Type={content_type}"
        )
    elif has_body and accept_version != content_version:
        cause = (
            "A compatible version is required on both Content-Type and Accept headers if "
            "either one has requested a compatible version and the compatible versions must "
            f"match. Accept={accept}, Content-Type={content_type}"
        )
    if cause is None:
        return None
    reason = "Invalid media-type value on headers [Accept, Content-Type]"
    body = error("media_type_header_exception", reason)
    body["error"]["caused_by"] = {"type": "status_exception", "reason": cause}
    return body


class _Handler(BaseHTTPRequestHandler):
    fake: FakeElasticsearch
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = RecordedRequest(method, parts.path, parse_qs(parts.query), headers, body)
        with fake._lock:
            fake._requests.append(record)
            fault = fake._take_fault(parts.path)
        accept = headers.get("accept", "")
        compat = _COMPAT.search(accept)
        content_type = (
            f"application/vnd.elasticsearch+json;compatible-with={compat.group(1)}"
            if compat
            else "application/json"
        )
        if fault is not None and fault.kind == "hang":
            fake._release.wait(fault.seconds)
        if fault is not None and fault.kind == "status":
            record.status = fault.status
            if fault.status in FAULT_BODIES:
                answer = record.answer = {**FAULT_BODIES[fault.status], "status": fault.status}
                self._send(fault.status, json.dumps(answer), content_type)
            else:  # a proxy in front of the cluster
                page = PROXY_PAGE.format(status=fault.status)
                self._send(fault.status, page, "text/html", product=False)
            return
        denied = self._authenticate(headers.get("authorization", ""), parts.path)
        if denied is not None:
            record.status = 401
            self._send(401, json.dumps(denied), "application/json", product=False,
                       extra={"WWW-Authenticate": 'Basic realm="security", charset="UTF-8"'})  # fmt: skip
            return
        rejected = compat_error(fake.major, accept, headers.get("content-type", ""), bool(raw))
        if rejected is not None:
            status, answer = 400, rejected
        else:
            status, answer = fake.handle(method, parts.path, record.query, body)
        if status >= 400 and "error" in answer:
            answer = {**answer, "status": status}
        record.status, record.answer = status, answer
        self._send(status, "" if method == "HEAD" else json.dumps(answer), content_type)

    def _authenticate(self, authorization: str, path: str) -> dict | None:
        fake = self.fake
        if fake.basic_auth is None and fake.api_key is None:
            return None
        if fake.basic_auth is not None:
            token = base64.b64encode(":".join(fake.basic_auth).encode()).decode()
            if authorization == f"Basic {token}":
                return None
        if fake.api_key is not None and authorization == f"ApiKey {fake.api_key}":
            return None
        user = fake.basic_auth[0] if fake.basic_auth else "_anonymous"
        if not authorization:
            reason = f"missing authentication credentials for REST request [{path}]"
        else:
            reason = f"unable to authenticate user [{user}] for REST request [{path}]"
        return error("security_exception", reason, status=401)

    def _send(
        self,
        status: int,
        text: str,
        content_type: str,
        *,
        product: bool = True,
        extra: Mapping[str, str] = {},
    ) -> None:
        payload = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if product:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
