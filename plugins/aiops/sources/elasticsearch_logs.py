"""Log lines from Elasticsearch: every document of an index pattern in ``[start, end)``.

One read is one point in time (PIT): opened on the index pattern, read in pages of
``page_size`` with ``search_after`` in ``(timestamp, _shard_doc)`` order (each response's PIT id
passed on), and closed at the end, also on error or when the caller stops early. Only the four
configured fields are fetched; dotted names match nested objects and literal dotted keys. A hit
that cannot become a LogRecord comes back as Quarantined with its reasons.

Server versions: the 9.x client sends ``Accept`` / ``Content-Type: application/vnd.elasticsearch
+json; compatible-with=9``, which an 8.x server rejects (400 ``media_type_header_exception``);
elasticsearch-py supports 9.x servers only and each API method overwrites client-level headers,
so our transport pins ``compatible-with`` to ``server_major`` on every request (as the Airflow
Elasticsearch provider's ``es_compat_with`` does). A 9.x server also accepts ``compatible-with=8``.

For `aiops logs ask`, ``mapping`` reads the index pattern's field mapping and ``search_page``
runs one bounded search (at most MAX_ASK_SIZE hits, only the configured fields) of a query the
caller has checked against it, through the same retries and errors.

Retries are ours (the client's ``max_retries=0``): 429, 502-504, connection errors and timeouts
get ``attempts`` tries with exponential backoff; any other error fails at once with an
ElasticsearchSourceError naming the endpoint, index pattern, interval and what the server said.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError, Transport, TransportError
from elasticsearch import ApiError, Elasticsearch

from aiops.logs.formats import lookup
from aiops.logs.records import LogRecord, Quarantined, normalise_level
from aiops.retry import (
    RetriesExhausted,
    RetryPolicy,
    call_with_retry,
    excerpt,
    redact_url,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
SERVER_MAJORS = (8, 9)
MAX_PAGE_SIZE = 10_000  # index.max_result_window: a larger size is a 400
MAX_ASK_SIZE = 100  # hits of one search_page (`aiops logs ask` shows them on a terminal)
_KEEP_ALIVE = re.compile(r"\d+(d|h|m|s|ms|micros|nanos)")
_COMPAT = re.compile(r"(application/vnd\.elasticsearch\+[\w.-]+)\s*;\s*compatible-with=\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ElasticsearchSourceError(Exception):
    """A request failed: the message names the endpoint, index pattern, interval and cause."""


class ElasticsearchUnavailable(ElasticsearchSourceError):
    """Elasticsearch stayed unreachable, overloaded (429) or unavailable after the retries."""


@dataclass(frozen=True)
class LogFields:
    """Where each part of a log line lives in a document (dotted names for nested fields)."""

    timestamp: str = "@timestamp"
    service: str = "service.name"
    level: str = "log.level"
    message: str = "message"

    def names(self) -> list[str]:
        return [self.timestamp, self.service, self.level, self.message]


@dataclass(frozen=True)
class ElasticsearchLogConfig:
    """Which cluster, which documents, and how patiently. No secrets here (see the source)."""

    url: str
    index: str = "logs-*"
    fields: LogFields = field(default_factory=LogFields)
    services: tuple[str, ...] | None = None  # None: every service
    server_major: int = 9
    page_size: int = 5000
    keep_alive: str = "2m"
    timeout: float = 30.0
    attempts: int = 3
    backoff: float = 0.5
    verify_certs: bool = True
    ca_certs: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fields, Mapping):
            unknown = sorted(set(self.fields) - set(LogFields.__dataclass_fields__))
            if unknown:
                raise ValueError(f"ElasticsearchLogConfig.fields: unknown keys {unknown}")
            object.__setattr__(self, "fields", LogFields(**self.fields))
        if self.services is not None and not isinstance(self.services, str):
            object.__setattr__(self, "services", tuple(self.services))
        checks = [
            ("url", self.url.startswith(("http://", "https://")), "must start with http(s)://"),
            ("server_major", self.server_major in SERVER_MAJORS,
             "must be 8 or 9 (the Elasticsearch server's major version)"),
            ("page_size", 1 <= self.page_size <= MAX_PAGE_SIZE, f"must be in 1..{MAX_PAGE_SIZE}"),
            ("keep_alive", bool(_KEEP_ALIVE.fullmatch(self.keep_alive)),
             "must be a duration like '2m'"),
            ("timeout", self.timeout > 0, "must be > 0 seconds"),
            ("index", bool(self.index.strip()), "must be a non-empty index pattern"),
            ("fields", all(self.fields.names()), "every field name must be non-empty"),
            ("services", not isinstance(self.services, str), "must be a list of names"),
        ]  # fmt: skip
        for name, ok, rule in checks:
            if not ok:
                shown = redact_url(self.url) if name == "url" else getattr(self, name)
                raise ValueError(f"ElasticsearchLogConfig.{name}: {rule}, got {shown!r}")
        RetryPolicy(attempts=self.attempts, backoff=self.backoff)  # validates both


class _PinnedCompatTransport(Transport):
    """Rewrites ``compatible-with=N`` on Accept / Content-Type to ``compatible_with``."""

    compatible_with: ClassVar[int]

    def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
        headers = kwargs.get("headers")
        if isinstance(headers, Mapping):
            kwargs["headers"] = {
                key: _COMPAT.sub(rf"\1; compatible-with={self.compatible_with}", value)
                if key.lower() in ("accept", "content-type") and isinstance(value, str)
                else value
                for key, value in headers.items()
            }
        return super().perform_request(method, target, **kwargs)


def compat_transport(major: int) -> type[Transport]:
    """A transport class sending ``compatible-with=<major>`` on every request."""
    name = f"CompatibleWith{major}Transport"
    return type(name, (_PinnedCompatTransport,), {"compatible_with": major})


class ElasticsearchLogSource:
    """:class:`aiops.logs.records.LogSource` over an Elasticsearch index pattern.

    Give ``basic_auth=(login, password)`` or ``api_key`` (or a ``user:password@`` in the URL);
    they are sent with every request and appear in no message, log or repr.
    """

    def __init__(
        self,
        config: ElasticsearchLogConfig,
        *,
        basic_auth: tuple[str, str] | None = None,
        api_key: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        parts = urlsplit(config.url)
        if parts.username is not None and basic_auth is None:
            basic_auth = (unquote(parts.username), unquote(parts.password or ""))
        if basic_auth is not None and api_key:
            raise ValueError("ElasticsearchLogSource: give basic_auth or api_key, not both")
        self.config = config
        self.endpoint = redact_url(config.url).rstrip("/")
        self.retry = RetryPolicy(
            attempts=config.attempts,
            backoff=config.backoff,
            retry_exceptions=(),  # the client's exceptions come back as values, see _call
        )
        self._sleep = sleep
        tls: dict[str, Any] = {}
        if self.endpoint.startswith("https://"):
            tls = {"verify_certs": config.verify_certs}
            if config.ca_certs:
                tls["ca_certs"] = config.ca_certs
        self._client = Elasticsearch(
            self.endpoint,
            basic_auth=basic_auth,
            api_key=api_key or None,
            request_timeout=config.timeout,
            max_retries=0,
            retry_on_status=(),
            retry_on_timeout=False,
            transport_class=compat_transport(config.server_major),
            **tls,
        )

    def __repr__(self) -> str:
        return f"ElasticsearchLogSource({self.describe()!r})"

    def describe(self) -> str:
        return (
            f"Elasticsearch {self.endpoint} index {self.config.index!r} "
            f"(server {self.config.server_major}.x)"
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ElasticsearchLogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def read(self, start: datetime, end: datetime) -> Iterator[LogRecord | Quarantined]:
        """Every document with ``start <= timestamp < end``, in timestamp order. ``start`` and
        ``end`` must be timezone-aware (checked here, before any request)."""
        lo, hi = interval_ms(start, end)
        context = f"interval [{start.isoformat()}, {end.isoformat()})"
        if hi <= lo or self.config.services == ():
            return iter(())
        return self._read(lo, hi, context)

    def _read(self, lo: int, hi: int, context: str) -> Iterator[LogRecord | Quarantined]:
        pit_id = self._call("open point in time", context, self._open_pit)["id"]
        try:
            search_after: list[Any] | None = None
            while True:
                search = partial(self._search, pit_id, lo, hi, search_after)
                page = self._call("search", context, search)
                hits = _checked_hits(page)
                if hits is None:
                    raise ElasticsearchSourceError(
                        f"{self._where('search', context)}: partial or malformed response: "
                        f"{excerpt(json.dumps(page, default=str), 300)}"
                    )
                pit_id = page.get("pit_id") or pit_id
                for hit in hits:
                    yield record_from_hit(hit, self.config.fields, lo, hi)
                if len(hits) < self.config.page_size:
                    return
                search_after = hits[-1]["sort"]
        finally:
            self._close_pit(pit_id, context)

    def _open_pit(self) -> Any:
        return self._client.open_point_in_time(
            index=self.config.index,
            keep_alive=self.config.keep_alive,
            allow_partial_search_results=False,
        )

    def _search(self, pit_id: str, lo: int, hi: int, search_after: list[Any] | None) -> Any:
        names = self.config.fields
        filters: list[dict[str, Any]] = [
            {"range": {names.timestamp: {"gte": lo, "lt": hi, "format": "epoch_millis"}}}
        ]
        if self.config.services is not None:
            filters.append({"terms": {names.service: list(self.config.services)}})
        return self._client.search(
            pit={"id": pit_id, "keep_alive": self.config.keep_alive},
            size=self.config.page_size,
            sort=[{names.timestamp: "asc"}, {"_shard_doc": "asc"}],
            search_after=search_after,
            query={"bool": {"filter": filters}},
            source={"includes": names.names()},
            track_total_hits=False,
            allow_partial_search_results=False,
        ).body

    def _close_pit(self, pit_id: str, context: str) -> None:
        """Close the PIT; a failure is logged, not raised (it expires after keep_alive)."""
        try:
            self._call("close point in time", context,
                       lambda: self._client.close_point_in_time(id=pit_id))  # fmt: skip
        except ElasticsearchSourceError as exc:
            logger.warning("%s (the PIT expires after %s)", exc, self.config.keep_alive)

    # -- the mapping and one bounded search (`aiops logs ask`) -------------------------------------

    def mapping(self, context: str = "before a search") -> dict[str, Any]:
        """The index pattern's ``GET /<index>/_mapping`` answer: ``{index: {"mappings": ...}}``
        (empty when a wildcard pattern matches no index)."""
        return self._call(
            "read the mapping", context,
            lambda: self._client.indices.get_mapping(index=self.config.index).body,
        )  # fmt: skip

    def page_request(
        self, query: Mapping[str, Any], *, size: int, sort: list[Any]
    ) -> dict[str, Any]:
        """The body :meth:`search_page` sends: ``query`` as given (the caller has checked it),
        at most ``size`` (1..MAX_ASK_SIZE) hits in ``sort`` order, only the configured fields,
        the total counted up to Elasticsearch's default bound (10,000)."""
        if not 1 <= size <= MAX_ASK_SIZE:
            raise ValueError(f"size: must be in 1..{MAX_ASK_SIZE}, got {size}")
        return {"query": dict(query), "sort": list(sort), "size": size,
                "_source": {"includes": self.config.fields.names()}}  # fmt: skip

    def search_page(self, request: Mapping[str, Any], context: str = "") -> dict[str, Any]:
        """One page of hits for a :meth:`page_request` body, with our timeout and retries;
        a partial answer (a shard failed or timed out) is an error, not fewer hits."""
        page = self._call(
            "search", context or "a bounded search",
            lambda: self._client.search(
                index=self.config.index,
                query=request["query"],
                sort=request["sort"],
                size=request["size"],
                source=request["_source"],
                allow_partial_search_results=False,
            ).body,
        )  # fmt: skip
        shards = page.get("_shards") if isinstance(page, dict) else None
        hits = page.get("hits") if isinstance(page, dict) else None
        hits = hits.get("hits") if isinstance(hits, dict) else None
        if (not isinstance(shards, dict) or not isinstance(hits, list) or page.get("timed_out")
                or shards.get("failed", 0)):  # fmt: skip
            raise ElasticsearchSourceError(
                f"{self._where('search', context or 'a bounded search')}: partial or malformed "
                f"response: {excerpt(json.dumps(page, default=str), 300)}"
            )
        return page

    # -- the request path -------------------------------------------------------------------------

    def _where(self, what: str, context: str) -> str:
        return f"{self.endpoint}: {what} on index pattern {self.config.index!r}, {context}"

    def _call(self, what: str, context: str, fn: Callable[[], T]) -> T:
        """``fn()`` with our retries; errors become :class:`ElasticsearchSourceError`."""
        where = self._where(what, context)

        def attempt() -> T | ApiError | TransportError:
            try:
                return fn()
            except (ApiError, TransportError) as exc:  # judged by retry_reason
                return exc

        def retry_reason(value: object) -> str | None:
            if isinstance(value, ApiError) and value.meta.status in self.retry.retry_statuses:
                return f"HTTP {value.meta.status}: {server_said(value)}"
            unreachable = isinstance(value, TransportConnectionError | ConnectionTimeout)
            if unreachable and not isinstance(value, TlsError):
                return excerpt(f"{type(value).__name__}: {value.message}", 300)
            return None

        try:
            value = call_with_retry(
                attempt, self.retry, retry_reason=retry_reason, sleep=self._sleep,
                what=f"Elasticsearch {where}",
            ).value  # fmt: skip
        except RetriesExhausted as exc:
            raise ElasticsearchUnavailable(
                f"{where}: Elasticsearch unavailable after {exc.attempts} attempt(s); "
                f"last error: {exc.last_error}"
            ) from exc.last_value
        if isinstance(value, ApiError):
            raise ElasticsearchSourceError(
                f"{where}: HTTP {value.meta.status}{self._hint(value)}: {server_said(value)}"
            ) from value
        if isinstance(value, TransportError):
            hint = " (check verify_certs / ca_certs)" if isinstance(value, TlsError) else ""
            raise ElasticsearchSourceError(
                f"{where}: {type(value).__name__}{hint}: {excerpt(str(value.message), 300)}"
            ) from value
        return value

    def _hint(self, exc: ApiError) -> str:
        if exc.meta.status in (401, 403):
            return " (check the credentials and the index privileges)"
        if "media_type_header_exception" in str(exc.message):
            major = self.config.server_major
            return (
                f" (the server refused the compatible-with={major} headers of "
                f"server_major={major}: set server_major to the server's major version)"
            )
        return ""


def server_said(exc: ApiError) -> str:
    """``type: reason; caused by type: reason`` from an ES error body, else its excerpt."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return excerpt(body if isinstance(body, str) else json.dumps(body, default=str), 300)
    text = f"{error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f"; caused by {cause.get('type')}: {cause.get('reason')}"
    return excerpt(text, 500)


def _checked_hits(page: Any) -> list[dict[str, Any]] | None:
    """The hits of a complete search response, or None when it is partial or malformed."""
    try:
        shards, hits = page["_shards"], page["hits"]["hits"]
    except (KeyError, TypeError):
        return None
    if page.get("timed_out") or shards.get("failed", 0) or not isinstance(hits, list):
        return None
    if not all(isinstance(h, dict) and isinstance(h.get("sort"), list) for h in hits):
        return None
    return hits


# -- hits to records --------------------------------------------------------------------------------


def interval_ms(start: datetime, end: datetime) -> tuple[int, int]:
    """``[start, end)`` as epoch ms bounds ``[lo, hi)`` for a millisecond-precision index."""
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name}: must be timezone-aware, got {moment.isoformat()}")
    if end < start:
        raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
    return tuple(math.ceil((t - _EPOCH) / timedelta(milliseconds=1)) for t in (start, end))


def timestamp_ms(value: Any) -> int | None:
    """ISO 8601 (``Z`` / offset; none = UTC, as Elasticsearch reads it) or epoch millis."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return math.floor(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return math.floor(float(text)) if "." in text else int(text)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ]\S+)?", text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _single(value: Any) -> Any:
    """A one-element array as its element (Elasticsearch fields may hold arrays)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def record_from_hit(
    hit: Mapping[str, Any], fields: LogFields, lo: int, hi: int
) -> LogRecord | Quarantined:
    origin = f"{hit.get('_index')}/{hit.get('_id')}"
    source = hit.get("_source")
    raw = excerpt(json.dumps(source, ensure_ascii=False, default=str), 500)
    if not isinstance(source, dict):
        return Quarantined(origin, "no _source in the hit", raw)
    service = _single(lookup(source, fields.service))
    service = service if isinstance(service, str) and service.strip() else None
    reasons: list[str] = []
    stamp = _single(lookup(source, fields.timestamp))
    when = timestamp_ms(stamp)
    if stamp is None:
        reasons.append(f"no timestamp field {fields.timestamp!r}")
    elif when is None:
        reasons.append(f"unparseable timestamp in {fields.timestamp!r}: {excerpt(repr(stamp), 80)}")
    elif not lo <= when < hi:
        reasons.append(f"timestamp {stamp!r} in {fields.timestamp!r} is outside the interval")
    message = _single(lookup(source, fields.message))
    if message is None:
        reasons.append(f"no message field {fields.message!r}")
    elif not isinstance(message, str):
        reasons.append(f"message field {fields.message!r} is a {type(message).__name__}")
    if service is None:
        reasons.append(f"no service field {fields.service!r}")
    if reasons:
        return Quarantined(origin, "; ".join(reasons), raw, service or "")
    level = _single(lookup(source, fields.level))
    return LogRecord(
        timestamp_ms=when,
        service=service,
        level=normalise_level(str(level) if level is not None else None),
        message=message,
        origin=origin,
    )
