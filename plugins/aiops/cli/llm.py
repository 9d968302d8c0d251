"""`aiops llm usage|preview`: what the language model cost, and exactly what would be sent.

`usage` reads the store's `llm_usage` (every call made, and every call the budget skipped)
per data day and run. `preview` builds, without sending anything, the requests the nightly
would make for an interval's stored findings: the system prompt, and each user message after
PII masking, as the API would receive them. Nothing here needs a key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

from aiops.cli.common import columns, open_store, parse_day_or_utc
from aiops.store.errors import StoreError


def _cmd_usage(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            rows = store.read("llm_usage", **({"day": args.day} if args.day else {}))
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("no language-model calls recorded" + (f" on {args.day}" if args.day else ""))
        return 0
    runs: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        run = runs[(r["day"], r["run"])]
        run["calls"] += r["outcome"] in ("ok", "invalid")
        run["invalid"] += r["outcome"] == "invalid"
        run["errors"] += r["outcome"] == "error"
        run["skipped"] += r["outcome"] == "over_budget"
        run["input"] += r["input_tokens"]
        run["output"] += r["output_tokens"]
        run["cost"] += r["cost_usd"]
    header = ["day", "calls", "invalid", "errors", "skipped", "input", "output", "cost", "run"]
    table = [
        [day, f"{v['calls']:.0f}", f"{v['invalid']:.0f}", f"{v['errors']:.0f}",
         f"{v['skipped']:.0f}", f"{v['input']:,.0f}", f"{v['output']:,.0f}",
         f"${v['cost']:.4f}", run]
        for (day, run), v in sorted(runs.items())
    ]  # fmt: skip
    print("\n".join(columns(header, table)))
    total = sum(v["cost"] for v in runs.values())
    print(f"${total:.4f} over {len({d for d, _ in runs})} day(s); skipped = over the budget")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from aiops.catalog import load_catalog
    from aiops.findings.model import Finding
    from aiops.findings.narrative import USES
    from aiops.llm import explain, narrate
    from aiops.llm.gateway import Gateway

    try:
        start, end = parse_day_or_utc(args.start, "--start"), parse_day_or_utc(args.end, "--end")
        catalog = load_catalog()
        with open_store(args) as store:
            rows = store.read("findings", interval_start=start, interval_end=end)
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gateway = Gateway(None, catalog.llm, None)  # masks; never calls
    findings = [Finding.from_json(r["finding"]) for r in rows]
    traces = [f for f in findings if USES.get(f.source) == "explain"]
    incidents = [f for f in findings if USES.get(f.source) == "narrate"]
    prompts = []
    size = catalog.llm.batch_size
    for n in range(0, len(traces), size):
        texts = {f"F{i}": gateway.mask(explain.item_text(f))
                 for i, f in enumerate(traces[n : n + size], 1)}  # fmt: skip
        prompts.append(explain.batch_prompt(texts))
    for f in incidents:
        prompts.append(narrate.incident_prompt(f, gateway.mask(narrate.item_text(f)), set()))
    if not prompts:
        print(f"no trace or incident findings stored for [{start}, {end})")
        return 0
    for prompt in prompts:
        request = {
            "model": catalog.llm.model_for(prompt.task),
            "max_tokens": catalog.llm.max_tokens_for(prompt.task),
            "system": gateway.mask(prompt.system),
            "messages": [{"role": "user", "content": gateway.mask(prompt.user)}],
            "tool_choice": {"type": "tool", "name": prompt.tool.name},
        }
        if args.json:
            print(json.dumps({**request, "tools": [prompt.tool.param()]}))
        else:
            print(f"== {prompt.task}: {request['model']}, max_tokens {request['max_tokens']}, "
                  f"tool {prompt.tool.name}")  # fmt: skip
            print(request["messages"][0]["content"], end="\n\n")
    print(f"{len(prompts)} request(s) would be sent (before the cache and the budget); "
          "--json prints them whole", file=sys.stderr)  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llm", help="language-model cost, and a preview of what would be sent")
    lsub = p.add_subparsers(dest="llm_command", required=True, metavar="ACTION")

    def store(c: argparse.ArgumentParser) -> None:
        c.add_argument("--store", default=None,
                       help="store URL (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip

    c = lsub.add_parser("usage", help="calls, tokens and cost per data day and run")
    c.add_argument("--day", default=None, metavar="YYYY-MM-DD", help="one data day only")
    store(c)
    c.set_defaults(func=_cmd_usage)

    c = lsub.add_parser("preview", help="the requests the nightly would send for an interval")
    c.add_argument(
        "--start",
        required=True,
        metavar="ISO",
        help="interval start: ISO with a timezone, or a UTC date",
    )
    c.add_argument(
        "--end",
        required=True,
        metavar="ISO",
        help="interval end: ISO with a timezone, or a UTC date",
    )
    c.add_argument("--json", action="store_true", help="whole request bodies, one per line")
    store(c)
    c.set_defaults(func=_cmd_preview)
