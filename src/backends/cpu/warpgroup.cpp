// Warpgroup MMA of the lockstep interpreter (see warpgroup.hpp).
#include "backends/cpu/warpgroup.hpp"

#include <string>

#include "backends/cpu/checks.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt::cpu {

void Warpgroups::reset(const Kernel& k, std::size_t lanes) {
  states_.assign((lanes + kWarpgroupSize - 1) / kWarpgroupSize, State{});
  accumulator_.assign(k.arrays.size(), false);
  for_each_instr(k.body, [&](const Instr& in) {
    if (in.op == OpKind::WarpgroupMma) accumulator_[in.fragments[0].array.index] = true;
  });
}

void Warpgroups::begin_group() {
  for (State& s : states_) s = State{};
}

void Warpgroups::end_group(const MatrixContext& m) {
  for (std::size_t w = 0; w < states_.size(); ++w) {
    const State& s = states_[w];
    if (s.open.empty() && s.groups.empty()) continue;
    throw thread_error(m.kernel, *s.last,
                       "warpgroup " + std::to_string(w) + " ends with warpgroup_mma in flight (" +
                           quantity(s.groups.size(), "committed group") +
                           (s.open.empty() ? "" : " and MMAs not committed") +
                           "): warpgroup_commit and warpgroup_wait(0) before reading or exiting",
                       m.where, static_cast<Lane>(w * kWarpgroupSize));
  }
}

template <class F>
void Warpgroups::for_each_warpgroup(const MatrixContext& m, const Instr& in, ActiveLanes active,
                                    F f) {
  check_warp_converged(m.kernel, in, active, m.group_lanes, m.where);
  std::size_t begin = 0;
  while (begin < active.size()) {
    const std::size_t w = active[begin] / kWarpgroupSize;
    std::size_t end = begin + 1;
    while (end < active.size() && active[end] / kWarpgroupSize == w) ++end;
    if (end - begin != kWarpgroupSize) {
      throw thread_error(m.kernel, in,
                         std::string(op_name(in.op)) +
                             " needs a whole warpgroup of 128 threads (4 warps from a multiple "
                             "of 128); warpgroup " +
                             std::to_string(w) + " has " + quantity(end - begin, "thread"),
                         m.where, active[begin]);
    }
    f(w, active[begin]);
    begin = end;
  }
}

void Warpgroups::note_access(const Instr& in, ActiveLanes active) {
  if (!accumulator_[in.array.index]) return;
  for (Lane lane : active) states_[lane / kWarpgroupSize].fenced = false;
}

void Warpgroups::fence(const MatrixContext& m, const Instr& in, ActiveLanes active) {
  for_each_warpgroup(m, in, active, [&](std::size_t w, Lane) { states_[w].fenced = true; });
}

void Warpgroups::commit(const MatrixContext& m, const Instr& in, ActiveLanes active) {
  for_each_warpgroup(m, in, active, [&](std::size_t w, Lane) {
    State& s = states_[w];
    s.groups.push_back(std::move(s.open));
    s.open.clear();
  });
}

void Warpgroups::retire(ArrayMemory& arrays, Lane first, std::vector<InFlight>& group) {
  for (const InFlight& f : group) {
    for (Lane t = 0; t < kWarpgroupSize; ++t) {
      for (std::uint32_t e = 0; e < f.size; ++e) {
        arrays.mark_in_flight_register(f.d.array, f.d.offset + e, first + t, false);
      }
    }
    for (const auto& [array, element] : f.reads) arrays.mark_in_flight_read(array, element, -1);
  }
}

void Warpgroups::wait(const MatrixContext& m, const Instr& in, ActiveLanes active) {
  for_each_warpgroup(m, in, active, [&](std::size_t w, Lane first) {
    State& s = states_[w];
    while (s.groups.size() > in.lanes) {
      retire(m.arrays, first, s.groups.front());
      s.groups.pop_front();
    }
  });
}

void Warpgroups::mma(const MatrixContext& m, const Instr& in, ActiveLanes active,
                     const Scalar* a_start, const Scalar* b_start) {
  const Kernel& k = m.kernel;
  const SharedMatrix &ma = in.matrices[0], &mb = in.matrices[1];
  const DType input = k.array(ma.array).dtype;
  const std::uint32_t esize = static_cast<std::uint32_t>(size_of(input));
  const std::uint32_t n = in.lanes, size = warpgroup_accumulator_size(n);
  const FragmentRef& d = in.fragments[0];
  for_each_warpgroup(m, in, active, [&](std::size_t w, Lane first) {
    State& s = states_[w];
    if (!s.fenced) {
      throw thread_error(k, in,
                         "warpgroup " + std::to_string(w) +
                             " issues warpgroup_mma with no warpgroup_fence since it last "
                             "accessed an accumulator (or before its first MMA)",
                         m.where, first);
    }
    InFlight flight{d, size, {}};
    // Gathers one operand: rows x 16 elements, as its layout addresses them.
    const auto gather = [&](const SharedMatrix& layout, const Scalar* start, std::uint32_t rows,
                            std::string_view role) {
      const std::int64_t begin = start[first].i;
      for (Lane t = first; t < first + kWarpgroupSize; ++t) {
        if (start[t].i != begin) {
          throw thread_error(k, in,
                             "operand " + std::string(role) + " starts at " +
                                 std::to_string(start[t].i) + " here but at " +
                                 std::to_string(begin) +
                                 " in the warpgroup's first thread (one descriptor per "
                                 "warpgroup)",
                             m.where, t);
        }
      }
      const std::int64_t start_byte = begin * esize;
      if (std::string p = shared_matrix_start_problem(layout, start_byte, esize); !p.empty()) {
        throw thread_error(
            k, in, "operand " + std::string(role) + " in '" + k.array(layout.array).name + "' " + p,
            m.where, first);
      }
      std::vector<double> out(std::size_t{rows} * kWarpgroupK);
      for (std::uint32_t r = 0; r < rows; ++r) {
        for (std::uint32_t c = 0; c < kWarpgroupK; ++c) {
          const std::int64_t element =
              shared_matrix_byte(layout, static_cast<std::uint32_t>(start_byte), esize, r, c) /
              esize;
          out[r * kWarpgroupK + c] =
              m.arrays.read_shared(in, layout.array, element, first, m.where).f;
          Lane writer = 0;
          if (!m.arrays.fenced_for_async(layout.array, element, writer)) {
            throw thread_error(k, in,
                               "operand " + std::string(role) + " reads '" +
                                   k.array(layout.array).name + "'[" + std::to_string(element) +
                                   "], which thread " + std::to_string(writer) +
                                   " wrote (a store or cp.async) with no fence_async_shared "
                                   "since: the MMA's asynchronous reads may not see it",
                               m.where, first);
          }
          flight.reads.emplace_back(layout.array, element);
        }
      }
      return out;
    };
    const std::vector<double> a = gather(ma, a_start, kWarpgroupM, "A");
    const std::vector<double> b = gather(mb, b_start, n, "B");
    for (Lane t = 0; t < kWarpgroupSize; ++t) {
      for (std::uint32_t e = 0; e < size; ++e) {
        const MatrixCoord at = warpgroup_accumulator_coord(t, e);
        // Products of f16 or bf16 values are exact in f64 and so is their sum: one rounding.
        double sum = m.arrays.read_accumulator(in, d.array, d.offset + e, first + t, m.where).f;
        for (std::uint32_t i = 0; i < kWarpgroupK; ++i) {
          sum += a[at.row * kWarpgroupK + i] * b[at.col * kWarpgroupK + i];
        }
        m.arrays.write_accumulator(d.array, d.offset + e, first + t,
                                   Scalar::of_float(static_cast<float>(sum)));
        m.arrays.mark_in_flight_register(d.array, d.offset + e, first + t, true);
      }
    }
    for (const auto& [array, element] : flight.reads)
      m.arrays.mark_in_flight_read(array, element, 1);
    s.open.push_back(std::move(flight));
    s.last = &in;
  });
}

}  // namespace mt::cpu
