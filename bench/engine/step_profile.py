#!/usr/bin/env python3
"""Where a decode step's time goes: each kernel of `tile generate`'s step, timed by Nsight Compute.

    python3 bench/engine/step_profile.py --tile build/tools/tile/tile --model llama-3.2-1b \
        --out OUT_DIR [--tokens 4] [-- extra tile generate options, e.g. --weights int4]

Runs `tile generate --random MODEL --no-graph` for a few greedy tokens under `ncu` with one metric
(gpu__time_duration.sum: each launch's device time, the launches serialised), skips the setup
step's launches, and sums the rest by kernel over the decode steps. Prints (and writes to
OUT_DIR/step-profile.md) a table: kernel, launches a step, microseconds a step, share of the
step's kernel time. Launches serialised under the profiler leave out the gaps between them, so
the sum is the step's kernel time alone: the measured ms/token (decode_bench.py) minus this sum
is what launch gaps and tails cost.

With --prefill N the prompt is N token ids and the table is the batched prefill's instead: the
kernels between the setup step and the first decode step (a warm-up prefill, then the timed
one: the same launches twice, so the sums are halved; sampling left out). decode_bench.py's
prefill time minus this sum is what the host's launching and the gaps cost.
"""
import argparse
import collections
import csv
import io
import os
import subprocess
import sys


def profile(tile, model, tokens, extra, prompt=4):
    ids = ",".join(str(i % 100000 + 1000) for i in range(prompt))
    cmd = ["ncu", "--metrics", "gpu__time_duration.sum", "--csv", "--page", "raw",
           tile, "generate", "--random", model, "--no-graph", "--prompt-ids", ids,
           "--max-tokens", str(tokens), "--ignore-eos", *extra]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"step_profile: ncu failed ({run.returncode}):\n{run.stderr[-3000:]}")
    # The CSV starts at the header line; ncu's own messages come before it.
    text = run.stdout[run.stdout.index('"ID"'):]
    rows = list(csv.DictReader(io.StringIO(text)))
    # The first row under the header gives the metric's unit.
    # ncu spells the unit "ns" or "nsecond" depending on its version.
    scale = {"nsecond": 1.0, "ns": 1.0, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6,
             "second": 1e9, "s": 1e9}[rows[0]["gpu__time_duration.sum"]]
    return [(r["Kernel Name"], scale * float(r["gpu__time_duration.sum"].replace(",", "")))
            for r in rows[1:]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tile", required=True)
    parser.add_argument("--model", default="llama-3.2-1b")
    parser.add_argument("--tokens", type=int, default=4)
    parser.add_argument("--out", default=".")
    parser.add_argument("--prefill", type=int, default=0,
                        help="profile the batched prefill of a prompt of this many tokens")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.prefill:
        return profile_prefill(args, extra)
    launches = profile(args.tile, args.model, args.tokens, extra)
    # The prompt's chunked prefill and the first (eager, setup) step come first; the last
    # `tokens - 1` steps are alike. A step's launches end with step_positions; the token's
    # sampling follows it.
    ends = [i for i, (name, _) in enumerate(launches) if "step_positions" in name]
    steps = args.tokens - 1
    if len(ends) < steps + 1:
        sys.exit(f"step_profile: found {len(ends)} step_positions launches, need {steps + 1}")
    # Each counted step: the previous token's sampling launches, then the step itself.
    per_kernel = by_kernel(launches[ends[-steps - 1] + 1:ends[-1] + 1])
    step_ns = sum(t for _, t in per_kernel.values()) / steps
    lines = [f"{args.model} {' '.join(extra)}: {steps} decode steps profiled, kernel time "
             f"{step_ns / 1000:.1f} us a step (launch gaps excluded)", "",
             "| kernel | launches a step | us a step | share |", "|---|---|---|---|"]
    lines += table_rows(per_kernel, steps, 1000, ".1f")
    write(args.out, "step-profile.md", lines)


def by_kernel(launches, skip=""):
    """(launches, total ns) by kernel name, in order of first launch; names starting with
    `skip` (when given) left out."""
    per_kernel = collections.OrderedDict()
    for name, ns in launches:
        short = name.split("(")[0]
        if skip and short.startswith(skip):
            continue
        count, total = per_kernel.get(short, (0, 0.0))
        per_kernel[short] = (count + 1, total + ns)
    return per_kernel


def table_rows(per_kernel, runs, unit_ns, digits):
    """One row a kernel, most time first: launches and time a run (in units of unit_ns), and
    the share of all the kernels' time."""
    all_ns = sum(t for _, t in per_kernel.values())
    return [f"| {name} | {count / runs:g} | {total / runs / unit_ns:{digits}} | "
            f"{100 * total / all_ns:.1f} % |"
            for name, (count, total) in sorted(per_kernel.items(), key=lambda kv: -kv[1][1])]


def profile_prefill(args, extra):
    launches = profile(args.tile, args.model, 2, extra, prompt=args.prefill)
    ends = [i for i, (name, _) in enumerate(launches) if "step_positions" in name]
    if len(ends) < 2:
        sys.exit(f"step_profile: found {len(ends)} step_positions launches, need 2")
    per_kernel = by_kernel(launches[ends[0] + 1:ends[1]], skip="sample")
    total_ns = sum(t for _, t in per_kernel.values()) / 2
    lines = [f"{args.model} {' '.join(extra)}: batched prefill of {args.prefill} tokens, kernel "
             f"time {total_ns / 1e6:.2f} ms (launch gaps and host time excluded)", "",
             "| kernel | launches | ms | share |", "|---|---|---|---|"]
    lines += table_rows(per_kernel, 2, 1e6, ".3f")
    write(args.out, "prefill-profile.md", lines)


def write(out, name, lines):
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
