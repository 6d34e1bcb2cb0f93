// What `tile bench` measures with: the backend under test, device-side filling of benchmark
// inputs, event timing of launches (median and spread after warm-up), the device-to-device
// copy bandwidth of the same run, and one registered kernel at one BenchCase.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"

namespace mt::tile::bench {

struct Target {
  std::string backend;  // "cuda" or "cpu"
  std::string variant;  // "unchecked", "checked" (CUDA) or "interpreter"
  std::string device;   // the backend's description
  std::shared_ptr<KernelBackend> kernel_backend;
  Context ctx;
  bool gpu = false;
};

// CUDA when a GPU is usable (MT_BACKEND=cpu|cuda overrides), checked or not; else the CPU
// interpreter.
Target make_target(bool checked);

struct Timing {
  double median_us = 0.0, p10_us = 0.0, p90_us = 0.0;
  int runs = 0;
  // Half the 10-90 % range over the median: the run-to-run noise, as a fraction.
  double spread() const { return median_us > 0 ? (p90_us - p10_us) / (2.0 * median_us) : 0.0; }
};

struct Settings {
  int warm_up = 3;
  int runs = 50;
  bool rotate = true;  // rotate among copies of the inputs when they would fit in the L2 cache
  // Time replays of a captured graph of several launches (on a GPU) rather than single launches:
  // the host's work per launch (binding checks, several microseconds) would otherwise count as
  // device time for any kernel shorter than it, the decode shapes among them.
  bool graph = true;
  ConstMap specialise;  // scalars to bake into the code (applied where the kernel has them)
};

// Times `launch(i)` (i counts from 0) `runs` times with events on `stream`, after warm-up.
Timing time_launches(const Target& t, const Stream& stream, const Settings& s,
                     const std::function<void(int)>& launch);

// Device-to-device copy bandwidth in GB/s, counting bytes read and written (1 GiB on a GPU,
// 16 MiB on the CPU).
double measure_copy_gbps(const Target& t, const Settings& s);

struct CaseResult {
  const KernelInfo* info = nullptr;
  BenchCase bench;
  Timing timing;
  double bytes = 0.0;      // bytes moved: the case's count, or every tensor's whole size
  int input_sets = 1;      // copies of the inputs rotated through
  int graph_launches = 1;  // launches per timed graph replay (1: single launches, no graph)
};

// Fills the inputs on the device (BenchFill rules), runs the kernel by name with a
// KernelRunner, and times it.
CaseResult measure_case(const Target& t, const KernelInfo& info, const BenchCase& c,
                        const Settings& s);

// Every tensor's whole size in bytes for a case (inputs and outputs, dtype from the kernel).
double tensor_bytes(const KernelInfo& info, const BenchCase& c);

}  // namespace mt::tile::bench
