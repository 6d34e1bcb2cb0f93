// metaltile_fuzz: differential fuzzing from the command line. Generates --count programs from
// consecutive seeds and checks each on --jobs threads:
//   --backend cpu    the interpreter before and after the pass pipeline, bit for bit (NaN bits
//                    aside: the IR leaves them unspecified)
//   --backend nvrtc  the same, and each optimised kernel emitted as CUDA and compiled with
//                    NVRTC (checked and plain emission alternate): no GPU needed
//   --backend cuda   the interpreter (unoptimised) against the CUDA backend (optimised; checked
//                    and unchecked alternate), bit for bit but for NaN bits and the math
//                    functions' documented tolerances (generator.hpp)
// Each failure kind's first programs are minimised (delta debugging) and printed as
// reproducers. The report (--out, and stdout) counts programs, failures by kind and the op
// kinds the programs covered. Compiled cubins go to a scratch cache unless MT_CACHE_DIR is set.
// Exit status: 0 no failure, 1 failures, 2 bad usage or setup.
#include <unistd.h>  // getpid

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/cuda_compile.hpp"
#include "fuzz/differential.hpp"
#include "fuzz/generator.hpp"
#include "fuzz/runner.hpp"
#include "metaltile/backends/cuda.hpp"

namespace mt::fuzz {
namespace {

struct Options {
  std::string backend = "cpu";
  std::uint64_t seed = 1;
  std::uint64_t count = 1000;
  unsigned jobs = 0;  // 0: hardware threads
  std::string out;
  std::string profile;  // "", exact, gpu
  int minimise = 6;     // failures to minimise (the first of each kind first)
  int minimise_tries = 0;
  std::string arch = "sm_90";
  int max_instructions = 0;  // 0: the generator's default
  bool print_programs = false;
  bool help = false;
};

constexpr std::string_view kUsage =
    "usage: metaltile_fuzz [--backend cpu|nvrtc|cuda] [--count N] [--seed S] [--jobs J]\n"
    "                      [--out FILE] [--profile exact|gpu] [--minimise K] [--tries T]\n"
    "                      [--arch sm_XX] [--max-instructions N] [--print] [--help]\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--backend") {
      o.backend = next();
    } else if (arg == "--seed") {
      o.seed = std::stoull(next());
    } else if (arg == "--count") {
      o.count = std::stoull(next());
    } else if (arg == "--jobs") {
      o.jobs = static_cast<unsigned>(std::stoul(next()));
    } else if (arg == "--out") {
      o.out = next();
    } else if (arg == "--profile") {
      o.profile = next();
    } else if (arg == "--minimise") {
      o.minimise = std::stoi(next());
    } else if (arg == "--tries") {
      o.minimise_tries = std::stoi(next());
    } else if (arg == "--arch") {
      o.arch = next();
    } else if (arg == "--max-instructions") {
      o.max_instructions = std::stoi(next());
    } else if (arg == "--print") {
      o.print_programs = true;
    } else if (arg == "--help") {
      o.help = true;
    } else {
      throw std::runtime_error("unknown argument " + arg);
    }
  }
  if (o.backend != "cpu" && o.backend != "nvrtc" && o.backend != "cuda") {
    throw std::runtime_error("--backend must be cpu, nvrtc or cuda");
  }
  if (o.profile.empty()) o.profile = o.backend == "cpu" ? "exact" : "gpu";
  if (o.profile != "exact" && o.profile != "gpu") {
    throw std::runtime_error("--profile must be exact or gpu");
  }
  if (o.jobs == 0) o.jobs = std::max(1u, std::thread::hardware_concurrency());
  // A CUDA candidate costs an NVRTC compile, so CUDA minimisation gets fewer tries.
  if (o.minimise_tries == 0) o.minimise_tries = o.backend == "cpu" ? 3000 : 800;
  return o;
}

// What checks one program: the backends a run needs, created once and shared by the jobs.
class Checker {
 public:
  explicit Checker(const Options& o) : o_(o) {
    if (o.backend == "cuda") {
      checked_ = make_cuda_backend(CudaOptions{.checked = true});
      plain_ = make_cuda_backend(CudaOptions{.checked = false});
      description_ = checked_->description();
    } else if (o.backend == "nvrtc") {
      description_ = "interpreter, optimised interpreter and NVRTC " + nvrtc_version() +
                     " compiles for " + o.arch;
    } else {
      description_ = "interpreter against the optimised interpreter";
    }
  }

  const std::string& description() const { return description_; }

  Comparison check(const FuzzProgram& p) const {
    if (o_.backend == "cuda") {
      const bool checked = p.seed % 2 == 0;
      return check_backend(p, checked ? *checked_ : *plain_, checked ? "cuda checked" : "cuda");
    }
    Comparison c = check_pipeline(p);
    if (!c.agree() || o_.backend == "cpu") return c;
    try {
      const bool checked = p.seed % 2 == 0;
      cuda::compile_kernel(optimised_kernel(p), cuda::EmitOptions{.checked = checked}, o_.arch);
    } catch (const std::exception& e) {
      c.kind = "nvrtc failed: " + error_class(e.what());
      c.detail = e.what();
    }
    return c;
  }

 private:
  const Options& o_;
  std::unique_ptr<KernelBackend> checked_, plain_;
  std::string description_;
};

GenOptions gen_options(const Options& o) {
  GenOptions g;
  g.profile = o.profile == "gpu" ? Profile::Gpu : Profile::Exact;
  if (o.max_instructions > 0) g.max_instructions = std::max(o.max_instructions, g.min_instructions);
  return g;
}

struct Failure {
  std::uint64_t seed = 0;
  Comparison comparison;
};

void count_ops(const Block& b, std::set<OpKind>& seen) {
  for (const Instr& in : b.instrs) {
    seen.insert(in.op);
    for (const Block& inner : in.blocks) count_ops(inner, seen);
  }
}

// Runs `work(i)` for i in [0, n) on `jobs` threads.
template <class Work>
void parallel_for(std::uint64_t n, unsigned jobs, const Work& work) {
  std::atomic<std::uint64_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned j = 0; j < jobs; ++j) {
    pool.emplace_back([&] {
      for (std::uint64_t i = next++; i < n; i = next++) work(i);
    });
  }
  for (std::thread& t : pool) t.join();
}

// Ten thousand one-off cubins are not worth keeping: unless MT_CACHE_DIR says where, the
// CUDA disk cache goes to a directory of this process, removed at exit.
class ScratchCache {
 public:
  ScratchCache() {
    const char* set = std::getenv("MT_CACHE_DIR");
    if (set != nullptr && *set != '\0') return;
    dir_ = std::filesystem::temp_directory_path() /
           ("metaltile_fuzz_cache_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ::setenv("MT_CACHE_DIR", dir_.c_str(), 1);  // before any thread starts
  }
  ~ScratchCache() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  ScratchCache(const ScratchCache&) = delete;
  ScratchCache& operator=(const ScratchCache&) = delete;

 private:
  std::filesystem::path dir_;
};

int fuzz(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  const ScratchCache scratch;
  const Checker checker(o);
  const GenOptions gen = gen_options(o);
  std::mutex mutex;
  std::vector<Failure> failures;
  std::map<OpKind, std::uint64_t> op_programs;
  std::uint64_t instructions = 0, largest = 0, errors_generating = 0;
  std::atomic<std::uint64_t> done{0};

  parallel_for(o.count, o.jobs, [&](std::uint64_t i) {
    const std::uint64_t seed = o.seed + i;
    Failure f{seed, {}};
    std::set<OpKind> seen;
    std::size_t size = 0;
    try {
      const FuzzProgram p = generate(seed, gen);
      if (o.print_programs) {
        const std::lock_guard<std::mutex> lock(mutex);
        std::cout << describe(p);
      }
      count_ops(p.kernel.body, seen);
      size = p.instruction_count();
      f.comparison = checker.check(p);
    } catch (const std::exception& e) {
      f.comparison = Comparison{"generator failed: " + error_class(e.what()), e.what()};
    }
    const std::lock_guard<std::mutex> lock(mutex);
    instructions += size;
    largest = std::max<std::uint64_t>(largest, size);
    for (OpKind op : seen) ++op_programs[op];
    if (f.comparison.kind.starts_with("generator failed")) ++errors_generating;
    if (!f.comparison.agree()) {
      // Printed at once, so a run cut short by a time limit still names its failing seeds.
      const std::string& detail = f.comparison.detail;
      std::cerr << "metaltile_fuzz: seed " << seed << ": " << f.comparison.kind << ": "
                << detail.substr(0, detail.find('\n')) << "\n";
      failures.push_back(std::move(f));
    }
    if (++done % 1000 == 0) {
      std::cerr << "metaltile_fuzz: " << done << " / " << o.count << " programs, "
                << failures.size() << " failures\n";
    }
  });
  std::sort(failures.begin(), failures.end(),
            [](const Failure& a, const Failure& b) { return a.seed < b.seed; });
  const double check_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Minimise the first failure of each kind, then further ones, up to o.minimise.
  std::map<std::string, std::uint64_t> by_kind;
  std::vector<const Failure*> chosen;
  for (const Failure& f : failures) {
    if (by_kind[f.comparison.kind]++ == 0 && static_cast<int>(chosen.size()) < o.minimise) {
      chosen.push_back(&f);
    }
  }
  for (const Failure& f : failures) {
    if (static_cast<int>(chosen.size()) >= o.minimise) break;
    if (std::find(chosen.begin(), chosen.end(), &f) == chosen.end()) chosen.push_back(&f);
  }
  std::vector<std::string> reports(chosen.size());
  parallel_for(chosen.size(), o.jobs, [&](std::uint64_t i) {
    const Failure& f = *chosen[i];
    const auto check = [&](const FuzzProgram& p) { return checker.check(p); };
    try {
      const FuzzProgram p = generate(f.seed, gen);
      MinimiseStats stats;
      const FuzzProgram small =
          minimise_finding(p, f.comparison.kind, check, o.minimise_tries, &stats);
      const Comparison small_c = checker.check(small);
      reports[i] = finding_report(p, f.comparison, &small, &small_c) + "(minimised in " +
                   std::to_string(stats.tries) + " tries)\n";
    } catch (const std::exception& e) {
      reports[i] = "=== " + f.comparison.kind + " ===\nseed " + std::to_string(f.seed) + ": " +
                   f.comparison.detail + "\n(" + e.what() + ")\n";
    }
  });
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ostringstream r;
  r << "metaltile_fuzz report\n"
    << "backend: " << o.backend << " (" << checker.description() << ")\n"
    << "profile: " << o.profile << "; seeds " << o.seed << ".." << o.seed + o.count - 1 << "; jobs "
    << o.jobs << "\n"
    << "programs: " << o.count << " (instructions: " << instructions << " in all, mean "
    << (o.count ? instructions / o.count : 0) << ", largest " << largest << ")\n"
    << "time: " << check_s << " s checking, " << total_s - check_s << " s minimising\n"
    << "failures: " << failures.size() << "\n";
  for (const auto& [kind, n] : by_kind) r << "  " << n << " x " << kind << "\n";
  if (!failures.empty()) {
    r << "failing seeds:";
    for (std::size_t i = 0; i < failures.size() && i < 200; ++i) r << " " << failures[i].seed;
    r << (failures.size() > 200 ? " ...\n" : "\n");
  }
  r << "programs containing each op:\n";
  for (const auto& [op, n] : op_programs) r << "  " << op_name(op) << " " << n << "\n";
  for (const std::string& report : reports) r << "\n" << report;

  std::cout << r.str();
  if (!o.out.empty()) {
    std::ofstream file(o.out);
    file << r.str();
    if (!file) {
      std::cerr << "metaltile_fuzz: cannot write " << o.out << "\n";
      return 2;
    }
  }
  return failures.empty() && errors_generating == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mt::fuzz

int main(int argc, char** argv) {
  mt::fuzz::Options options;
  try {
    options = mt::fuzz::parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "metaltile_fuzz: " << e.what() << "\n" << mt::fuzz::kUsage;
    return 2;
  }
  if (options.help) {
    std::cout << mt::fuzz::kUsage;
    return 0;
  }
  try {
    return mt::fuzz::fuzz(options);
  } catch (const std::exception& e) {
    std::cerr << "metaltile_fuzz: " << e.what() << "\n";
    return 2;
  }
}
