#!/usr/bin/env python3
"""Prints criterion's medians as the Markdown tables of BENCHMARKS.md.

Usage: python3 benches/summarize.py [target/criterion]

Reads every `<bench>/new/benchmark.json` and `estimates.json` that criterion
left under the folder (default: $CARGO_TARGET_DIR/criterion or
target/criterion), groups them by criterion group, and prints, per group,
each implementation's median and its ratio to consensio's (peer / consensio:
above 1 means consensio is faster). Groups with a floor (Merkle build:
`sha256_floor`; Raft log append: `memcpy_floor`) also get each
implementation's ratio to it.
"""

import json
import os
import sys
from collections import defaultdict


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def load(root):
    rows = defaultdict(dict)  # (group, value) -> {function: median_ns}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        key = (bench["group_id"], bench.get("value_str") or "")
        rows[key][bench["function_id"]] = median
    return rows


def main():
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    rows = load(sys.argv[1] if len(sys.argv) > 1 else default)
    for (group, value), functions in sorted(rows.items()):
        title = f"{group}/{value}" if value else group
        base = functions.get("consensio")
        floor_name = next(
            (f for f in ("sha256_floor", "memcpy_floor") if f in functions), None
        )
        floor = functions.get(floor_name) if floor_name else None
        print(f"\n#### `{title}`\n")
        header = "| implementation | median | peer / consensio |"
        rule = "|---|---:|---:|"
        if floor:
            header += f" / {floor_name} |"
            rule += "---:|"
        print(header)
        print(rule)
        for name, median in sorted(functions.items(), key=lambda kv: kv[1]):
            ratio = f"{median / base:.2f}×" if base else "–"
            line = f"| {name} | {fmt_time(median)} | {ratio} |"
            if floor:
                line += f" {median / floor:.2f}× |"
            print(line)


if __name__ == "__main__":
    main()
