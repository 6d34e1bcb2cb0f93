// tile generate [MODEL_DIR] --prompt TEXT | --prompt-ids IDS | --random NAME: text generation
// with the engine (docs/ENGINE.md). Loads the checkpoint (or builds random weights of a named
// shape on the device), runs the prompt (in chunks of many tokens, or token by token with
// --prefill tokens), then draws tokens one decode step at a time, streaming the text, and ends
// with a summary: prompt tokens, prefill time, time to first token, decode tokens/s and ms per
// token (and, with --json FILE, the same as JSON for scripts).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "bench/json.hpp"
#include "bench/measure.hpp"
#include "commands.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/engine/decoder.hpp"
#include "metaltile/engine/tokenizer.hpp"

namespace mt::tile {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

template <class T>
T number(const ParsedArgs& args, const char* option, T fallback) {
  const std::optional<std::string> v = args.value(option);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    const double d = std::stod(*v, &used);
    if (used != v->size()) throw std::invalid_argument("trailing text");
    return static_cast<T>(d);
  } catch (const std::exception&) {
    throw UsageError(std::string(option) + " wants a number, got '" + *v + "'");
  }
}

std::vector<std::uint32_t> parse_ids(const std::string& text) {
  std::vector<std::uint32_t> ids;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) {
    try {
      ids.push_back(static_cast<std::uint32_t>(std::stoul(item)));
    } catch (const std::exception&) {
      throw UsageError("--prompt-ids wants comma-separated token ids, got '" + text + "'");
    }
  }
  return ids;
}

std::optional<engine::Quantization> weights_option(const ParsedArgs& args) {
  const std::optional<std::string> w = args.value("--weights");
  if (!w || *w == "as-stored") return std::nullopt;
  if (*w == "int8") return engine::Quantization{64, 8};
  if (*w == "int4") return engine::Quantization{64, 4};
  throw UsageError("--weights wants as-stored, int8 or int4, got '" + *w + "'");
}

// Whether `text` ends inside a UTF-8 sequence (the next token completes it).
bool ends_mid_character(const std::string& text) {
  for (std::size_t back = 1; back <= 4 && back <= text.size(); ++back) {
    const auto c = static_cast<unsigned char>(text[text.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len > back;
  }
  return false;
}

int run_generate(const ParsedArgs& args) {
  // Unchecked CUDA unless --checked, as tile bench: the decoder's launches pass every host
  // contract, and the device guards would cost the step time production does not pay.
  const Context ctx = bench::make_target(args.has("--checked")).ctx;
  const std::optional<std::string> random = args.value("--random");
  if (!random && args.positionals().empty()) {
    throw UsageError("give a MODEL_DIR, or --random NAME for random weights of a named shape");
  }
  engine::KvFormat kv = engine::KvFormat::Raw;
  try {
    kv = engine::parse_kv_format(args.value_or("--kv", "f16"));
  } catch (const Error& e) {
    throw UsageError(std::string("--kv: ") + e.what());
  }
  const std::string prefill_mode = args.value_or("--prefill", "batched");
  if (prefill_mode != "batched" && prefill_mode != "tokens") {
    throw UsageError("--prefill wants batched or tokens, got '" + prefill_mode + "'");
  }
  const Clock::time_point load_start = Clock::now();
  engine::ModelWeights weights;
  std::optional<engine::Tokenizer> tokenizer;
  if (random) {
    const engine::ModelConfig config = engine::named_config(*random);
    const DType t = parse_dtype(args.value_or("--dtype", "bf16")).value_or(DType::BF16);
    weights = engine::random_weights(ctx, config, t, weights_option(args),
                                     number<std::uint32_t>(args, "--seed", 1));
  } else {
    const std::string dir = args.positional(0);
    engine::LoadOptions options;
    if (const std::optional<std::string> d = args.value("--dtype")) {
      options.dtype = parse_dtype(*d);
      if (!options.dtype) throw UsageError("--dtype wants f32, f16 or bf16, got '" + *d + "'");
    }
    options.quantise = weights_option(args);
    weights = engine::load_weights(ctx, dir, options);
    const std::string tok_path = (std::filesystem::path(dir) / "tokenizer.json").string();
    if (std::filesystem::exists(tok_path) && engine::tokenizer_available()) {
      tokenizer = engine::Tokenizer::load(tok_path);
    }
  }
  const double load_ms = ms_since(load_start);

  std::vector<std::uint32_t> prompt;
  if (const std::optional<std::string> ids = args.value("--prompt-ids")) {
    prompt = parse_ids(*ids);
  } else if (const std::optional<std::string> text = args.value("--prompt")) {
    if (!tokenizer) {
      throw Error(random ? "--random models have no tokenizer; give --prompt-ids"
                  : engine::tokenizer_available()
                      ? "the model directory has no tokenizer.json; give --prompt-ids"
                      : "this build has no PCRE2 (libpcre2-dev), so it cannot tokenize text; "
                        "give --prompt-ids");
    }
    prompt = tokenizer->encode(*text);
  } else {
    prompt = {weights.config.bos_token.value_or(1)};
  }
  if (prompt.empty()) throw UsageError("the prompt has no tokens");
  const std::uint32_t max_tokens = number<std::uint32_t>(args, "--max-tokens", 64);
  engine::DecoderOptions dopt;
  dopt.max_seq =
      number<std::uint32_t>(args, "--max-seq", std::uint32_t(prompt.size()) + max_tokens);
  dopt.use_graphs = !args.has("--no-graph");
  dopt.fuse_decode = !args.has("--no-fuse");
  dopt.kv = kv;
  dopt.batched_prefill = prefill_mode == "batched";
  dopt.prefill_chunk = number<std::uint32_t>(args, "--prefill-chunk", 0);
  engine::SamplingOptions sampling;
  sampling.temperature = number<float>(args, "--temperature", 0.0f);
  sampling.top_k = number<std::uint32_t>(args, "--top-k", 0);
  sampling.top_p = number<float>(args, "--top-p", 1.0f);
  sampling.min_p = number<float>(args, "--min-p", 0.0f);
  sampling.seed = number<std::uint64_t>(args, "--seed", 0);
  const bool stop_at_eos = !random && !args.has("--ignore-eos");

  const Clock::time_point setup_start = Clock::now();
  engine::Decoder decoder(ctx, weights, dopt);
  // Batched prefill compiles its kernels (the GEMM variants of its chunk sizes, prefill
  // attention) on first use; a warm-up run of the prompt keeps that out of the prefill time
  // (it counts as setup). The interpreter compiles nothing.
  if (ctx.backend() == Backend::Cuda && decoder.prefill_chunk() > 1 && prompt.size() > 1) {
    decoder.prefill(prompt);
    decoder.reset();
  }
  const double setup_ms = ms_since(setup_start);

  const Clock::time_point prefill_start = Clock::now();
  decoder.prefill(prompt);
  decoder.synchronize();
  const double prefill_ms = ms_since(prefill_start);
  std::vector<std::uint32_t> generated;
  generated.push_back(decoder.sample(sampling));
  const double first_ms = ms_since(prefill_start);
  std::string printed;
  auto stream = [&] {
    std::string text;
    if (tokenizer) {
      text = tokenizer->decode(generated);
    } else {
      for (std::uint32_t id : generated) text += (text.empty() ? "" : " ") + std::to_string(id);
    }
    if (ends_mid_character(text) || text.size() < printed.size() ||
        text.compare(0, printed.size(), printed) != 0) {
      return;
    }
    std::cout << text.substr(printed.size()) << std::flush;
    printed = text;
  };
  auto is_eos = [&](std::uint32_t id) {
    const auto& eos = weights.config.eos_tokens;
    return stop_at_eos && std::find(eos.begin(), eos.end(), id) != eos.end();
  };
  stream();
  const Clock::time_point decode_start = Clock::now();
  while (generated.size() < max_tokens && !is_eos(generated.back()) &&
         decoder.position() < dopt.max_seq) {
    decoder.feed_drawn();
    generated.push_back(decoder.sample(sampling));
    stream();
  }
  const double decode_ms = ms_since(decode_start);
  const std::size_t decode_tokens = generated.size() - 1;
  const double tokens_per_s = decode_tokens > 0 ? 1000.0 * double(decode_tokens) / decode_ms : 0;
  const double ms_per_token = decode_tokens > 0 ? decode_ms / double(decode_tokens) : 0;

  std::cout << "\n\n"
            << std::fixed << std::setprecision(1) << "[" << backend_name(ctx.backend()) << ", "
            << name_of(weights.dtype)
            << (weights.layers.empty() || !weights.layers[0].qkv.quantised()
                    ? ""
                    : ", " + std::to_string(weights.layers[0].qkv.quant->bits) + "-bit weights")
            << (kv == engine::KvFormat::Raw ? "" : ", " + engine::kv_format_name(kv) + " KV")
            << "] prompt " << prompt.size() << " tokens, prefill " << prefill_ms << " ms ("
            << (decoder.prefill_chunk() > 1
                    ? "chunks of up to " + std::to_string(decoder.prefill_chunk())
                    : std::string("token by token"))
            << "), time to first token " << first_ms << " ms, decode " << decode_tokens
            << " tokens at " << std::setprecision(2) << tokens_per_s << " tokens/s ("
            << std::setprecision(3) << ms_per_token << " ms/token); load " << std::setprecision(0)
            << load_ms << " ms, setup " << setup_ms << " ms\n";
  if (const std::optional<std::string> path = args.value("--json")) {
    json::Object o{{"backend", std::string(backend_name(ctx.backend()))},
                   {"device", ctx.description()},
                   {"model", random ? *random : args.positional(0)},
                   {"dtype", std::string(name_of(weights.dtype))},
                   {"prompt_tokens", prompt.size()},
                   {"decode_tokens", decode_tokens},
                   {"prefill_ms", prefill_ms},
                   {"prefill_chunk", std::size_t(decoder.prefill_chunk())},
                   {"prefill_enqueue_ms", decoder.last_prefill_enqueue_ms()},
                   {"kv", engine::kv_format_name(kv)},
                   {"time_to_first_token_ms", first_ms},
                   {"decode_ms", decode_ms},
                   {"tokens_per_s", tokens_per_s},
                   {"ms_per_token", ms_per_token},
                   {"graphs", dopt.use_graphs},
                   {"fused_decode", dopt.fuse_decode},
                   {"step_launches", decoder.step_kernels().size()}};
    if (!weights.layers.empty() && weights.layers[0].qkv.quantised()) {
      o["weight_bits"] = std::size_t(weights.layers[0].qkv.quant->bits);
    }
    json::Array tokens;
    for (std::uint32_t id : generated) tokens.emplace_back(std::size_t(id));
    o["tokens"] = std::move(tokens);
    json::write_file(*path, json::Value(std::move(o)));
  }
  return 0;
}

}  // namespace

const Verb& generate_verb() {
  static const Verb verb{
      {"generate",
       "generate text with a Llama, Qwen2, Qwen3 or Mistral model (or random weights)",
       {{"MODEL_DIR", "a Hugging Face or MLX model directory", false}},
       {{"--prompt", "TEXT", "the prompt (needs tokenizer.json)"},
        {"--prompt-ids", "IDS", "the prompt as comma-separated token ids"},
        {"--max-tokens", "N", "tokens to generate, the first included (default 64)"},
        {"--temperature", "T", "0 (default): greedy"},
        {"--top-k", "K", "keep the K most likely tokens (default 0: off)"},
        {"--top-p", "P", "nucleus sampling (default 1: off)"},
        {"--min-p", "P", "drop tokens below P times the top probability (default 0: off)"},
        {"--seed", "N", "sampling seed (and --random's weight seed)"},
        {"--dtype", "D", "activation type f32, f16 or bf16 (default: the checkpoint's)"},
        {"--weights", "W", "as-stored (default), int8 or int4 (MLX affine, group 64, on load)"},
        {"--kv", "F",
         "KV cache format: f16 (the activation type; default), int8, int4 (affine, groups of "
         "32 channels), fp8 (e4m3) or fp8-e5m2"},
        {"--prefill", "MODE",
         "batched (default: the prompt in chunks of many tokens) or tokens (one decode step "
         "a token)"},
        {"--prefill-chunk", "N",
         "most prompt tokens per chunk (default 512; 16 with f32 or quantised weights)"},
        {"--random", "NAME",
         "random weights of a named shape: llama-3.2-1b, llama-3.1-8b, "
         "qwen3-0.6b, tiny"},
        {"--max-seq", "N", "KV-cache positions (default: prompt + max tokens)"},
        {"--ignore-eos", "", "keep generating past an end-of-sequence token"},
        {"--no-graph", "", "launch every kernel each step instead of replaying a graph"},
        {"--checked", "",
         "bounds-check every access on the GPU (default: unchecked, as production runs)"},
        {"--no-fuse", "",
         "launch the decode step's norms, residual adds and SwiGLU on their own instead of "
         "inside the GEMVs (dense weights)"},
        {"--json", "FILE", "also write the summary (and the token ids) as JSON"}}},
      run_generate};
  return verb;
}

}  // namespace mt::tile
