// metaltile_bench [--quick] [--runs N] [--out PATH.json|PATH.csv]: compile times, host time per
// launch and KV-cache dequant bandwidth against the copy roofline, on the default backend (CUDA
// when a GPU is usable, else the interpreter; MT_BACKEND overrides). On CUDA every measurement
// runs checked and unchecked. Device timings are medians of max(--runs, 50) runs (3 when quick).
// Exit status 1 if a result failed validation or a step failed.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "bench.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"

namespace mt::bench {
namespace {

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if ((a == "--out" || a == "--runs") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (a == "--out") {
        o.out = value;
      } else {
        o.runs = std::atoi(value.c_str());
        if (o.runs < 1) throw Error("metaltile_bench: --runs needs a positive count");
      }
    } else {
      throw Error("metaltile_bench: unknown argument '" + a +
                  "' (usage: metaltile_bench [--quick] [--runs N] [--out PATH.json|PATH.csv])");
    }
  }
  return o;
}

Setup make_setup(const Options& options) {
  Setup s;
  s.options = options;
  const char* forced = std::getenv("MT_BACKEND");
  const std::string choice = forced != nullptr ? forced : "";
  std::string why;
  if (choice != "cpu") {
    try {
      CudaOptions checked = cuda_options_from_env(), unchecked = checked;
      checked.checked = true;
      unchecked.checked = false;
      std::shared_ptr<KernelBackend> a = make_cuda_backend(checked),
                                     b = make_cuda_backend(unchecked);
      s.cuda = true;
      s.targets.push_back({"checked", a, Context(a)});
      s.targets.push_back({"unchecked", b, Context(b)});
    } catch (const Error& e) {
      if (choice == "cuda") throw;
      why = e.what();
    }
  }
  if (!s.cuda) {
    std::shared_ptr<KernelBackend> cpu = make_cpu_backend();
    s.targets.push_back({"interpreter", cpu, Context(cpu)});
    if (!s.options.quick) {
      std::cout << "metaltile_bench: the CPU interpreter runs the --quick shapes only\n";
      s.options.quick = true;
    }
    if (!why.empty()) std::cout << "metaltile_bench: cuda unavailable: " << why << "\n";
  }
  // Medians of at least 50 runs on a device; a few when quick.
  s.options.runs = s.options.quick ? std::min(s.options.runs, 3) : std::max(s.options.runs, 50);
  s.device = s.targets.front().ctx.description();
  return s;
}

}  // namespace
}  // namespace mt::bench

int main(int argc, char** argv) {
  using namespace mt::bench;
  try {
    const Setup setup = make_setup(parse(argc, argv));
    std::cout << "metaltile_bench on " << setup.device << std::endl;
    Report report;
    bool ok = true;
    const auto step = [&](const char* what, const std::function<void()>& run) {
      try {
        run();
      } catch (const mt::Error& e) {
        ok = false;
        report.add({what, "FAILED", "-", 0.0, "", e.what()});
        std::cerr << "metaltile_bench: " << what << ": " << e.what() << std::endl;
      }
    };
    step("compile", [&] { measure_compile(setup, report); });
    step("launch", [&] { measure_launch(setup, report); });
    step("dequant", [&] { ok = measure_dequant(setup, report) && ok; });
    report.print(setup);
    if (!setup.options.out.empty()) {
      report.write(setup, setup.options.out);
      std::cout << "wrote " << setup.options.out << std::endl;
    }
    return ok ? 0 : 1;
  } catch (const mt::Error& e) {
    std::cerr << "metaltile_bench: " << e.what() << std::endl;
    return 1;
  }
}
