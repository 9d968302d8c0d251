"""Checking a model's (or a user's) Elasticsearch query before it runs: read-only clauses
on an allow-list, every field in the index mapping, exact-value clauses only on exact-value
fields, and bounds on depth, clause count and `terms` size (aiops.llm.log_query asks for
the query; this module decides whether it may run)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.llm.log_query import LogQuery, SortKey

MAX_DEPTH = 10  # clauses nested deeper are refused
MAX_CLAUSES = 100  # clauses in one query
MAX_TERMS = 1000  # values of one `terms`

#: Field types analysed into words: exact-value clauses and sorting do not work on them.
TEXT_TYPES = frozenset({"text", "match_only_text", "annotated_text", "search_as_you_type"})
OBJECT_TYPES = frozenset({"object", "nested"})
#: Clauses (and sort) that compare a field's exact values.
EXACT_CLAUSES = frozenset({"term", "terms", "prefix", "wildcard", "sort"})
ALLOWED = ("bool", "match", "match_phrase", "multi_match", "term", "terms", "range", "exists",
           "prefix", "wildcard", "match_all", "match_none")  # fmt: skip
_COMMON = frozenset({"boost", "_name"})
_REFUSED = {
    "query_string": "its query text can name any field and run regular expressions; use "
    "[match], [match_phrase] or [multi_match] with explicit fields",
    "simple_query_string": "use [match], [match_phrase] or [multi_match] with explicit fields",
    "script": "scripts are not allowed",
    "script_score": "scripts are not allowed",
    "function_score": "scoring functions and scripts are not allowed",
    "nested": "nested queries are not supported",
    "has_child": "joins are not allowed",
    "has_parent": "joins are not allowed",
    "percolate": "it reads stored queries from another index",
    "more_like_this": "it can read documents from other indices",
    "regexp": "use [wildcard] or [prefix] on a keyword field",
    "fuzzy": "use [match] with fuzziness",
    "query": "give the clause itself, not a search body",
    "aggs": "aggregations are not allowed",
    "aggregations": "aggregations are not allowed",
}


# -- the mapping ----------------------------------------------------------------------------------


def mapping_fields(mapping: Mapping[str, Any]) -> dict[str, str]:
    """Every field of an Elasticsearch ``GET /<index>/_mapping`` answer (one or more indices)
    by dotted path, with its type: objects (``object``/``nested``) and their fields, multi-fields
    (``message.keyword``), runtime fields, aliases as their target's type. A field mapped
    differently in two indices has its types joined with ``|`` (``keyword|long``)."""
    found: dict[str, set[str]] = {}
    aliases: dict[str, str] = {}

    def walk(properties: Any, prefix: str) -> None:
        if not isinstance(properties, Mapping):
            return
        for name, spec in properties.items():
            if not isinstance(spec, Mapping):
                continue
            path = f"{prefix}{name}"
            kind = str(spec.get("type") or "object")  # an object's mapping has no type
            if kind == "alias":
                aliases[path] = str(spec.get("path", ""))
            else:
                found.setdefault(path, set()).add(kind)
            walk(spec.get("properties"), path + ".")
            for sub, sub_spec in (spec.get("fields") or {}).items():
                if isinstance(sub_spec, Mapping):
                    found.setdefault(f"{path}.{sub}", set()).add(str(sub_spec.get("type", "")))

    for body in mapping.values():
        mappings = body.get("mappings") if isinstance(body, Mapping) else None
        if not isinstance(mappings, Mapping):
            continue
        walk(mappings.get("properties"), "")
        for name, spec in (mappings.get("runtime") or {}).items():
            kind = spec.get("type", "keyword") if isinstance(spec, Mapping) else "keyword"
            found.setdefault(name, set()).add(str(kind))
    for path, target in aliases.items():
        if target in found:
            found.setdefault(path, set()).update(found[target])
    return {path: "|".join(sorted(k for k in kinds if k)) for path, kinds in sorted(found.items())}


def field_kinds(fields: Mapping[str, str], name: str) -> set[str] | None:
    """The types of ``name``, or None when the mapping has no such field (a key inside a
    ``flattened`` field is a keyword)."""
    kind = fields.get(name)
    if kind is not None:
        return set(kind.split("|"))
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if "flattened" in fields.get(".".join(parts[:i]), "").split("|"):
            return {"keyword"}
    return None


def close_names(name: str, fields: Mapping[str, str], n: int = 3) -> list[str]:
    """Mapped fields a mistyped or shortened ``name`` probably meant (``level`` ->
    ``log.level``, ``service`` -> ``service.name``)."""
    leaf = name.rsplit(".", 1)[-1].lower()
    related = sorted(
        (f for f in fields if f.rsplit(".", 1)[-1].lower() == leaf or f.startswith(name + ".")),
        key=lambda f: (len(f), f),
    )
    similar = difflib.get_close_matches(name, list(fields), n=n, cutoff=0.6)
    return list(dict.fromkeys([*similar, *related]))[:n]


def exact_field_for(name: str, fields: Mapping[str, str]) -> str | None:
    """The exact-value twin of a text field: ``<name>.keyword``, else another keyword
    multi-field of it."""
    candidates = [f"{name}.keyword"] + sorted(
        f for f in fields if f.startswith(name + ".") and "." not in f[len(name) + 1 :]
    )
    for candidate in candidates:
        kinds = field_kinds(fields, candidate) or set()
        if kinds and not kinds & (TEXT_TYPES | OBJECT_TYPES) and candidate in fields:
            return candidate
    return None


# -- the check ------------------------------------------------------------------------------------


class QueryError(ValueError):
    """A query that may not run; the message lists every problem, each at its path."""

    shown = 10  # problems in the message; a query with more is rewritten anyway

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = len(problems) - self.shown
        super().__init__(
            "; ".join(problems[: self.shown]) + (f"; and {more} more" if more > 0 else "")
        )


def check_query(
    query: Any, fields: Mapping[str, str], *, timestamp: str | None = None, where: str = "query"
) -> None:
    """Raise :class:`QueryError` unless ``query`` (a query DSL clause) uses only allowed,
    read-only clauses and only fields of ``fields`` (see :func:`mapping_fields`), each in a
    way its type supports. ``timestamp``: the field whose range is ours, so not the query's."""
    checker = _Checker(fields, timestamp)
    checker.clause(query, where, 0)
    if checker.problems:
        raise QueryError(checker.problems)


def check_sort(sort: list[SortKey], fields: Mapping[str, str], where: str = "sort") -> None:
    checker = _Checker(fields, None)
    for i, key in enumerate(sort):
        checker.check_field(key.field, f"{where}[{i}].field", "sort")
    if checker.problems:
        raise QueryError(checker.problems)


def check_answer(answer: LogQuery, fields: Mapping[str, str], timestamp: str | None) -> None:
    """The gateway's check: the query and the sort, all problems in one message."""
    problems: list[str] = []
    for check in (partial(check_query, answer.query, fields, timestamp=timestamp),
                  partial(check_sort, answer.sort, fields)):  # fmt: skip
        try:
            check()
        except QueryError as exc:
            problems += exc.problems
    if problems:
        raise QueryError(problems)


def shown_value(value: Any) -> str:
    """A value as JSON, cut to 80 characters, for an error message."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


@dataclass
class _Checker:
    fields: Mapping[str, str]
    timestamp: str | None
    problems: list[str] = field(default_factory=list)
    clauses: int = 0

    def bad(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def clause(self, node: Any, where: str, depth: int) -> None:
        if not isinstance(node, Mapping) or len(node) != 1:
            self.bad(
                where, f"a clause is an object with one key, its kind; got {shown_value(node)}"
            )
            return
        self.clauses += 1
        if self.clauses == MAX_CLAUSES + 1:
            self.bad(where, f"more than {MAX_CLAUSES} clauses")
        if depth > MAX_DEPTH:
            self.bad(where, f"clauses nested more than {MAX_DEPTH} deep")
            return
        ((kind, spec),) = node.items()
        at = f"{where}.{kind}"
        if kind not in ALLOWED:
            why = _REFUSED.get(kind, "allowed: " + ", ".join(ALLOWED))
            self.bad(at, f"[{kind}] is not allowed ({why})")
            return
        getattr(self, f"_{kind}")(spec, at, depth)

    def check_field(self, name: Any, where: str, clause: str) -> set[str] | None:
        """The field's types when ``clause`` may use it; else a problem and None."""
        if not isinstance(name, str) or not name:
            self.bad(where, f"a field name is a non-empty string, got {shown_value(name)}")
            return None
        if "*" in name or "?" in name:
            self.bad(where, f"field patterns such as {name!r} are not allowed; name each field")
            return None
        kinds = field_kinds(self.fields, name)
        if kinds is None:
            close = close_names(name, self.fields)
            hint = f"; close: {', '.join(close)}" if close else ""
            self.bad(where, f"field {name!r} is not in the index mapping{hint}")
            return None
        parent = next((p for p in _parents(name) if "nested" in self.fields.get(p, "")), None)
        if parent is not None:
            self.bad(where, f"{name!r} is inside the nested field {parent!r}, which needs a "
                     "[nested] query (not supported)")  # fmt: skip
            return None
        if kinds & OBJECT_TYPES and clause != "exists":
            inner = [f for f in self.fields if f.startswith(name + ".")][:3]
            such = f", such as {', '.join(inner)}" if inner else ""
            self.bad(where, f"{name!r} is an object, not a field with values; name a field "
                     f"inside it{such}")  # fmt: skip
            return None
        if clause == "range" and name == self.timestamp:
            self.bad(where, f"do not filter on the timestamp field {name!r}: the time range is "
                     "added to the query (--since, or --start and --end)")  # fmt: skip
        if kinds & TEXT_TYPES and (clause in EXACT_CLAUSES or clause == "range"):
            self.bad(where, self._text_hint(name, clause))
        return kinds

    def _text_hint(self, name: str, clause: str) -> str:
        what = "sorting" if clause == "sort" else f"[{clause}]"
        text = (
            f"{name!r} is a text field (analysed into lowercased words), so {what} does not "
            "compare whole values"
        )
        exact = exact_field_for(name, self.fields)
        if exact:
            return (
                text
                + f"; use {exact!r} for exact values"
                + (
                    f", or [match] / [match_phrase] on {name!r} for words"
                    if clause != "sort"
                    else ""
                )
            )
        return text + ("" if clause == "sort" else f"; use [match] or [match_phrase] on {name!r}")

    def options(
        self, spec: Any, where: str, clause: str, allowed: set[str], required: tuple[str, ...] = ()
    ) -> Mapping[str, Any]:
        """``spec`` as an options object; unknown and missing options are problems."""
        if not isinstance(spec, Mapping):
            self.bad(where, f"[{clause}] takes an object, got {shown_value(spec)}")
            return {}
        for key in spec:
            if key not in allowed | _COMMON:
                self.bad(f"{where}.{key}", f"not an option of [{clause}]; allowed: "
                         f"{', '.join(sorted(allowed | _COMMON))}")  # fmt: skip
        for key in required:
            if key not in spec:
                self.bad(where, f"[{clause}] needs {key!r}")
        return spec

    def one_field(
        self, spec: Any, where: str, clause: str, extras: frozenset[str] = frozenset()
    ) -> tuple[str, Any, str] | None:
        """``{field: value}``: the field, its value and its path, after checking the field."""
        if not isinstance(spec, Mapping):
            self.bad(where, f"[{clause}] takes {{field: value}}, got {shown_value(spec)}")
            return None
        names = [k for k in spec if k not in extras]
        if len(names) != 1:
            self.bad(where, f"[{clause}] takes exactly one field, got {names}")
            return None
        name = names[0]
        at = f"{where}.{name}"
        return (name, spec[name], at) if self.check_field(name, at, clause) is not None else None

    # -- the clauses --------------------------------------------------------------------------

    def _bool(self, spec: Any, where: str, depth: int) -> None:
        options = self.options(spec, where, "bool",
                               {"must", "filter", "should", "must_not", "minimum_should_match"})  # fmt: skip
        for key in ("must", "filter", "should", "must_not"):
            if key not in options:
                continue
            value = options[key]
            if isinstance(value, list):
                for i, item in enumerate(value):
                    self.clause(item, f"{where}.{key}[{i}]", depth + 1)
            else:
                self.clause(value, f"{where}.{key}", depth + 1)
        msm = options.get("minimum_should_match")
        if msm is not None and (isinstance(msm, bool) or not isinstance(msm, int | str)):
            self.bad(
                f"{where}.minimum_should_match", f"a number or a percentage, got {shown_value(msm)}"
            )

    def _match(self, spec: Any, where: str, depth: int) -> None:
        self._words(spec, where, "match",
                    {"query", "operator", "fuzziness", "minimum_should_match", "lenient"})  # fmt: skip

    def _match_phrase(self, spec: Any, where: str, depth: int) -> None:
        self._words(spec, where, "match_phrase", {"query", "slop"})

    def _words(self, spec: Any, where: str, clause: str, allowed: set[str]) -> None:
        found = self.one_field(spec, where, clause)
        if found is None:
            return
        _, value, at = found
        if isinstance(value, Mapping):
            value = self.options(value, at, clause, allowed, ("query",)).get("query", "")
            self._operator(spec[found[0]], at)
        if not _scalar(value):
            self.bad(at, f"[{clause}] searches for a string or a number, got {shown_value(value)}")

    def _operator(self, options: Any, where: str) -> None:
        op = options.get("operator") if isinstance(options, Mapping) else None
        if op is not None and str(op).lower() not in ("and", "or"):
            self.bad(f"{where}.operator", f"'and' or 'or', got {shown_value(op)}")

    def _multi_match(self, spec: Any, where: str, depth: int) -> None:
        allowed = {"query", "fields", "type", "operator", "minimum_should_match", "tie_breaker",
                   "fuzziness", "slop", "lenient"}  # fmt: skip
        options = self.options(spec, where, "multi_match", allowed, ("query", "fields"))
        if "query" in options and not _scalar(options["query"]):
            self.bad(f"{where}.query", f"a string or a number, got {shown_value(options['query'])}")
        names = options.get("fields")
        if "fields" in options and (not isinstance(names, list) or not names):
            self.bad(f"{where}.fields", "a non-empty list of field names (no default fields)")
        elif isinstance(names, list):
            for i, name in enumerate(names):
                bare = name.split("^", 1)[0] if isinstance(name, str) else name
                self.check_field(bare, f"{where}.fields[{i}]", "multi_match")
        kinds = ("best_fields", "most_fields", "cross_fields", "phrase", "phrase_prefix",
                 "bool_prefix")  # fmt: skip
        if options.get("type", "best_fields") not in kinds:
            self.bad(
                f"{where}.type", f"one of {', '.join(kinds)}, got {shown_value(options['type'])}"
            )
        self._operator(options, where)

    def _term(self, spec: Any, where: str, depth: int) -> None:
        self._exact(spec, where, "term", {"value", "case_insensitive"}, ("value",))

    def _prefix(self, spec: Any, where: str, depth: int) -> None:
        self._exact(spec, where, "prefix", {"value", "case_insensitive"}, ("value",))

    def _wildcard(self, spec: Any, where: str, depth: int) -> None:
        value = self._exact(spec, where, "wildcard", {"value", "wildcard", "case_insensitive"})
        if isinstance(value, str) and value[:1] in ("*", "?"):
            self.bad(where, f"a leading wildcard ({value!r}) scans every value of the field; "
                     "start with literal text, or use [match] on a text field")  # fmt: skip

    def _exact(
        self, spec: Any, where: str, clause: str, allowed: set[str], required: tuple = ()
    ) -> Any:
        found = self.one_field(spec, where, clause)
        if found is None:
            return None
        _, value, at = found
        if isinstance(value, Mapping):
            options = self.options(value, at, clause, allowed, required)
            value = options.get("value", options.get("wildcard"))
            if value is None:
                if not required:  # else options() named what is missing
                    self.bad(at, f"[{clause}] needs 'value'")
                return None
        if not _scalar(value) or (clause != "term" and not isinstance(value, str)):
            kind = "a string, number or boolean" if clause == "term" else "a string"
            self.bad(at, f"[{clause}] takes {kind}, got {shown_value(value)}")
            return None
        return value

    def _terms(self, spec: Any, where: str, depth: int) -> None:
        found = self.one_field(spec, where, "terms", _COMMON)
        if found is None:
            return
        _, values, at = found
        if isinstance(values, Mapping):
            self.bad(at, "a terms lookup reads another index; list the values")
        elif not isinstance(values, list) or not values or not all(map(_scalar, values)):
            self.bad(at, f"[terms] takes a non-empty list of values, got {shown_value(values)}")
        elif len(values) > MAX_TERMS:
            self.bad(at, f"[terms] takes at most {MAX_TERMS} values, got {len(values)}")

    def _range(self, spec: Any, where: str, depth: int) -> None:
        found = self.one_field(spec, where, "range")
        if found is None:
            return
        _, bounds, at = found
        ops = {"gte", "gt", "lte", "lt"}
        options = self.options(bounds, at, "range", ops | {"format", "time_zone", "relation"})
        if isinstance(bounds, Mapping) and not ops & set(options):
            self.bad(at, "[range] needs gte, gt, lte or lt")
        for op in ops & set(options):
            if not _scalar(options[op]) or isinstance(options[op], bool):
                self.bad(f"{at}.{op}", f"a number, date or string, got {shown_value(options[op])}")

    def _exists(self, spec: Any, where: str, depth: int) -> None:
        options = self.options(spec, where, "exists", {"field"}, ("field",))
        if "field" in options:
            self.check_field(options["field"], f"{where}.field", "exists")

    def _match_all(self, spec: Any, where: str, depth: int) -> None:
        self.options(spec, where, "match_all", set())

    def _match_none(self, spec: Any, where: str, depth: int) -> None:
        self.options(spec, where, "match_none", set())


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
