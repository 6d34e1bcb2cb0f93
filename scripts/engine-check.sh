#!/usr/bin/env bash
# The engine's checks on the GPU machine (after scripts/gpu-check.sh or scripts/build.sh built
# the tree): (1) logits against transformers on random-initialised models of each architecture
# made here (bench/engine/make_check_models.py; engine.decoder_test compares f32 logits within
# 1e-3 of the largest and bf16 top-1 agreement beyond bf16 rounding, token by token and after a
# batched prefill, on the GPU only, and runs its tiny-model tests of batched prefill and
# quantised KV caches on CUDA); (2) samples of
# generated text from a random model, with the raw and an int8 KV cache; (3) the decode and
# prefill benchmark beside transformers (bench/engine/decode_bench.py: bf16, 4-bit weights,
# int8 and int4 KV caches; a 512-token prefill in chunks and token by token beside
# transformers' eager prefill); (4, only when asked: "profile") where a decode step's time goes,
# kernel by kernel (bench/engine/step_profile.py under Nsight Compute, bf16 and 4-bit weights).
# Results go under ${OUT:-./engine-out}.
# ENGINE_STAGES="check sample bench" (the default) picks the parts, so the correctness checks can
# run beside other tests and the benchmark alone.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="${OUT:-$root/engine-out}"
mkdir -p "$out"
status=0
stages=" ${ENGINE_STAGES:-check sample bench} "
want() { [[ "$stages" == *" $1 "* ]]; }

if want check; then
  echo "== engine: logits against transformers (random models of each architecture)"
  if python3 "$root/bench/engine/make_check_models.py" "$out/models" >"$out/models.log" 2>&1; then
    MT_BACKEND=cuda MT_ENGINE_MODELS="$out/models" "$build/tests/engine.decoder_test" \
      >"$out/decoder_test.log" 2>&1 || status=1
    # tile_generate_test runs the tile binary, which ctest names in MT_TILE.
    MT_BACKEND=cuda MT_TILE="$build/tools/tile/tile" "$build/tests/engine.tile_generate_test" \
      >>"$out/decoder_test.log" 2>&1 || status=1
    tail -5 "$out/decoder_test.log"
  else
    echo "make_check_models.py failed (see $out/models.log)"; status=1
  fi
fi

if want sample; then
  echo "== engine: a sample from a random Llama-3.2-1B (gibberish expected)"
  "$build/tools/tile/tile" generate --random llama-3.2-1b --max-tokens 32 --temperature 0.8 \
    --seed 7 --prompt-ids 128000,9906,11,1917 2>&1 | tee "$out/sample.txt" || status=1
  "$build/tools/tile/tile" generate --random llama-3.2-1b --max-tokens 32 --temperature 0.8 \
    --seed 7 --prompt-ids 128000,9906,11,1917 --kv int8 2>&1 | tee -a "$out/sample.txt" || status=1
fi

if want bench; then
  echo "== engine: decode benchmark"
  python3 "$root/bench/engine/decode_bench.py" --tile "$build/tools/tile/tile" --out "$out" \
    2>"$out/decode_bench.log" || { echo "decode_bench.py failed (see $out/decode_bench.log)"; status=1; }
fi
if want profile; then
  echo "== engine: decode step profile (kernel time by kernel, launch gaps excluded)"
  for weights in as-stored int4; do
    python3 "$root/bench/engine/step_profile.py" --tile "$build/tools/tile/tile" \
      --model "${PROFILE_MODEL:-llama-3.2-1b}" --out "$out/profile-$weights" -- --weights "$weights" \
      2>>"$out/step_profile.log" || { echo "step_profile.py failed (see $out/step_profile.log)"; status=1; }
  done
fi
exit $status
