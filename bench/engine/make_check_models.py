#!/usr/bin/env python3
"""Random-initialised models of each architecture, larger than the CI fixtures, with the f32
logits transformers computes, for the engine's logits check on the GPU machine.

    python3 bench/engine/make_check_models.py OUT_DIR

writes OUT_DIR/<arch>/ (config.json, model.safetensors in f32, expected.safetensors) in the
layout of tests/engine/fixtures/tiny-*; engine.decoder_test reads every such directory named in
MT_ENGINE_MODELS and compares on every backend (scripts/engine-check.sh runs it).
"""
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "engine", "fixtures"))
import make_engine_fixtures as fixtures  # noqa: E402


def config(arch):
    common = dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=64, vocab_size=2048,
                  max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    if arch == "llama":
        return transformers.LlamaConfig(**common, tie_word_embeddings=False, rope_parameters={
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
    if arch == "qwen2":
        return transformers.Qwen2Config(**common, tie_word_embeddings=True)
    if arch == "qwen3":
        return transformers.Qwen3Config(**common, tie_word_embeddings=True)
    return transformers.MistralConfig(**common, sliding_window=16)


def main():
    out = sys.argv[1]
    fixtures.PROMPT = [1] + [(97 * i + 13) % 2000 + 3 for i in range(1, 24)]
    fixtures.GENERATED = 32
    for seed, arch in enumerate(["llama", "qwen2", "qwen3", "mistral"]):
        c = config(arch)
        c._attn_implementation = "eager"
        model = transformers.AutoModelForCausalLM.from_config(c, dtype=torch.float32).eval()
        fixtures.randomise(model, 100 + seed)
        tokens, logits = fixtures.greedy_sequence(model)
        d = os.path.join(out, arch)
        model.save_pretrained(d)
        fixtures.save_expected(os.path.join(d, "expected.safetensors"), tokens, logits)
        print(arch, "->", d)


if __name__ == "__main__":
    main()
