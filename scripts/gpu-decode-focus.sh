#!/usr/bin/env bash
# A short GPU lease for the engine's decode step, most important part first, each under its own
# time limit so that what finished comes back when the lease runs out:
#   1. build (scripts/gpu-check.sh's build);
#   2. the decoder's tests on CUDA (fused GEMVs, decoder, tile generate, decode and prefill
#      attention, the tile layer);
#   3. the decode benchmark: tile rows (bf16, 4-bit, in order, with the combine kernel, checked,
#      unfused) for MODELS, then transformers eager only when TRANSFORMERS=1;
#   4. the fused kernels against the plain GEMVs, the tensor-core prefill attention, decode
#      attention merged in its last split and with the combine kernel (tile bench, no references);
#   5. the decode step's kernel profile (Nsight Compute) of the first model;
#   6. the batched prefill's kernel profile (PREFILL_MODEL, 512 tokens).
#
#   MODELS=llama-3.2-1b,llama-3.1-8b scripts/gpu-decode-focus.sh
#
# Results under $OUT: build.txt, ctest.txt, decode.md / decode.json, kernels.txt, profile.md,
# prefill-profile.md.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/gpu-decode-out}"
mkdir -p "$out"
build="${BUILD_DIR:-$root/build-gpu}"
tile="$build/tools/tile/tile"
models="${MODELS:-llama-3.2-1b,llama-3.1-8b}"
start=$SECONDS
stamp() { echo "gpu-decode-focus: $1 after $((SECONDS - start)) s"; }

OUT="$out/build" STAGES="" BUILD_DIR="$build" "$root/scripts/gpu-check.sh" >"$out/build.txt" 2>&1
rc=$?
rm -rf "$out/build"
[ "$rc" -eq 2 ] && { tail -n 20 "$out/build.txt"; exit 2; }
stamp "build"

MT_BACKEND=cuda timeout "${TEST_SECONDS:-120}" ctest --test-dir "$build" -j 16 \
  -R "${TESTS:-decode_gemv|engine\\.|cuda_backend_test|attention|backends\\.tile_test}" --output-on-failure >"$out/ctest.txt" 2>&1
grep -E "tests passed|tests failed|\*\*\*|Failed|Timeout" "$out/ctest.txt" | tail -n 20
stamp "tests"

extra=(--no-compile)
[ "${TRANSFORMERS:-0}" = 1 ] || extra+=(--tile-only)
timeout "${ENGINE_SECONDS:-150}" python3 "$root/bench/engine/decode_bench.py" --tile "$tile" \
  --out "$out/engine" --models "$models" --variants "${VARIANTS:-bf16,4bit,in-order,combine,checked,4bit-in-order,unfused}" \
  --prefill-tokens 0 "${extra[@]}" >"$out/decode.log" 2>&1
cp "$out/engine/decode.md" "$out/decode.md" 2>/dev/null && cat "$out/decode.md"
cp "$out/engine/decode.json" "$out/decode.json" 2>/dev/null
rm -rf "$out/engine"
stamp "decode benchmark"

timeout "${BENCH_SECONDS:-60}" "$tile" bench rms_norm_gemv rms_norm_gemv_swiglu residual_gemv rms_norm_gemv_rope \
  rms_norm_qgemv rms_norm_qgemv_swiglu residual_qgemv rms_norm_qgemv_rope gemv_m1 qgemv_affine_m1 \
  attention_prefill_mma_d128 attention_prefill_mma_d64 attention_prefill_int8_mma_d128 \
  attention_decode 2>/dev/null |
  grep -v '^tile bench: \[' >"$out/kernels.txt"
# The same decode attention with its splits merged by a combine kernel (two launches).
MT_SPLIT_MERGE=0 timeout 30 "$tile" bench attention_decode 2>/dev/null |
  grep -v '^tile bench: \[' | sed 's/^attention_decode /attention_decode (MT_SPLIT_MERGE=0) /' >>"$out/kernels.txt"
cat "$out/kernels.txt"
stamp "kernel bench"

timeout "${PROFILE_SECONDS:-90}" python3 "$root/bench/engine/step_profile.py" --tile "$tile" \
  --model "${models%%,*}" --out "$out/profile" >"$out/profile.log" 2>&1
cp "$out/profile/step-profile.md" "$out/profile.md" 2>/dev/null && cat "$out/profile.md"
rm -rf "$out/profile"
stamp "step profile"

# 6. The batched prefill's kernels (PREFILL_MODEL, 512 tokens), against decode.md's prefill time.
timeout "${PREFILL_PROFILE_SECONDS:-90}" python3 "$root/bench/engine/step_profile.py" --tile "$tile" \
  --model "${PREFILL_MODEL:-llama-3.1-8b}" --prefill 512 --out "$out/prefill" >"$out/prefill.log" 2>&1
cp "$out/prefill/prefill-profile.md" "$out/prefill-profile.md" 2>/dev/null && cat "$out/prefill-profile.md"
rm -rf "$out/prefill"
stamp "prefill profile"
