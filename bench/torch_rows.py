#!/usr/bin/env python3
"""PyTorch baselines for the MLX row kernels: softmax, rms_norm, layer_norm, argmax, sum and
max over the last axis of a [rows, n] tensor (default 32768 x 4096 bf16) on CUDA, in eager mode
and under torch.compile, beside a device-to-device copy bandwidth measured in the same run.

Each time is the median over >= 50 launches, each timed by its own pair of torch.cuda.Events
after a warm-up; GB/s = (bytes read + bytes written) / time. Prints a table and, with --out,
writes the results as JSON. Needs no network; if torch.compile fails (no Triton, no compiler)
the error is printed and the eager numbers still come out.

    python3 bench/torch_rows.py --out torch_rows.json
"""

import argparse
import json
import platform
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=32768)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    p.add_argument("--reps", type=int, default=100, help="timed launches (>= 50)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--copy-gib", type=float, default=1.0, help="size of the copied tensor")
    p.add_argument("--no-compile", action="store_true", help="eager only")
    p.add_argument("--compile-mode", default=None,
                   help="torch.compile mode (default, reduce-overhead, max-autotune, ...)")
    p.add_argument("--ops", default="", help="comma-separated subset of the ops")
    p.add_argument("--out", default="", help="write the results as JSON here")
    args = p.parse_args()
    if args.reps < 50:
        p.error("--reps must be at least 50")
    return args


def median_ms(fn, reps, warmup):
    """Median time of one call of fn, in ms, each call between its own pair of CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for s, e in zip(starts, ends):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def copy_bandwidth(gib, reps, warmup):
    """Device-to-device copy (dst.copy_(src) and src.clone()) of a gib-GiB tensor."""
    count = int(gib * (1 << 30)) // 4
    src = torch.empty(count, dtype=torch.float32, device="cuda").uniform_()
    dst = torch.empty_like(src)
    moved = 2 * count * 4  # read once, written once
    results = []
    for name, fn in (("copy_", lambda: dst.copy_(src)), ("clone", lambda: src.clone())):
        ms = median_ms(fn, reps, warmup)
        results.append({"op": "d2d " + name, "mode": "eager", "ms": ms, "bytes": moved,
                        "gbps": moved / (ms * 1e6)})
    del src, dst
    torch.cuda.empty_cache()
    return results


def make_ops(x, w, b, eps):
    """name -> (function of x, bytes read + written)."""
    rows, n = x.shape
    size = x.element_size()
    x_bytes = rows * n * size
    index_size = torch.empty((), dtype=torch.int64).element_size()  # argmax returns int64
    ops = {
        "softmax": (lambda t: torch.softmax(t, -1), 2 * x_bytes),
        "rms_norm": (lambda t: F.rms_norm(t, (n,), w, eps), 2 * x_bytes + n * size),
        "layer_norm": (lambda t: F.layer_norm(t, (n,), w, b, eps), 2 * x_bytes + 2 * n * size),
        "argmax": (lambda t: torch.argmax(t, -1), x_bytes + rows * index_size),
        "sum": (lambda t: torch.sum(t, -1), x_bytes + rows * size),
        "max": (lambda t: torch.amax(t, -1), x_bytes + rows * size),
    }
    return ops


def max_difference(a, b):
    if a.dtype in (torch.int64, torch.int32):
        return float((a != b).sum().item())  # mismatching indices
    return float((a.float() - b.float()).abs().max().item())


def main():
    args = parse_args()
    if not torch.cuda.is_available():
        print("torch_rows: CUDA is not available", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    dtype = DTYPES[args.dtype]
    device_name = torch.cuda.get_device_name()
    info = {
        "device": device_name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "rows": args.rows, "n": args.n, "dtype": args.dtype, "reps": args.reps,
        "warmup": args.warmup, "compile_mode": args.compile_mode,
    }
    try:
        import triton  # noqa: F401  (only to report the version)
        info["triton"] = triton.__version__
    except Exception as e:  # a missing Triton is reported, not fatal
        info["triton"] = "unavailable: %s" % e
    print("device: %s, torch %s, CUDA %s, triton %s" %
          (device_name, torch.__version__, torch.version.cuda, info["triton"]))
    print("shape: %d rows x %d %s, median of %d launches after %d warm-up" %
          (args.rows, args.n, args.dtype, args.reps, args.warmup))

    results = copy_bandwidth(args.copy_gib, args.reps, args.warmup)
    copy_gbps = max(r["gbps"] for r in results)

    x = torch.randn(args.rows, args.n, device="cuda", dtype=torch.float32).to(dtype)
    w = (torch.rand(args.n, device="cuda") + 0.5).to(dtype)
    b = (torch.rand(args.n, device="cuda") - 0.5).to(dtype)
    wanted = [o for o in args.ops.split(",") if o]
    errors = {}
    for name, (fn, moved) in make_ops(x, w, b, args.eps).items():
        if wanted and name not in wanted:
            continue
        reference = None
        modes = [("eager", fn)]
        if not args.no_compile:
            modes.append(("compile", None))
        for mode, f in modes:
            entry = {"op": name, "mode": mode, "bytes": moved}
            try:
                if mode == "compile":
                    options = {} if args.compile_mode is None else {"mode": args.compile_mode}
                    f = torch.compile(fn, **options)
                    start = time.perf_counter()
                    out = f(x)  # compiles here
                    torch.cuda.synchronize()
                    entry["compile_s"] = time.perf_counter() - start
                    if reference is not None:
                        entry["max_diff_vs_eager"] = max_difference(out, reference)
                    del out
                else:
                    reference = f(x)
                ms = median_ms(lambda: f(x), args.reps, args.warmup)
                entry.update(ms=ms, gbps=moved / (ms * 1e6))
            except Exception as e:
                entry["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
                errors["%s/%s" % (name, mode)] = traceback.format_exc()
                print("%s (%s) failed: %s" % (name, mode, entry["error"]), file=sys.stderr)
            results.append(entry)
        del reference
        torch.cuda.empty_cache()

    print("\n%-12s %-8s %10s %9s %9s" % ("op", "mode", "time (us)", "GB/s", "of copy"))
    for r in results:
        if "error" in r:
            print("%-12s %-8s  failed: %s" % (r["op"], r["mode"], r["error"]))
            continue
        print("%-12s %-8s %10.1f %9.1f %8.1f%%" %
              (r["op"], r["mode"], r["ms"] * 1e3, r["gbps"], 100.0 * r["gbps"] / copy_gbps))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"info": info, "copy_gbps": copy_gbps, "results": results,
                       "errors": errors}, f, indent=2)
        print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
