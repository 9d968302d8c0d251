"""Benchmark: template mining on the demo world's labelled logs, ours against drain3 0.9.11,
side by side in one process (real systems' logs: bench/bench_loghub.py).

    .venv/bin/python bench/bench_logs.py [--hours 72] [--drain3-dir DIR]

Workload: every line the demo world writes in its last --hours (12 service logs in the
Loghub format plus the gateway's JSON access log), each labelled by the simulator with its
true template (the f-string that wrote it; a closed set of alternatives such as the four
SQL statements counts as four templates, and so does an HTTP method). Both miners get the
same (service, content) pairs in the same order, one miner per service, and the same
variable masks (drain3 as named masking instructions, its documented use); drain3 at depth
3 and 4, similarity --sim.

Grouping accuracy, as in the log-parsing literature (Zhu et al., ICSE-SEIP 2019): the share
of lines whose predicted group holds exactly the lines of their true group. Throughput:
lines per second of the mining call alone (reading and parsing the files is not timed).

drain3 is not a dependency (it pins cachetools==4.2.1, which Airflow 3.3 cannot use): it is
installed into a temporary folder for this run only, unless --drain3-dir points at one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiops.dev.log_evaluation import LabelledLine, grouping_accuracy, labelled_world_lines
from aiops.logs.masking import DEFAULT_MASKS, MASKS
from aiops.logs.miner import TemplateMiner
from aiops.logs.templates import MinerConfig

Line = LabelledLine


def ours(config: MinerConfig) -> Callable[[list[Line]], list[str]]:
    def run(lines: list[Line]) -> list[str]:
        miner = TemplateMiner(config)
        ids = [miner.add(line.service, line.content, line.level).id for line in lines]
        return [
            miner.resolve(line.service, cid) or cid for line, cid in zip(lines, ids, strict=True)
        ]

    return run


def drain3_miner(depth: float, sim: float) -> Callable[[list[Line]], list[str]]:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    def run(lines: list[Line]) -> list[str]:
        config = TemplateMinerConfig()
        config.drain_depth = int(depth)
        config.drain_sim_th = sim
        config.profiling_enabled = False
        # the same masks, each with the word-start guard ours wraps its alternation in
        config.masking_instructions = [
            MaskingInstruction(rf"(?<!\w)(?:{p})", name.upper())
            for name, p in MASKS if name in DEFAULT_MASKS
        ]  # fmt: skip
        miners: dict[str, Drain3Miner] = {}
        out = []
        for line in lines:
            miner = miners.get(line.service)
            if miner is None:
                miner = miners[line.service] = Drain3Miner(config=config)
            out.append(str(miner.add_log_message(line.content)["cluster_id"]))
        return out

    return run


def timed(run: Callable[[list[Line]], list[str]], lines: list[Line]) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    predicted = run(lines)
    return predicted, time.perf_counter() - t0


def install_drain3(into: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(into), "--no-deps",
         "drain3==0.9.11", "cachetools==4.2.1", "jsonpickle"],
        check=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--sim", type=float, default=0.4)
    parser.add_argument("--drain3-dir", type=Path, default=None)
    args = parser.parse_args()

    lines = labelled_world_lines(args.hours)
    templates = len({line.truth for line in lines})
    print(
        f"workload: {len(lines):,} lines, {templates} true templates, {args.hours} h of the demo world"
    )
    with tempfile.TemporaryDirectory(prefix="drain3-") as tmp:
        where = args.drain3_dir or Path(tmp)
        if args.drain3_dir is None:
            install_drain3(where)
        sys.path.insert(0, str(where))
        print(f"{'miner':<28} {'depth':>5} {'accuracy':>9} {'lines/s':>10} {'groups':>7}  ratio")
        for depth in (3, 4):
            baseline = None
            for name, run in (
                ("drain3 0.9.11", drain3_miner(depth, args.sim)),
                ("ours", ours(MinerConfig())),
                ("ours, no route cache", ours(MinerConfig(route_cache=False))),
            ):  # fmt: skip
                predicted, seconds = timed(run, lines)
                accuracy, wrong = grouping_accuracy(lines, predicted)
                rate = len(lines) / seconds
                baseline = baseline or rate
                groups = len(set(zip((line.service for line in lines), predicted, strict=True)))
                shown = depth if name.startswith("drain3") else "-"
                print(
                    f"{name:<28} {shown:>5} {accuracy:>9.4f} {rate:>10,.0f} {groups:>7}  "
                    f"{rate / baseline:.2f}x"
                )
                if wrong:
                    print(
                        f"{'':<28} wrong: {', '.join(wrong[:6])}{' ...' if len(wrong) > 6 else ''}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
