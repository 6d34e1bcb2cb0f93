#!/usr/bin/env python3
"""Times what a user would pick instead of each MetalTile kernel (PyTorch eager, torch.compile,
cuBLAS through torch, torch SDPA) at the shapes `tile bench --list-cases FILE` writes, and
writes JSON that `tile bench --references FILE` joins with its own measurements.

usage: references.py --cases cases.json --out refs.json [--kernels a,b,...] [--device cuda|cpu]
                     [--reps 50] [--no-compile] [--no-graph]

On a GPU each reference is timed per call from replays of a CUDA graph of several calls (as
`tile bench` times its kernels), so launch and Python overhead are left out of both sides; a
reference that cannot be captured is timed by single calls and marked "timing": "eager".

Reference implementations live in bench/references/<group>.py: each module defines
REFERENCES = {kernel_name: make}, where make(case) returns {variant: fn}, fn a callable of no
arguments that does the work once (tensors made beforehand from `case`). Variants are named as
a user would pick them: "torch eager", "torch.compile", "cuBLAS (torch)", "torch SDPA".
The device-to-device copy bandwidth and the bf16 matmul peak are measured in the same run.
"""
import argparse
import importlib
import json
import math
import pathlib
import statistics
import sys
import time

import torch

TORCH_DTYPES = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "u32": torch.int32,  # u32 tensors travel as int32 bits (torch's uint32 has few ops)
    "i32": torch.int32,
    "u8": torch.uint8,
}


class Case:
    """One benchmark case of `tile bench --list-cases`, with tensors made on demand."""

    def __init__(self, entry, device, seed=0):
        self.kernel = entry["kernel"]
        self.label = entry["label"]
        self.dtype_name = entry["dtype"]
        self.dtype = TORCH_DTYPES[entry["dtype"]]
        self.tensors = entry["tensors"]  # name -> {"dtype", "elements", "kind"}
        self.scalars = entry["scalars"]  # name -> number
        self.fills = entry.get("fills", {})  # name -> {"kind", "lo", "hi", "n"}
        self.device = device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def scalar(self, name):
        return self.scalars[name]

    def elements(self, name):
        return self.tensors[name]["elements"]

    def tensor(self, name, shape=None):
        """The named tensor filled as `tile bench` fills it, optionally reshaped."""
        spec = self.tensors[name]
        n = spec["elements"]
        dtype = TORCH_DTYPES[spec["dtype"]]
        fill = self.fills.get(name, {"kind": "default"})
        kind = fill["kind"]
        if kind == "below":
            t = torch.randint(0, fill["n"], (n,), generator=self.generator, dtype=torch.int64)
        elif kind == "iota":
            t = torch.arange(n, dtype=torch.int64) % fill["n"]
        elif kind == "value":
            t = torch.full((n,), fill["n"], dtype=torch.int64)
        elif dtype.is_floating_point:
            lo, hi = (fill["lo"], fill["hi"]) if kind == "uniform" else (-1.0, 1.0)
            t = torch.rand(n, generator=self.generator, dtype=torch.float32) * (hi - lo) + lo
        else:
            t = torch.randint(-(2**31), 2**31 - 1, (n,), generator=self.generator,
                              dtype=torch.int64)
        t = t.to(dtype).to(self.device)
        return t.reshape(shape) if shape is not None else t


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


GRAPH_MICROSECONDS = 500.0  # a timed graph replay lasts about this long
MAX_GRAPH_CALLS = 64


def time_calls(fn, device, reps):
    """Median, 10th and 90th percentile of `reps` timed calls after warm-up, in microseconds."""
    for _ in range(3):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        if device == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1000.0)
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return statistics.median(times), pick(0.1), pick(0.9)


def time_graph(fn, reps):
    """As time_calls, per call, from replays of a CUDA graph of several calls: the device time
    alone, as `tile bench` measures its kernels (Python and launch overhead left out)."""
    eager, _, _ = time_calls(fn, "cuda", 3)
    calls = max(1, min(MAX_GRAPH_CALLS, math.ceil(GRAPH_MICROSECONDS / max(eager, 1.0))))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    median, p10, p90 = time_calls(graph.replay, "cuda", reps)
    return median / calls, p10 / calls, p90 / calls


def time_us(fn, device, reps, graph=True):
    """(median, p10, p90, how): per-call device time from graph replays where the reference can
    be captured (how = "graph"), else from single timed calls (how = "eager")."""
    if device == "cuda" and graph:
        try:
            return (*time_graph(fn, reps), "graph")
        except Exception as e:  # host synchronisation inside fn, for example
            print(f"  not capturable ({type(e).__name__}); timing single calls", file=sys.stderr)
            torch.cuda.synchronize()
    return (*time_calls(fn, device, reps), "eager")


def measure_peaks(device, reps):
    """The two roofs: device-to-device copy bandwidth (read + write) and bf16 matmul FLOP/s."""
    if device != "cuda":
        return {}
    n = 1 << 28  # 1 GiB of f32
    a = torch.rand(n, device=device)
    b = torch.empty_like(a)
    copy_us, _, _ = time_calls(lambda: b.copy_(a), device, reps)
    del a, b
    m = 8192
    x = torch.randn(m, m, device=device, dtype=torch.bfloat16)
    y = torch.randn(m, m, device=device, dtype=torch.bfloat16)
    mm_us, _, _ = time_calls(lambda: torch.matmul(x, y), device, max(10, reps // 5))
    return {
        "copy_gbps": 2 * 4 * n / copy_us / 1e3,
        "bf16_matmul_tflops": 2 * m**3 / mm_us / 1e6,
    }


def load_references(directory):
    refs = {}
    sys.path.insert(0, str(directory.parent))
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(f"references.{path.stem}")
        for name, make in module.REFERENCES.items():
            if name in refs:
                raise SystemExit(f"references: {name} defined twice ({path.name})")
            refs[name] = make
    return refs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kernels", default="")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile variants")
    parser.add_argument("--no-graph", action="store_true",
                        help="time single calls (launch overhead included) instead of CUDA graphs")
    args = parser.parse_args()

    cases = json.loads(pathlib.Path(args.cases).read_text())["cases"]
    wanted = set(filter(None, args.kernels.split(",")))
    refs = load_references(pathlib.Path(__file__).resolve().parent / "references")
    out = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "peaks": measure_peaks(args.device, args.reps),
        "results": [],
    }
    for entry in cases:
        if wanted and entry["kernel"] not in wanted:
            continue
        make = refs.get(entry["kernel"])
        if make is None:
            continue
        case = Case(entry, args.device)
        try:
            variants = make(case)
        except Exception as e:  # a reference that cannot be built is reported, not fatal
            print(f"references: {entry['kernel']} {entry['label']}: {e}", file=sys.stderr)
            continue
        for variant, fn in variants.items():
            if args.no_compile and "compile" in variant:
                continue
            print(f"references: {entry['kernel']} {entry['label']} {entry['dtype']}: {variant}",
                  file=sys.stderr, flush=True)
            try:
                median, p10, p90, how = time_us(fn, args.device, args.reps, not args.no_graph)
            except Exception as e:
                print(f"  failed: {e}", file=sys.stderr)
                continue
            out["results"].append({
                "kernel": entry["kernel"], "label": entry["label"], "dtype": entry["dtype"],
                "reference": variant, "median_us": median, "p10_us": p10, "p90_us": p90,
                "timing": how,
            })
        del case, variants
        if args.device == "cuda":
            torch.cuda.empty_cache()
        # Written after every case, so a run cut short by a time limit keeps what it measured.
        pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"references: {len(out['results'])} timings written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
