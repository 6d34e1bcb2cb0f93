#!/usr/bin/env python3
"""Decode and prefill speed of `tile generate` beside transformers, on the GPU machine.

    python3 bench/engine/decode_bench.py --tile build/tools/tile/tile --out OUT_DIR

For Llama-3.2-1B and Llama-3.1-8B shapes (random weights): tile generate in bf16, with 4-bit
weights (MLX affine, group 64) and with int8 and int4 KV caches (--kv), transformers `generate`
eager and with a static cache plus torch.compile (where that works with the installed
transformers), all greedy for --tokens tokens after a 16-token prompt; the bandwidth floor
(weight and KV bytes read per token over the measured device-copy bandwidth) and each result's
share of it. Prefill: a --prefill-tokens prompt (512) through tile generate in chunks (the
default) and token by token, beside transformers' eager forward pass over the same prompt.
Writes OUT_DIR/decode.json and OUT_DIR/decode.md.
"""
import argparse
import json
import os
import subprocess
import time

import torch
import transformers

SHAPES = {
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                         head_dim=64, tie_word_embeddings=True, factor=32.0),
    "llama-3.1-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         head_dim=128, tie_word_embeddings=False, factor=8.0),
}
PROMPT = 16


def hf_config(name):
    s = dict(SHAPES[name])
    factor = s.pop("factor")
    return transformers.LlamaConfig(
        **s, num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
        max_position_embeddings=131072, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": factor,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192})


def copy_bandwidth():
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        y.copy_(x)
    torch.cuda.synchronize()
    return 2 * 20 * x.numel() / (time.perf_counter() - t)  # read + write bytes per second


KV_GROUP = 32  # tile's KV quantisation group (channels)


def bytes_per_token(c, bits, context, kv_bits=None):
    """Weights read per decode step (every linear layer, the LM head, the norms, one embedding
    row) plus the KV cache attended to at the middle of the run (bf16, or kv_bits codes with a
    bf16 scale and bias per group)."""
    d, hd = c.hidden_size, c.head_dim
    linear = c.num_hidden_layers * (d * hd * (c.num_attention_heads + 2 * c.num_key_value_heads)
                                    + d * hd * c.num_attention_heads
                                    + 3 * d * c.intermediate_size) + c.vocab_size * d
    per_weight = 2.0 if bits is None else bits / 8 + 2 * 2 / 64
    per_kv = 2.0 if kv_bits is None else kv_bits / 8 + 2 * 2 / KV_GROUP
    kv = 2 * c.num_hidden_layers * c.num_key_value_heads * hd * per_kv * context
    return linear * per_weight + kv + (2 * c.num_hidden_layers + 1) * d * 2


def run_tile(tile, name, bits, tokens, out, kv=None, prompt=PROMPT, prefill="batched",
             fuse=True, env=None, checked=False):
    """env: variables that turn a runtime choice off (MT_KERNEL_OVERLAP=0, MT_SPLIT_MERGE=0)."""
    env = env or {}
    tag = f"{name}-{bits or 16}" + (f"-kv{kv}" if kv else "") + (
        f"-prefill{prompt}-{prefill}" if prompt != PROMPT else "") + (
        "" if fuse else "-unfused") + "".join(f"-{k}{v}" for k, v in sorted(env.items())) + (
        "-checked" if checked else "")
    path = os.path.join(out, f"tile-{tag}.json")
    cmd = [tile, "generate", "--random", name, "--max-tokens", str(tokens),
           "--prompt-ids", ",".join(str(i % 100000 + 1000) for i in range(prompt)),
           "--prefill", prefill, "--json", path]
    if bits:
        cmd += ["--weights", f"int{bits}"]
    if kv:
        cmd += ["--kv", kv]
    if not fuse:
        cmd += ["--no-fuse"]
    if checked:
        cmd += ["--checked"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, **env))
    with open(path) as f:
        return json.load(f)


def prefill_ms(model, length, reps=5):
    """Median time of the eager forward pass over a `length`-token prompt (logits of the last
    position only where the installed transformers offers it, as generate's prefill does)."""
    ids = (torch.arange(length, device="cuda") % 100000 + 1000).view(1, -1)

    def forward():
        try:
            return model(ids, logits_to_keep=1)
        except TypeError:
            return model(ids)

    times = []
    with torch.no_grad():
        for i in range(reps + 2):
            torch.cuda.synchronize()
            t = time.perf_counter()
            forward()
            torch.cuda.synchronize()
            if i >= 2:  # two warm-up passes
                times.append(1000 * (time.perf_counter() - t))
    return sorted(times)[len(times) // 2]


def run_transformers(name, tokens, compiled, prefill_tokens=0):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config(name),
                                                              dtype=torch.bfloat16).eval()
    prefill = prefill_ms(model, prefill_tokens) if prefill_tokens else None
    ids = torch.arange(1000, 1000 + PROMPT, device="cuda").view(1, -1)
    kwargs = dict(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
    if compiled:
        model.generation_config.cache_implementation = "static"
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    with torch.no_grad():
        model.generate(ids, **kwargs)  # warm-up (compilation)
        torch.cuda.synchronize()
        t = time.perf_counter()
        model.generate(ids, max_new_tokens=1, min_new_tokens=1, do_sample=False)
        torch.cuda.synchronize()
        first = time.perf_counter() - t
        t = time.perf_counter()
        model.generate(ids, **kwargs)
        torch.cuda.synchronize()
        total = time.perf_counter() - t
    del model
    torch.cuda.empty_cache()
    decode = max(total - first, 1e-9)
    r = {"tokens_per_s": (tokens - 1) / decode, "ms_per_token": 1000 * decode / (tokens - 1),
         "time_to_first_token_ms": 1000 * first}
    if prefill is not None:
        r["prefill_ms"] = prefill
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tile", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--models", default="llama-3.2-1b,llama-3.1-8b")
    p.add_argument("--prefill-tokens", type=int, default=512)
    p.add_argument("--variants", default="bf16,unfused,4bit,4bit-unfused,kv-int8,kv-int4",
                   help="tile rows per model: bf16 (the fused decode step), unfused (bf16 with "
                        "--no-fuse), in-order (bf16 with MT_KERNEL_OVERLAP=0: every kernel "
                        "starts after the one before it ends), checked (bf16 with the GPU's "
                        "bounds checks, as runs before 2026-12-08 measured), combine (bf16 with "
                        "MT_SPLIT_MERGE=0: split attention as a partial and a combine kernel), "
                        "4bit, 4bit-unfused, 4bit-in-order, kv-int8, kv-int4")
    p.add_argument("--no-compile", action="store_true",
                   help="skip transformers with static cache + torch.compile")
    p.add_argument("--tile-only", action="store_true", help="skip transformers altogether")
    a = p.parse_args()
    # (weight bits, KV format, fused step, environment, checked)
    in_order = {"MT_KERNEL_OVERLAP": "0"}
    combine = {"MT_SPLIT_MERGE": "0"}
    variants = {"bf16": (None, None, True, {}, False),
                "unfused": (None, None, False, {}, False),
                "in-order": (None, None, True, in_order, False),
                "checked": (None, None, True, {}, True),
                "combine": (None, None, True, combine, False),
                "4bit": (4, None, True, {}, False), "4bit-unfused": (4, None, False, {}, False),
                "4bit-in-order": (4, None, True, in_order, False),
                "kv-int8": (None, "int8", True, {}, False),
                "kv-int4": (None, "int4", True, {}, False)}
    env_labels = {"MT_KERNEL_OVERLAP": " (in order)", "MT_SPLIT_MERGE": " (combine kernel)"}
    os.makedirs(a.out, exist_ok=True)
    bandwidth = copy_bandwidth()
    rows, prefill_rows = [], []
    models = a.models.split(",")
    # Ours first, variant by variant over the models (the first variants are the ones the goals
    # name), then the prefill rows, then transformers eager, then compiled (the slowest to set
    # up); the report is rewritten after each row, so a run cut short by a time limit keeps
    # what it measured.
    for variant in a.variants.split(","):
        for name in models:
            rows.append(tile_row(a, name, variant, variants[variant], env_labels, bandwidth))
            write_report(a, bandwidth, rows, prefill_rows)
    for name in models:
        if not a.prefill_tokens:
            break
        for mode in ("batched", "tokens"):
            try:
                r = run_tile(a.tile, name, None, 1, a.out, prompt=a.prefill_tokens, prefill=mode)
                prefill_rows.append({"model": name, "runner": f"tile ({mode})",
                                     "prefill_ms": r["prefill_ms"],
                                     "enqueue_ms": r.get("prefill_enqueue_ms"),
                                     "chunk": r.get("prefill_chunk")})
            except subprocess.CalledProcessError as e:
                prefill_rows.append({"model": name, "runner": f"tile ({mode})",
                                     "error": str(e)[:200]})
            write_report(a, bandwidth, rows, prefill_rows)
    for compiled in () if a.tile_only else (False,) if a.no_compile else (False, True):
        for name in models:
            c = hf_config(name)
            label = "transformers static+compile" if compiled else "transformers eager"
            try:
                r = run_transformers(name, a.tokens, compiled,
                                     0 if compiled else a.prefill_tokens)
            except Exception as e:  # noqa: BLE001 (the table says why the row is missing)
                rows.append({"model": name, "runner": label, "weights": "bf16", "kv": "bf16",
                             "error": str(e)[:200]})
                continue
            if "prefill_ms" in r:
                prefill_rows.append({"model": name, "runner": label, "prefill_ms": r["prefill_ms"]})
            floor_s = bytes_per_token(c, None, PROMPT + a.tokens // 2) / bandwidth
            rows.append({"model": name, "runner": label, "weights": "bf16", "kv": "bf16",
                         **{k: v for k, v in r.items() if k != "prefill_ms"},
                         "floor_ms_per_token": 1000 * floor_s,
                         "share_of_floor": 1000 * floor_s / r["ms_per_token"]})
            write_report(a, bandwidth, rows, prefill_rows)  # a time limit keeps every row


def tile_row(a, name, variant, spec, env_labels, bandwidth):
    """One decode row of tile generate: model `name` as `variant` says (its spec: weight bits,
    KV format, fused step, environment, checked)."""
    bits, kv, fuse, env, checked = spec
    c = hf_config(name)
    runner = "tile" + ("" if fuse else " (unfused)") + "".join(
        env_labels[k] for k in sorted(env)) + (" (checked)" if checked else "")
    row = {"model": name, "runner": runner, "weights": f"{bits}-bit" if bits else "bf16",
           "kv": kv or "bf16"}
    kv_bits = {"int8": 8, "int4": 4}.get(kv)
    floor_s = bytes_per_token(c, bits, PROMPT + a.tokens // 2, kv_bits) / bandwidth
    try:
        r = run_tile(a.tile, name, bits, a.tokens, a.out, kv=kv, fuse=fuse, env=env,
                     checked=checked)
    except subprocess.CalledProcessError as e:
        return {**row, "error": str(e)[:200]}
    return {**row, "tokens_per_s": r["tokens_per_s"], "ms_per_token": r["ms_per_token"],
            "time_to_first_token_ms": r["time_to_first_token_ms"],
            "step_launches": r.get("step_launches"),
            "floor_ms_per_token": 1000 * floor_s,
            "share_of_floor": 1000 * floor_s / r["ms_per_token"]}


def write_report(a, bandwidth, rows, prefill_rows):
    """decode.json and decode.md (printed too) from the rows measured so far."""
    rows = sorted(rows, key=lambda r: r["model"])
    prefill_rows = sorted(prefill_rows, key=lambda r: r["model"])
    with open(os.path.join(a.out, "decode.json"), "w") as f:
        json.dump({"copy_bandwidth_GBps": bandwidth / 1e9, "tokens": a.tokens, "rows": rows,
                   "prefill_tokens": a.prefill_tokens, "prefill_rows": prefill_rows}, f, indent=1)
    lines = [f"copy bandwidth {bandwidth / 1e9:.0f} GB/s, {a.tokens} tokens after a {PROMPT}-token "
             "prompt, batch 1", "",
             "| model | runner | weights | KV | tokens/s | ms/token | floor ms/token "
             "| share of floor | first token ms |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['runner']} | {r['weights']} | {r['kv']} "
                         f"| failed: {r['error']} | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['runner']} | {r['weights']} | {r['kv']} "
                     f"| {r['tokens_per_s']:.1f} | {r['ms_per_token']:.2f} "
                     f"| {r['floor_ms_per_token']:.2f} | {100 * r['share_of_floor']:.0f} % "
                     f"| {r['time_to_first_token_ms']:.1f} |")
    if prefill_rows:
        lines += ["", f"prefill of a {a.prefill_tokens}-token prompt (bf16; the goal for 8B: at "
                  "most 1.5 x transformers eager)", "",
                  "| model | runner | prefill ms | x transformers eager | host enqueue ms |",
                  "|---|---|---|---|---|"]
        eager = {r["model"]: r["prefill_ms"] for r in prefill_rows
                 if r["runner"] == "transformers eager" and "prefill_ms" in r}
        for r in prefill_rows:
            if "error" in r:
                lines.append(f"| {r['model']} | {r['runner']} | failed: {r['error']} | | |")
                continue
            ratio = r["prefill_ms"] / eager[r["model"]] if r["model"] in eager else float("nan")
            enqueue = f"{r['enqueue_ms']:.1f}" if r.get("enqueue_ms") is not None else ""
            lines.append(f"| {r['model']} | {r['runner']} | {r['prefill_ms']:.1f} | {ratio:.2f} "
                         f"| {enqueue} |")
    with open(os.path.join(a.out, "decode.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
