// Sorting (key, index) entries in registers for the sampling kernels: a lane's own few entries by
// a fixed comparator network, and a warp's 32 entries (one a lane) by shuffles. Neither needs
// threadgroup memory or barriers, which is what makes them cheap next to the threadgroup bitonic
// sort of sampling_math.hpp. Order as ranks_before: the larger key, then the lower index, first.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "sampling_math.hpp"

namespace mt::kernels::ffai::sampling {

// A ranked logit: its order key and token id.
struct Entry {
  Val key, idx;
};

// The better and the worse of two entries.
inline Entry better_of(const Entry& a, const Entry& b) {
  Val b_first = ranks_before(b.key, b.idx, a.key, a.idx);
  return Entry{select(b_first, b.key, a.key), select(b_first, b.idx, a.idx)};
}
inline Entry worse_of(const Entry& a, const Entry& b) {
  Val b_first = ranks_before(b.key, b.idx, a.key, a.idx);
  return Entry{select(b_first, a.key, b.key), select(b_first, a.idx, b.idx)};
}

// The comparators of Batcher's odd-even merge sort of n entries (n a power of two), in order:
// after (a, b) the better of the two is at a (a < b). 19 for n = 8.
inline std::vector<std::pair<std::uint32_t, std::uint32_t>> odd_even_merge_network(
    std::uint32_t n) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  for (std::uint32_t p = 1; p < n; p *= 2) {
    for (std::uint32_t k = p; k >= 1; k /= 2) {
      for (std::uint32_t j = k % p; j + k < n; j += 2 * k) {
        for (std::uint32_t i = 0; i < k && i + j + k < n; ++i) {
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) pairs.emplace_back(i + j, i + j + k);
        }
      }
    }
  }
  return pairs;
}

// Sorts a lane's entries (a power of two of them) best first.
inline void sort_lane_entries(std::vector<Entry>& e) {
  for (auto [a, b] : odd_even_merge_network(static_cast<std::uint32_t>(e.size()))) {
    Entry better = better_of(e[a], e[b]), worse = worse_of(e[a], e[b]);
    e[a] = better;
    e[b] = worse;
  }
}

// One compare-exchange of a warp-wide sort: the lane and lane ^ mask swap entries so that the
// lower of the two lanes (the one whose bit `high_bit` of mask is clear) keeps the better one.
inline Entry exchange_with(const Entry& own, std::uint32_t mask, std::uint32_t high_bit) {
  Val lane = lane_id();
  Entry other{warp_shuffle_xor(own.key, mask), warp_shuffle_xor(own.idx, mask)};
  Val lower = (lane & high_bit) == 0u;
  // The upper lane takes the other entry when it is not better: equal entries (only the empty
  // padding ones can be) are the same either way.
  Val take = lower == ranks_before(other.key, other.idx, own.key, own.idx);
  return Entry{select(take, other.key, own.key), select(take, other.idx, own.idx)};
}

// Sorts the warp's 32 entries (one a lane) best first across lanes, given that every aligned
// block of `sorted_run` lanes (a power of two, known only at run time) is sorted already: merges
// blocks of 2, 4, ... 32, skipping the sizes the runs already are. A merge of two sorted halves
// pairs entry i with the partner's last-but-i (lane ^ (size - 1)), then half-cleaners sort each
// half. Every lane of the warp must take part.
inline Entry warp_merge_sorted_runs(const Entry& own, const Val& sorted_run) {
  Var key = own.key, idx = own.idx;
  for (std::uint32_t size = 2; size <= 32; size *= 2) {
    if_(sorted_run < size, [&] {
      Entry e = exchange_with(Entry{key, idx}, size - 1, size / 2);
      for (std::uint32_t half = size / 4; half >= 1; half /= 2) e = exchange_with(e, half, half);
      key = e.key;
      idx = e.idx;
    });
  }
  return Entry{key, idx};
}

}  // namespace mt::kernels::ffai::sampling
