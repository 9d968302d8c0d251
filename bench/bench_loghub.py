"""Benchmark: log template mining on real systems' logs (Loghub-2k, corrected labels), ours
against drain3 0.9.11, side by side in one process.

    .venv/bin/python bench/bench_loghub.py [--data ../shared/data/loghub] [--rounds 3]
                                           [--drain3-dir DIR]

Workload: the eight dev systems of ../shared/data/loghub (HDFS, Hadoop, Spark, BGL, Windows,
Android, Proxifier, OpenStack), 2,000 lines each. Every miner gets the same messages (the
`Content` column of the corrected structured files, in line order), one miner per system.

Printed per system and on average:

- GA (grouping accuracy, Zhu et al. ICSE-SEIP 2019: a line is right when its group holds
  exactly the lines of its true template) and PA (parsing accuracy: the line's final
  template text is exactly its true template, whitespace aside) of ours with the FROZEN
  default `MinerConfig()`;
- leave-one-system-out GA: for each system, the `variable_after` in GRID with the best mean
  GA on the other seven, scored on the held-out one (the spread of those is the honest
  figure for a system nobody tuned on);
- drain3 0.9.11 with its defaults (`TemplateMinerConfig()`: depth 4, similarity 0.4, no
  masking), and drain3 with our masks as masking instructions, for context;
- for `--format auto`, the layout it picks on each raw file and the share of lines whose
  message is exactly the labelled `Content`;
- lines per second of the mining call alone (reading files is not timed), median of
  --rounds rounds that alternate the miners, and ours / drain3 (both drain3s: with its
  defaults it masks nothing, which is most of a miner's cost per line).

Targets (issue): mean GA >= 0.92 and no system below 0.80 with one configuration; PA
reported; at least 3x drain3's lines per second. The verdicts are printed; nothing asserts.

The rules of `aiops.logs.tokens` and the masks were written looking at these eight systems'
mistakes (they are the dev set); only the numeric knob is cross-validated here. The other
Loghub systems are kept out for an independent check.

drain3 is not a dependency (it pins cachetools==4.2.1, which Airflow 3.3 cannot use): it is
installed into a temporary folder for this run, as bench/bench_logs.py does.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.dev.log_evaluation import LabelledLine, grouping_accuracy  # noqa: E402
from aiops.logs.auto_format import detect_format, split_message  # noqa: E402
from aiops.logs.masking import DEFAULT_MASKS, MASKS  # noqa: E402
from aiops.logs.miner import TemplateMiner  # noqa: E402
from aiops.logs.templates import MinerConfig  # noqa: E402
from bench.bench_logs import install_drain3  # noqa: E402

SYSTEMS = ("HDFS", "Hadoop", "Spark", "BGL", "Windows", "Android", "Proxifier", "OpenStack")
GRID = (3, 4, 5, 6, 8, 10, 16)  # variable_after
GA_TARGET, GA_FLOOR, SPEED_TARGET = 0.92, 0.80, 3.0


@dataclass(frozen=True)
class Parsed:
    """What a miner made of one system: each line's final group and template text."""

    groups: list[str]
    templates: list[str]


Miner = Callable[[str, list[str]], Parsed]


def load(data: Path, system: str) -> list[LabelledLine]:
    path = data / system / f"{system}_2k.log_structured_corrected.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            LabelledLine(system, "", row["Content"], 0, row["EventTemplate"])
            for row in csv.DictReader(handle)
        ]


def ours(config: MinerConfig) -> Miner:
    def run(system: str, messages: list[str]) -> Parsed:
        miner = TemplateMiner(config)
        ids = [miner.add(system, m).id for m in messages]
        final = [miner.cluster(system, cid) for cid in ids]
        return Parsed([c.id if c else "" for c in final], [c.template if c else "" for c in final])

    return run


def drain3(masks: bool) -> Miner:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    def run(system: str, messages: list[str]) -> Parsed:
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        if masks:
            config.masking_instructions = [
                MaskingInstruction(rf"(?<!\w)(?:{p})", name.upper())
                for name, p in MASKS if name in DEFAULT_MASKS
            ]  # fmt: skip
        miner = Drain3Miner(config=config)
        ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
        clusters = miner.drain.id_to_cluster
        return Parsed([str(i) for i in ids], [clusters[i].get_template() for i in ids])

    return run


def auto_format_share(data: Path, system: str, lines: list[LabelledLine]) -> tuple[str, float]:
    """(the layout `--format auto` picks for the raw file, the share of its lines whose
    message is exactly the labelled Content)."""
    raw = (data / system / f"{system}_2k.log").read_text(encoding="utf-8").splitlines()
    detected = detect_format(raw)
    found = [split_message(detected, line)[1].strip() for line in raw if line.strip()]
    right = sum(f == line.content.strip() for f, line in zip(found, lines, strict=False))
    return detected.name, right / len(lines)


def parsing_accuracy(lines: list[LabelledLine], templates: list[str]) -> float:
    right = sum(line.truth.split() == t.split() for line, t in zip(lines, templates, strict=True))
    return right / len(lines)


def scored(miner: Miner, system: str, lines: list[LabelledLine]) -> tuple[float, float, float]:
    """(GA, PA, seconds of the mining call)."""
    messages = [line.content for line in lines]
    t0 = time.perf_counter()
    parsed = miner(system, messages)
    seconds = time.perf_counter() - t0
    ga, _ = grouping_accuracy(lines, parsed.groups)
    return ga, parsing_accuracy(lines, parsed.templates), seconds


def leave_one_system_out(data: dict[str, list[LabelledLine]]) -> dict[str, tuple[int, float]]:
    """Per held-out system: (the grid value best on the others, its GA on the held-out)."""
    ga = {
        (k, system): scored(ours(MinerConfig(variable_after=k)), system, lines)[0]
        for k in GRID for system, lines in data.items()
    }  # fmt: skip
    out = {}
    for held in data:
        others = [s for s in data if s != held]
        best = max(GRID, key=lambda k: statistics.mean(ga[(k, s)] for s in others))
        out[held] = (best, ga[(best, held)])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "loghub")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drain3-dir", type=Path, default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"error: {args.data}: no Loghub data (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    data = {system: load(args.data, system) for system in SYSTEMS}
    print(f"workload: {sum(map(len, data.values())):,} lines of {len(data)} Loghub systems "
          f"({args.data}); default {MinerConfig()}")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="drain3-") as tmp:
        where = args.drain3_dir or Path(tmp)
        if args.drain3_dir is None:
            install_drain3(where)
        sys.path.insert(0, str(where))
        miners = {"ours": ours(MinerConfig()), "drain3": drain3(False),
                  "drain3+masks": drain3(True)}  # fmt: skip
        results: dict[tuple[str, str], tuple[float, float]] = {}
        seconds: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            order = list(miners) if r % 2 == 0 else list(reversed(miners))
            for system, lines in data.items():
                for name in order:
                    ga, pa, s = scored(miners[name], system, lines)
                    results[(name, system)] = (ga, pa)
                    seconds.setdefault((name, system), []).append(s)
        loso = leave_one_system_out(data)
    auto = {system: auto_format_share(args.data, system, lines) for system, lines in data.items()}

    def rate(name: str, systems: tuple[str, ...] = SYSTEMS) -> float:
        lines = sum(len(data[s]) for s in systems)
        return lines / sum(statistics.median(seconds[(name, s)]) for s in systems)

    print(f"\n{'system':<10} {'ours GA':>8} {'ours PA':>8} {'LOSO GA':>8} {'(k)':>4} "
          f"{'drain3 GA':>10} {'drain3 PA':>10} {'d3+masks GA':>12} {'ours l/s':>9} "
          f"{'drain3 l/s':>11} {'d3+masks l/s':>13} {'vs d3':>6} {'vs d3+m':>8}")  # fmt: skip
    for system in SYSTEMS:
        (ga, pa), (dga, dpa) = results[("ours", system)], results[("drain3", system)]
        mga = results[("drain3+masks", system)][0]
        k, lga = loso[system]
        ours_rate, d3_rate = rate("ours", (system,)), rate("drain3", (system,))
        m_rate = rate("drain3+masks", (system,))
        print(f"{system:<10} {ga:>8.3f} {pa:>8.3f} {lga:>8.3f} {k:>4} {dga:>10.3f} {dpa:>10.3f} "
              f"{mga:>12.3f} {ours_rate:>9,.0f} {d3_rate:>11,.0f} {m_rate:>13,.0f} "
              f"{ours_rate / d3_rate:>5.2f}x {ours_rate / m_rate:>7.2f}x")  # fmt: skip

    def column(name: str, i: int) -> list[float]:
        return [results[(name, s)][i] for s in SYSTEMS]

    ga, pa, lga = column("ours", 0), column("ours", 1), [loso[s][1] for s in SYSTEMS]
    dga, dpa, mga = column("drain3", 0), column("drain3", 1), column("drain3+masks", 0)
    speed = rate("ours") / rate("drain3")
    masked_speed = rate("ours") / rate("drain3+masks")
    print(f"{'all':<10} {statistics.mean(ga):>8.3f} {statistics.mean(pa):>8.3f} "
          f"{statistics.mean(lga):>8.3f} {'':>4} {statistics.mean(dga):>10.3f} "
          f"{statistics.mean(dpa):>10.3f} {statistics.mean(mga):>12.3f} {rate('ours'):>9,.0f} "
          f"{rate('drain3'):>11,.0f} {rate('drain3+masks'):>13,.0f} {speed:>5.2f}x "
          f"{masked_speed:>7.2f}x")  # fmt: skip
    print(f"{'min':<10} {min(ga):>8.3f} {min(pa):>8.3f} {min(lga):>8.3f} {'':>4} {min(dga):>10.3f} "
          f"{min(dpa):>10.3f} {min(mga):>12.3f}")  # fmt: skip
    print(f"\nleave-one-system-out picks: {sorted({k for k, _ in loso.values()})} "
          f"(frozen default {MinerConfig().variable_after})")  # fmt: skip
    met = statistics.mean(ga) >= GA_TARGET and min(ga) >= GA_FLOOR
    print(f"target mean GA >= {GA_TARGET} and none below {GA_FLOOR}: "
          f"{'MET' if met else 'NOT MET'} (mean {statistics.mean(ga):.3f}, min {min(ga):.3f}; "
          f"held out: mean {statistics.mean(lga):.3f}, min {min(lga):.3f})")  # fmt: skip
    print("\n--format auto on the raw files (the message found is exactly the labelled Content):")
    for system, (name, share) in auto.items():
        print(f"  {system:<10} {name:<26} {share:7.2%}")
    worst = min(share for _, share in auto.values())
    print(f"target auto finds the message for >= 98% of each system's lines: "
          f"{'MET' if worst >= 0.98 else 'NOT MET'} (worst {worst:.2%})")  # fmt: skip
    print(
        f"target >= {SPEED_TARGET}x drain3's lines/s: "
        f"{'MET' if speed >= SPEED_TARGET else 'NOT MET'} ({speed:.2f}x drain3 with its "
        f"defaults, which masks nothing; {masked_speed:.2f}x drain3 masking what ours masks)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
