"""`aiops logs ask "QUESTION"`: a question in plain words to an Elasticsearch query through
the language model (aiops.llm.log_query), checked against the index mapping and shown
before it runs; `--query` runs a query the user wrote, checked the same way, without a key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from aiops.cli.common import InputError

ES_URL_ENV = "ELASTICSEARCH_URL"  # `logs ask` without --url
ASK_SINCE = "1h"  # `logs ask` without --since / --start


def ask_window(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC: ``--start``/``--end`` (ISO 8601 with a zone), else ``--since``
    (default 1h) before ``--end`` (default ``now``)."""
    from aiops.cli.common import parse_utc
    from aiops.units import parse_duration_seconds

    if args.since and args.start:
        raise InputError("give --since or --start, not both")
    end = parse_utc(args.end, "--end") if args.end else now
    if args.start:
        start = parse_utc(args.start, "--start")
    else:
        try:
            seconds = parse_duration_seconds(args.since or ASK_SINCE)
        except ValueError as exc:
            raise InputError(f"--since: {exc}") from None
        if seconds <= 0:
            raise InputError(f"--since: must be a positive duration, got {args.since!r}")
        start = end - timedelta(seconds=seconds)
    if start >= end:
        raise InputError(f"--start ({start.isoformat()}) must be before --end ({end.isoformat()})")
    return start.astimezone(UTC), end.astimezone(UTC)


def _cmd_ask(args: argparse.Namespace) -> int:
    from aiops.catalog import load_catalog
    from aiops.llm import log_query as lq
    from aiops.llm.session import KEY_ENV, off_reason
    from aiops.sources.elasticsearch_logs import (
        ElasticsearchLogConfig,
        ElasticsearchLogSource,
        ElasticsearchSourceError,
    )
    from aiops.store.errors import StoreError

    now = datetime.now(UTC)  # interactive: the wall clock places the default window, once
    try:
        if not args.question and args.query is None:
            raise InputError("give a QUESTION, or the query itself with --query JSON")
        if args.size is not None and not 1 <= args.size <= lq.MAX_ASK_SIZE:
            raise InputError(f"--size: must be in 1..{lq.MAX_ASK_SIZE}, got {args.size}")
        start, end = ask_window(args, now)
        url = args.url or os.environ.get(ES_URL_ENV)
        if not url:
            raise InputError(f"no Elasticsearch URL: pass --url or set {ES_URL_ENV}")
        config = ElasticsearchLogConfig(url, **({"index": args.index} if args.index else {}))
        settings, api_key = None, os.environ.get(KEY_ENV)
        if args.query is None:
            settings = load_catalog().llm
            why = off_reason(settings, api_key)
            if why is not None:
                print(f"logs ask needs a language model: {why}; or give the query with "
                      "--query JSON", file=sys.stderr)  # fmt: skip
                return 2
    except (InputError, ValueError) as exc:  # CatalogError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = config.fields
    try:
        with ElasticsearchLogSource(config) as source:
            fields = lq.mapping_fields(source.mapping())
            if not fields:
                raise InputError(f"{source.describe()}: no mapped fields (does any index match?)")
            totals = None
            if args.query is not None:
                answer, model = lq.user_query(args.query, fields, names.timestamp), None
            else:
                answer, model, totals = _model_query(args, settings, api_key, fields, config,
                                                     start, end)  # fmt: skip
                if answer is None:
                    return 2
            query = lq.time_bounded(answer.query, names.timestamp, start, end)
            size = args.size or answer.size
            request = source.page_request(
                query, size=size, sort=lq.sort_clause(answer, names.timestamp)
            )
            _show_request(args, source.describe(), start, end, request, answer, model)
            page = None
            if not args.dry_run:
                context = f"interval [{lq.iso_utc(start)}, {lq.iso_utc(end)})"
                page = source.search_page(request, context)
    except (InputError, ValueError, ElasticsearchSourceError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hits = [lq.hit_line(h, names) for h in page["hits"]["hits"]] if page is not None else []
    usage = f"llm ({model}): {totals.line()}" if totals is not None else None
    if args.json:
        print(json.dumps({
            "index": config.index, "start": lq.iso_utc(start), "end": lq.iso_utc(end),
            "request": request, "explanation": answer.explanation, "model": model,
            "ran": page is not None,
            "total": page["hits"].get("total") if page is not None else None,
            "hits": [asdict(h) for h in hits],
            "llm": totals.to_json() if totals is not None else None,
        }, ensure_ascii=False))  # fmt: skip
        return 0
    for hit in hits:
        print(hit.text())
    if page is not None:
        print(lq.total_text(page, len(hits)))
    if usage:
        print(usage)
    return 0


def _model_query(args, settings, api_key, fields, config, start, end):
    """The model's checked answer (or None after saying why), its model and the run's use."""
    from aiops.llm import log_query as lq
    from aiops.llm.session import open_gateway
    from aiops.settings import resolve_store_url
    from aiops.store import Store

    prompt = lq.query_prompt(args.question, fields, config.fields, start, end, index=config.index)
    run = f"logs ask [{lq.iso_utc(start)}, {lq.iso_utc(end)})"
    with Store.open(resolve_store_url(args.store)) as store:
        # the budget is charged to the UTC day of the window's end
        gateway, _ = open_gateway(
            store, settings, run=run, day=end.date(), now=end, api_key=api_key
        )
        result = gateway.ask(prompt)
    totals = gateway.totals
    if result.ok:
        totals.generated += 1
        return result.value, result.model, totals
    totals.reasons[result.reason] = totals.reasons.get(result.reason, 0) + 1
    print(f"logs ask needs a language model: {result.reason}", file=sys.stderr)
    print(f"llm ({result.model}): {totals.line()}", file=sys.stderr)
    return None, result.model, totals


def _show_request(args, where, start, end, request, answer, model) -> None:
    """The query exactly as it is sent, before it runs (on stderr with --json), and the
    model's explanation of it."""
    from aiops.llm import log_query as lq

    out = sys.stderr if args.json else sys.stdout
    print(f"query for {where}, {lq.iso_utc(start)} to {lq.iso_utc(end)}:", file=out)
    print(json.dumps(request, indent=2, ensure_ascii=False), file=out)
    if model is not None:
        print(f"why: {answer.explanation}", file=out)
    masked = lq.masked_placeholders(answer.query)
    if masked:
        print(f"note: {', '.join(masked)} in the query stands for a value masked before the "
              "question was sent; give the value with --query JSON", file=sys.stderr)  # fmt: skip
    if args.dry_run:
        print("dry run: the query was not run", file=out)


def add_parser(lsub: argparse._SubParsersAction) -> None:
    """The `ask` action under `aiops logs`."""
    c = lsub.add_parser(
        "ask",
        help="a question in plain words to an Elasticsearch query, checked against the index "
        "mapping and shown before it runs (needs a language model, or --query)",
    )
    c.add_argument("question", nargs="?", default=None, metavar="QUESTION",
                   help='e.g. "payment errors from checkout mentioning a timeout"')  # fmt: skip
    c.add_argument("--url", default=None, help=f"Elasticsearch URL (default ${ES_URL_ENV})")
    c.add_argument("--index", default=None, metavar="PATTERN",
                   help="index pattern (default the log source's, logs-*)")  # fmt: skip
    c.add_argument("--since", default=None, metavar="DURATION",
                   help=f"window before --end, such as 15m, 6h, 2d (default {ASK_SINCE})")  # fmt: skip
    c.add_argument(
        "--start", default=None, metavar="ISO", help="window start, e.g. 2026-11-01T08:00Z"
    )
    c.add_argument("--end", default=None, metavar="ISO", help="window end (default now)")
    c.add_argument("--size", type=int, default=None, metavar="N",
                   help="lines to show, 1..100 (default the model's choice, else 20)")  # fmt: skip
    c.add_argument("--query", default=None, metavar="JSON",
                   help="run this query clause (or {query, sort, size}) instead of asking a "
                   "model; checked the same way")  # fmt: skip
    c.add_argument("--dry-run", action="store_true", help="show the query, do not run it")
    c.add_argument("--json", action="store_true",
                   help="one JSON document on stdout (the query also goes to stderr first)")  # fmt: skip
    c.add_argument("--store", default=None,
                   help="store URL for the model's usage (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip
    c.set_defaults(func=_cmd_ask)
