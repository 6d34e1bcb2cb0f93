// Threadgroup and per-thread arrays with threadgroup and warp barriers, global and threadgroup
// atomics, and 8- and 16-byte vector loads and stores, traced with the DSL and run through
// mt::Context on every available backend against plain C++ oracles; and the run-time errors
// (misaligned vector index, array index out of range), each followed by a good dispatch.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/threadgroup_helpers.hpp"
#include "support/backends.hpp"

namespace mt::test::tg {
namespace {

// Floats: multiples of 1/4 in [-4, 4] (exact in every float type); integers: -50 .. 50 (u32:
// 0 .. 100).
std::vector<double> small_values(DType t, std::size_t n, std::mt19937& rng) {
  std::vector<double> v(n);
  for (double& x : v) {
    const int k = static_cast<int>(rng() % 101);
    x = t == DType::U32 ? k : is_int(t) ? k - 50 : (k % 33 - 16) * 0.25;
  }
  return v;
}

// --- threadgroup and per-thread arrays -----------------------------------------------------

// tile: each thread stores its x, and after a barrier reads the group's reverse; after another
// barrier each stores its y and reads element (7 t + 3) % n. pair: stored, then read by the
// partner lane t ^ 1 after a warp barrier only (the partner is in the same warp; a missing
// partner reads its own). mine: per-thread, 4 elements written in a loop and read at indices
// computed per thread and at a constant.
Kernel arrays_kernel(DType t, bool size_from_scalar) {
  const std::string name = "tg_arrays_" + type_text(t) + (size_from_scalar ? "_sized" : "");
  return trace(name, KernelMode::Reduction, [&](KernelBuilder& b) {
    const Tensor x = b.input("x", t);
    const Tensor y = b.input("y", t);
    const Val tid = linear_thread(), n = group_size(), i = global_thread();
    const ArrayRef tile = size_from_scalar ? b.threadgroup_array("tile", t, b.scalar_u32("cap"))
                                           : b.threadgroup_array("tile", t, 1024);
    tile[tid] = x[i];
    barrier();
    b.output("reversed", t)[i] = tile[(n - 1u) - tid];
    barrier();
    tile[tid] = y[i];
    barrier();
    b.output("gathered", t)[i] = tile[(tid * 7u + 3u) % n];

    const ArrayRef pair = b.threadgroup_array("pair", t, 1024);
    pair[tid] = x[i];
    warp_barrier();
    const Val partner = tid ^ 1u;
    b.output("swapped", t)[i] = pair[select(partner < n, partner, tid)];

    const ArrayRef mine = b.thread_array("mine", t, 4);
    for (Val j : range(u32(4))) mine[j] = select(j == tid % 4u, y[i], x[i] + j.to(t));
    b.output("next", t)[i] = mine[(tid + 1u) % 4u];
    b.output("own", t)[i] = mine[tid % 4u];
    b.output("third", t)[i] = mine[3u];
  });
}

TEST(ThreadgroupMemory, ThreadgroupAndThreadArraysAcrossBarriers) {
  const char* outputs[] = {"reversed", "gathered", "swapped", "next", "own", "third"};
  for_each_backend([&](Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U32}) {
      // f32 also takes its tile size from a specialised scalar.
      for (bool sized : {false, true}) {
        if (sized && t != DType::F32) continue;
        const Kernel k = arrays_kernel(t, sized);
        const ConstMap consts = sized ? ConstMap{{"cap", std::uint32_t{1024}}} : ConstMap{};
        std::mt19937 rng(505);
        for (const Shape& s : group_shapes()) {
          SCOPED_TRACE(type_text(t) + (sized ? " sized " : " ") + s.text());
          const std::size_t n = s.threads(), size = s.group();
          const std::vector<double> x = small_values(t, n, rng), y = small_values(t, n, rng);
          BufferMap b{{"x", encode(x, t)}, {"y", encode(y, t)}};
          std::map<std::string, std::vector<double>> want;
          for (const char* o : outputs) {
            b[o] = poisoned(n, t);
            want[o].resize(n);
          }
          for (std::size_t i = 0; i < n; ++i) {
            const std::size_t tid = i % size, base = i - tid;
            // mine[j] = y where j == tid % 4, else x + j.
            const auto mine = [&](std::size_t j) {
              return j == tid % 4 ? y[i] : in_type(x[i] + j, t);
            };
            want["reversed"][i] = x[base + size - 1 - tid];
            want["gathered"][i] = y[base + (tid * 7 + 3) % size];
            want["swapped"][i] = x[base + ((tid ^ 1) < size ? tid ^ 1 : tid)];
            want["next"][i] = mine((tid + 1) % 4);
            want["own"][i] = mine(tid % 4);
            want["third"][i] = mine(3);
          }
          const DispatchResult r = run(ctx, k, b, s, consts);
          for (const char* o : outputs) {
            SCOPED_TRACE(o);
            expect_exact(r, o, want[o], t);
          }
        }
      }
    }
  });
}

// --- atomics -------------------------------------------------------------------------------

using GlobalAtomic = Val (*)(const Tensor&, const Val&, const Val&);
using ArrayAtomic = Val (*)(const ArrayRef&, const Val&, const Val&);

struct AtomicOp {
  CombineOp combine;
  const char* name;
  GlobalAtomic global;
  ArrayAtomic array;
};

const AtomicOp kAtomicOps[] = {{CombineOp::Add, "add", atomic_add, atomic_add},
                               {CombineOp::Max, "max", atomic_max, atomic_max},
                               {CombineOp::Min, "min", atomic_min, atomic_min},
                               {CombineOp::And, "and", atomic_and, atomic_and},
                               {CombineOp::Or, "or", atomic_or, atomic_or},
                               {CombineOp::Xor, "xor", atomic_xor, atomic_xor}};

constexpr std::uint32_t kSharedBins = 64;

std::vector<AtomicOp> atomic_ops(DType t) {
  if (t == DType::F32) return {kAtomicOps[0]};
  return {std::begin(kAtomicOps), std::end(kAtomicOps)};
}

// For each op: old values of g_<op>[gkey] (a global output the host initialises) combined with
// gv_<op>; and of a threadgroup array s_<op> (initialised from sinit_<op>, then copied out to
// sfinal_<op> per group) at skey, combined with sv_<op>.
Kernel atomics_kernel(DType t) {
  return trace("tg_atomics_" + type_text(t), KernelMode::Reduction, [t](KernelBuilder& b) {
    const Tensor gkey = b.input("gkey", DType::U32);
    const Tensor skey = b.input("skey", DType::U32);
    const Val i = global_thread(), tid = linear_thread(), n = group_size();
    const std::vector<AtomicOp> ops = atomic_ops(t);
    std::vector<ArrayRef> bins;
    for (const AtomicOp& op : ops) {
      const std::string name = op.name;
      const Tensor acc = b.output("g_" + name, t);
      b.output("gold_" + name, t)[i] = op.global(acc, gkey[i], b.input("gv_" + name, t)[i]);
      bins.push_back(b.threadgroup_array("s_" + name, t, kSharedBins));
      const Tensor init = b.input("sinit_" + name, t);
      for (Val j : range(tid, u32(kSharedBins), n)) bins.back()[j] = init[j];
    }
    barrier();
    for (std::size_t o = 0; o < bins.size(); ++o) {
      const std::string name = ops[o].name;
      b.output("sold_" + name, t)[i] = ops[o].array(bins[o], skey[i], b.input("sv_" + name, t)[i]);
    }
    barrier();
    for (std::size_t o = 0; o < bins.size(); ++o) {
      const Tensor out = b.output("sfinal_" + std::string(ops[o].name), t);
      for (Val j : range(tid, u32(kSharedBins), n)) {
        out[linear_group() * kSharedBins + j] = bins[o][j];
      }
    }
  });
}

std::uint32_t bits(double x) { return static_cast<std::uint32_t>(static_cast<std::int64_t>(x)); }

double apply(CombineOp c, DType t, double a, double v) {
  switch (c) {
    case CombineOp::Add: return t == DType::F32 ? a + v : in_type(bits(a) + bits(v), t);
    case CombineOp::Max: return std::max(a, v);
    case CombineOp::Min: return std::min(a, v);
    case CombineOp::And: return in_type(bits(a) & bits(v), t);
    case CombineOp::Or: return in_type(bits(a) | bits(v), t);
    case CombineOp::Xor: return in_type(bits(a) ^ bits(v), t);
    default: break;
  }
  ADD_FAILURE() << "no atomic " << combine_name(c);
  return 0;
}

// Operands an atomic sees, chosen so the old values pin down an order of the updates (see
// expect_linearisable): add: 1..4 (sums only grow, no wrap); max, min: small with ties; and,
// or: clear or set at most two bits; xor: 1 << rank, rank distinct among a bin's updates.
double operand(CombineOp c, DType t, std::size_t rank, std::mt19937& rng) {
  const std::uint32_t two_bits = (1u << rng() % 32) | (1u << rng() % 32);
  switch (c) {
    case CombineOp::Add: return 1 + rng() % 4;
    case CombineOp::Max:
    case CombineOp::Min: return small_values(t, 1, rng)[0];
    case CombineOp::And: return in_type(~two_bits, t);
    case CombineOp::Or: return in_type(two_bits, t);
    case CombineOp::Xor: return in_type(1u << rank, t);
    default: return 0;
  }
}
double initial(CombineOp c, DType t, std::mt19937& rng) {
  switch (c) {
    case CombineOp::Add: return rng() % 10;
    case CombineOp::Max:
    case CombineOp::Min: return small_values(t, 1, rng)[0];
    case CombineOp::And: return in_type(rng() | rng(), t);
    case CombineOp::Or: return in_type(rng() & rng() & rng(), t);
    default: return in_type(rng(), t);
  }
}

// The updates (old value returned, operand) that hit one bin must be linearisable: some order
// of them, applied one at a time from `init`, hands each its old value and ends at `last`.
// The operands make that order recoverable by sorting: add grows the value, max/or never lower
// it and min/and never raise it (an update that changes nothing goes before the one that does
// among equal old values), and xor of distinct bits sets one more bit each time.
void expect_linearisable(CombineOp c, DType t, double init, double last,
                         std::vector<std::pair<double, double>> updates, const std::string& label) {
  const auto key = [&](const std::pair<double, double>& u) -> std::pair<double, double> {
    const auto [old, v] = u;
    switch (c) {
      case CombineOp::Max: return {old, v};
      case CombineOp::Min: return {-old, -v};
      case CombineOp::Or: return {bits(old), bits(old) | bits(v)};
      case CombineOp::And: return {-double(bits(old)), -double(bits(old) & bits(v))};
      case CombineOp::Xor: return {std::popcount(bits(old) ^ bits(init)), 0};
      default: return {old, 0};
    }
  };
  std::sort(updates.begin(), updates.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  double current = init;
  for (std::size_t u = 0; u < updates.size(); ++u) {
    if (updates[u].first != current) {
      ADD_FAILURE() << label << ": update " << u << " of " << updates.size() << " got old value "
                    << updates[u].first << ", which no order of the updates gives (expected "
                    << current << " from initial " << init << ")";
      return;
    }
    current = apply(c, t, current, updates[u].second);
  }
  EXPECT_EQ(current, last) << label << ": final value";
}

TEST(ThreadgroupMemory, GlobalAndThreadgroupAtomicsEveryCombine) {
  for_each_backend([&](Context& ctx) {
    for (DType t : {DType::I32, DType::U32, DType::F32}) {
      const Kernel k = atomics_kernel(t);
      std::mt19937 rng(606);
      for (const Shape& s : group_shapes()) {
        const std::size_t n = s.threads(), size = s.group();
        // Global bins take at most 32 updates each; shared bin j of a group gets threads
        // j, j + 64, ... (rank = thread / 64).
        const std::size_t gbins = std::max<std::size_t>(8, (n + 31) / 32);
        std::vector<double> gkey(n), skey(n);
        for (std::size_t i = 0; i < n; ++i) {
          gkey[i] = i % gbins;
          skey[i] = i % size % kSharedBins;
        }
        BufferMap b{{"gkey", encode(gkey, DType::U32)}, {"skey", encode(skey, DType::U32)}};
        struct Data {
          std::vector<double> ginit, gv, sinit, sv;
        };
        std::map<std::string, Data> data;
        for (const AtomicOp& op : atomic_ops(t)) {
          Data& d = data[op.name];
          for (std::size_t j = 0; j < gbins; ++j) d.ginit.push_back(initial(op.combine, t, rng));
          for (std::size_t j = 0; j < kSharedBins; ++j) {
            d.sinit.push_back(initial(op.combine, t, rng));
          }
          for (std::size_t i = 0; i < n; ++i) {
            d.gv.push_back(operand(op.combine, t, i / gbins, rng));
            d.sv.push_back(operand(op.combine, t, i % size / kSharedBins, rng));
          }
          const std::string name = op.name;
          b["g_" + name] = encode(d.ginit, t);
          b["gv_" + name] = encode(d.gv, t);
          b["sinit_" + name] = encode(d.sinit, t);
          b["sv_" + name] = encode(d.sv, t);
          b["gold_" + name] = poisoned(n, t);
          b["sold_" + name] = poisoned(n, t);
          b["sfinal_" + name] = poisoned(s.groups() * kSharedBins, t);
        }
        SCOPED_TRACE(type_text(t) + " " + s.text());
        const DispatchResult r = run(ctx, k, b, s);
        for (const AtomicOp& op : atomic_ops(t)) {
          SCOPED_TRACE(op.name);
          const Data& d = data[op.name];
          const std::string name = op.name;
          // Finals in thread order (every combine here is commutative and exact).
          std::vector<double> gfinal = d.ginit, sfinal;
          for (std::size_t i = 0; i < n; ++i) {
            double& bin = gfinal[static_cast<std::size_t>(gkey[i])];
            bin = apply(op.combine, t, bin, d.gv[i]);
          }
          for (std::size_t g = 0; g < s.groups(); ++g) {
            std::vector<double> bins = d.sinit;
            for (std::size_t i = g * size; i < (g + 1) * size; ++i) {
              double& bin = bins[static_cast<std::size_t>(skey[i])];
              bin = apply(op.combine, t, bin, d.sv[i]);
            }
            sfinal.insert(sfinal.end(), bins.begin(), bins.end());
          }
          expect_exact(r, "g_" + name, gfinal, t);
          expect_exact(r, "sfinal_" + name, sfinal, t);
          const std::vector<double> gold = decode(r.outputs.at("gold_" + name), t);
          const std::vector<double> sold = decode(r.outputs.at("sold_" + name), t);
          ASSERT_EQ(gold.size(), n);
          ASSERT_EQ(sold.size(), n);
          for (std::size_t bin = 0; bin < gbins; ++bin) {
            std::vector<std::pair<double, double>> updates;
            for (std::size_t i = bin; i < n; i += gbins) updates.emplace_back(gold[i], d.gv[i]);
            expect_linearisable(op.combine, t, d.ginit[bin], gfinal[bin], updates,
                                "global bin " + std::to_string(bin));
          }
          for (std::size_t g = 0; g < s.groups(); ++g) {
            for (std::size_t bin = 0; bin < std::min<std::size_t>(kSharedBins, size); ++bin) {
              std::vector<std::pair<double, double>> updates;
              for (std::size_t i = g * size + bin; i < (g + 1) * size; i += kSharedBins) {
                updates.emplace_back(sold[i], d.sv[i]);
              }
              expect_linearisable(op.combine, t, d.sinit[bin], sfinal[g * kSharedBins + bin],
                                  updates,
                                  "group " + std::to_string(g) + " bin " + std::to_string(bin));
            }
          }
        }
      }
    }
  });
}

// A histogram in global and in threadgroup memory: atomic_add of 1 counts each key, and each
// bin's old values are 0 .. count-1, each exactly once (no update lost or repeated).
TEST(ThreadgroupMemory, AtomicHistogramCountsAndOldValues) {
  constexpr std::uint32_t kBins = 16;
  const Kernel k = trace("tg_histogram", KernelMode::Reduction, [](KernelBuilder& b) {
    const Tensor key = b.input("key", DType::U32);
    const Tensor hist = b.output("hist", DType::U32);
    const Tensor group_hist = b.output("group_hist", DType::U32);
    const Val i = global_thread(), tid = linear_thread(), n = group_size();
    b.output("gold", DType::U32)[i] = atomic_add(hist, key[i], u32(1));
    const ArrayRef counts = b.threadgroup_array("counts", DType::U32, kBins);
    for (Val j : range(tid, u32(kBins), n)) counts[j] = u32(0);
    barrier();
    b.output("sold", DType::U32)[i] = atomic_add(counts, key[i], u32(1));
    barrier();
    for (Val j : range(tid, u32(kBins), n)) group_hist[linear_group() * kBins + j] = counts[j];
  });
  const std::vector<Shape> shapes{
      {{4, 1, 1}, {1024, 1, 1}}, {{3, 1, 1}, {100, 1, 1}}, {{2, 1, 1}, {7, 5, 3}}};
  for_each_backend([&](Context& ctx) {
    std::mt19937 rng(707);
    for (const Shape& s : shapes) {
      SCOPED_TRACE(s.text());
      const std::size_t n = s.threads(), size = s.group();
      std::vector<double> key(n), hist(kBins, 0.0), group_hist(s.groups() * kBins, 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        key[i] = rng() % kBins;
        hist[static_cast<std::size_t>(key[i])] += 1;
        group_hist[i / size * kBins + static_cast<std::size_t>(key[i])] += 1;
      }
      const BufferMap b{{"key", encode(key, DType::U32)},
                        {"hist", encode(std::vector<double>(kBins, 0.0), DType::U32)},
                        {"group_hist", poisoned(s.groups() * kBins, DType::U32)},
                        {"gold", poisoned(n, DType::U32)},
                        {"sold", poisoned(n, DType::U32)}};
      const DispatchResult r = run(ctx, k, b, s);
      expect_exact(r, "hist", hist, DType::U32);
      expect_exact(r, "group_hist", group_hist, DType::U32);
      const std::vector<double> gold = decode(r.outputs.at("gold"), DType::U32);
      const std::vector<double> sold = decode(r.outputs.at("sold"), DType::U32);
      ASSERT_EQ(gold.size(), n);
      ASSERT_EQ(sold.size(), n);
      std::map<std::size_t, std::vector<double>> olds;  // by (group, bin) or bin
      for (std::size_t i = 0; i < n; ++i) {
        const auto bin = static_cast<std::size_t>(key[i]);
        olds[bin].push_back(gold[i]);
        olds[kBins * (1 + i / size) + bin].push_back(sold[i]);
      }
      for (auto& [where, got] : olds) {
        std::sort(got.begin(), got.end());
        std::vector<double> want(got.size());
        for (std::size_t j = 0; j < want.size(); ++j) want[j] = static_cast<double>(j);
        EXPECT_EQ(got, want) << (where < kBins ? "global"
                                               : "group " + std::to_string(where / kBins - 1))
                             << " bin " << where % kBins << ": old values";
      }
    }
  });
}

// --- vector loads and stores ---------------------------------------------------------------

// The vector widths of t: 4 bytes (16-bit types: 2 lanes), 8 and 16.
std::vector<std::uint32_t> vector_widths(DType t) {
  if (size_of(t) == 2) return {4, 8, 16};
  return {8, 16};
}

// Per width: rotated<w> gets each thread's vector rotated by one lane (through a per-thread
// array), copy<w> the vector as loaded.
Kernel vector_kernel(DType t) {
  return trace("tg_vector_" + type_text(t), KernelMode::Reduction, [t](KernelBuilder& b) {
    const Val i = global_thread();
    for (std::uint32_t width : vector_widths(t)) {
      const std::uint32_t lanes = width / static_cast<std::uint32_t>(size_of(t));
      const std::string w = std::to_string(width);
      const Tensor in = b.input("in" + w, t);
      const Val at = i * lanes;
      const ArrayRef v = load_vector(in, at, lanes);
      const ArrayRef rotated = b.thread_array("rotated" + w, t, lanes);
      for (std::uint32_t j = 0; j < lanes; ++j) rotated[j] = v[(j + 1) % lanes];
      store_vector(b.output("rotated" + w, t), at, rotated, lanes);
      store_vector(b.output("copy" + w, t), at, v, lanes);
    }
  });
}

// Normal values of many magnitudes, or any 32 bits for u32.
std::vector<double> vector_values(DType t, std::size_t n, std::mt19937& rng) {
  std::vector<double> v(n);
  for (double& x : v) {
    if (t == DType::U32) {
      x = rng();
      continue;
    }
    const double mantissa = (rng() % 2 ? 1.0 : -1.0) * (1.0 + rng() % 1000 / 1000.0);
    x = in_type(std::ldexp(mantissa, static_cast<int>(rng() % 21) - 10), t);
  }
  return v;
}

TEST(ThreadgroupMemory, VectorLoadsAndStoresOf4And8And16Bytes) {
  for_each_backend([&](Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::U32}) {
      const Kernel k = vector_kernel(t);
      std::mt19937 rng(808);
      for (const Shape& s : group_shapes()) {
        SCOPED_TRACE(type_text(t) + " " + s.text());
        BufferMap b;
        std::map<std::string, std::vector<double>> want;
        for (std::size_t width : vector_widths(t)) {
          const std::size_t lanes = width / size_of(t), n = s.threads() * lanes;
          const std::string w = std::to_string(width);
          const std::vector<double> in = vector_values(t, n, rng);
          b["in" + w] = encode(in, t);
          b["rotated" + w] = poisoned(n, t);
          b["copy" + w] = poisoned(n, t);
          want["copy" + w] = in;
          for (std::size_t e = 0; e < n; ++e) {
            want["rotated" + w].push_back(in[e / lanes * lanes + (e % lanes + 1) % lanes]);
          }
        }
        const DispatchResult r = run(ctx, k, b, s);
        for (const auto& [name, expected] : want) {
          SCOPED_TRACE(name);
          expect_exact(r, name, expected, t);
        }
      }
    }
  });
}

// Vectors loaded at thread * lanes + load_offset and stored at thread * lanes + store_offset.
Kernel vector_offsets_kernel(DType t, std::uint32_t lanes) {
  return trace("tg_vector_offsets_" + type_text(t), KernelMode::Reduction, [=](KernelBuilder& b) {
    const Tensor in = b.input("in", t);
    const Tensor out = b.output("out", t);
    const Val at = global_thread() * lanes;
    const ArrayRef v = load_vector(in, at + b.scalar_u32("load_offset"), lanes);
    store_vector(out, at + b.scalar_u32("store_offset"), v, lanes);
  });
}

// A load or store index that is not a multiple of the lanes is an mt::Error naming the kernel
// and the param (the buffers have a spare vector, so no access is out of bounds); then the same
// context runs an aligned, offset load correctly and leaves the spare vector of `out` alone.
TEST(ThreadgroupMemory, MisalignedVectorIndexIsAnErrorThenAGoodDispatch) {
  const std::tuple<DType, std::uint32_t, std::uint32_t> cases[] = {{DType::F32, 4, 1},
                                                                   {DType::F16, 4, 2},
                                                                   {DType::BF16, 8, 4},
                                                                   {DType::U32, 2, 1},
                                                                   {DType::BF16, 2, 1}};
  const Shape s{{2, 1, 1}, {100, 1, 1}};
  for_each_backend([&](Context& ctx) {
    std::mt19937 rng(909);
    for (const auto& [t, lanes, offset] : cases) {
      const std::string name = "tg_vector_offsets_" + type_text(t);
      SCOPED_TRACE(name + " x" + std::to_string(lanes));
      const Kernel k = vector_offsets_kernel(t, lanes);
      const std::size_t n = (s.threads() + 1) * lanes;
      const std::vector<double> in = vector_values(t, n, rng);
      const auto buffers = [&](std::uint32_t load_offset, std::uint32_t store_offset) {
        return BufferMap{{"in", encode(in, t)},
                         {"out", poisoned(n, t)},
                         {"load_offset", le_bytes(load_offset)},
                         {"store_offset", le_bytes(store_offset)}};
      };
      const std::string multiple = " is not a multiple of " + std::to_string(lanes);
      const std::string load_error = error_of([&] { run(ctx, k, buffers(offset, 0), s); });
      expect_contains(load_error, "kernel '" + name + "': param 'in': vector access at index ");
      expect_contains(load_error, multiple);
      const std::string store_error = error_of([&] { run(ctx, k, buffers(0, offset), s); });
      expect_contains(store_error, "kernel '" + name + "': param 'out': vector access at index ");
      expect_contains(store_error, multiple);

      const DispatchResult r = run(ctx, k, buffers(lanes, 0), s);
      const Bytes& out = r.outputs.at("out");
      ASSERT_EQ(out.size(), n * size_of(t));
      const std::size_t stored = n - lanes;
      const Bytes head(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(stored * size_of(t)));
      expect_exact(head, "out", std::vector<double>(in.begin() + lanes, in.end()), t);
      const Bytes spare(out.begin() + static_cast<std::ptrdiff_t>(stored * size_of(t)), out.end());
      EXPECT_EQ(spare, poisoned(lanes, t)) << "the spare vector was written";
    }
  });
}

// --- array bounds --------------------------------------------------------------------------

// 64 threads, a threadgroup array of 64 and a per-thread array of 4, indexed with offsets.
Kernel bounds_kernel() {
  return trace("tg_bounds", KernelMode::Reduction, [](KernelBuilder& b) {
    const Tensor x = b.input("x", DType::F32);
    const Tensor out = b.output("out", DType::F32);
    const Val store_offset = b.scalar_u32("store_offset");
    const Val load_offset = b.scalar_u32("load_offset");
    const Val private_offset = b.scalar_u32("private_offset");
    const ArrayRef tile = b.threadgroup_array("tile", DType::F32, 64);
    const ArrayRef priv = b.thread_array("priv", DType::U32, 4);
    const Val tid = thread_id(0);
    tile[tid + store_offset] = x[tid];
    barrier();
    for (Val j : range(u32(4))) priv[j] = tid + j;
    out[tid] = tile[tid + load_offset] + priv[tid % 4u + private_offset].to(DType::F32);
  });
}

// An array index out of range is an mt::Error naming the kernel, the array, the op and the
// index (the threadgroup cases also the one thread that fails); then the same context runs the
// kernel in range correctly.
TEST(ThreadgroupMemory, ArrayIndexOutOfRangeIsAnErrorThenAGoodDispatch) {
  const Kernel k = bounds_kernel();
  const Shape s{{1, 1, 1}, {64, 1, 1}};
  std::vector<double> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 * static_cast<double>(i) - 7;
  const auto buffers = [&](std::uint32_t store, std::uint32_t load, std::uint32_t priv) {
    return BufferMap{{"x", encode(x, DType::F32)},
                     {"out", poisoned(64, DType::F32)},
                     {"store_offset", le_bytes(store)},
                     {"load_offset", le_bytes(load)},
                     {"private_offset", le_bytes(priv)}};
  };
  for_each_backend([&](Context& ctx) {
    const std::string store_error = error_of([&] { run(ctx, k, buffers(1, 0, 0), s); });
    expect_contains(store_error,
                    "kernel 'tg_bounds': array 'tile': array_store index 64 out of bounds (64 "
                    "elements) at thread (63,0,0) of threadgroup (0,0,0)");
    const std::string load_error = error_of([&] { run(ctx, k, buffers(0, 1, 0), s); });
    expect_contains(load_error,
                    "kernel 'tg_bounds': array 'tile': array_load index 64 out of bounds (64 "
                    "elements) at thread (63,0,0) of threadgroup (0,0,0)");
    const std::string private_error = error_of([&] { run(ctx, k, buffers(0, 0, 1), s); });
    expect_contains(private_error,
                    "kernel 'tg_bounds': array 'priv': array_load index 4 out of bounds (4 "
                    "elements) at thread (");

    std::vector<double> expected(64);
    for (std::size_t i = 0; i < 64; ++i) expected[i] = x[i] + static_cast<double>(i + i % 4);
    expect_exact(run(ctx, k, buffers(0, 0, 0), s), "out", expected, DType::F32);
  });
}

}  // namespace
}  // namespace mt::test::tg
