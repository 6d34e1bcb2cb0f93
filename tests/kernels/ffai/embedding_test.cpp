// embedding x {f32, f16, bf16} on every backend: each row of out is the table row of its id,
// bit for bit (dims that are and are not multiples of the vector width, repeated ids, the first
// and last row); an id >= V is an mt::Error naming the kernel and `ids` (and the id), after
// which the context still runs good launches; length contracts name kernel and buffer.
#include "metaltile/kernels/ffai/embedding.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::Bytes;
using mt::test::le_bytes;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct Lookup {
  std::uint32_t vocab = 1, dim = 1;
  std::vector<std::uint32_t> ids;
  std::string text() const {
    return "V" + std::to_string(vocab) + " D" + std::to_string(dim) + " T" +
           std::to_string(ids.size());
  }
};

mt::BufferMap buffers(const Lookup& l, DType t, const Bytes& table) {
  mt::BufferMap b;
  b["ids"] = mt::test::pack_u32(l.ids);
  b["table"] = table;
  b["out"] = mt::test::poisoned(l.ids.size() * l.dim, t);
  b["dim"] = le_bytes(l.dim);
  return b;
}

Bytes random_table(const Lookup& l, DType t, std::uint64_t seed) {
  return mt::test::pack(
      mt::test::rows::random_values(std::size_t{l.vocab} * l.dim, seed, t, -4.0f, 4.0f), t);
}

// The rows of `table` for the ids, byte for byte.
Bytes expected_rows(const Lookup& l, DType t, const Bytes& table) {
  const std::size_t row = std::size_t{l.dim} * mt::size_of(t);
  Bytes out(l.ids.size() * row);
  for (std::size_t i = 0; i < l.ids.size(); ++i) {
    std::memcpy(out.data() + i * row, table.data() + l.ids[i] * row, row);
  }
  return out;
}

std::vector<Lookup> lookups() {
  mt::test::rows::Rng rng(17);
  std::vector<Lookup> all;
  for (std::uint32_t dim : {1u, 3u, 4u, 8u, 24u, 100u, 256u}) {
    for (std::uint32_t vocab : {1u, 7u, 50u}) {
      for (std::size_t tokens : {1u, 5u, 17u}) {
        Lookup l{vocab, dim, {}};
        for (std::size_t i = 0; i < tokens; ++i) l.ids.push_back(rng.below(vocab));
        l.ids.front() = vocab - 1;                   // the last row
        if (tokens > 2) l.ids[1] = 0, l.ids[2] = 0;  // the first row, twice
        all.push_back(l);
      }
    }
  }
  return all;
}

TEST(Embedding, CopiesTheRowOfEachId) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const Lookup& l : lookups()) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + l.text());
        const Bytes table = random_table(l, t, l.dim * 31 + l.vocab);
        const mt::DispatchResult r = mt::kernels::run(ctx, "embedding", t, buffers(l, t, table));
        ASSERT_EQ(r.outputs.count("out"), 1u);
        EXPECT_EQ(r.outputs.at("out"), expected_rows(l, t, table));
      }
    }
  });
}

// Specialising dim (as a decode loop would) gives the same bits.
TEST(Embedding, SpecialisedDimGivesTheSameRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Lookup l{40, 64, {3, 39, 0, 7}};
    const Bytes table = random_table(l, t, 5);
    mt::BufferMap b = buffers(l, t, table);
    b.erase("dim");
    const mt::DispatchResult r = mt::kernels::run(ctx, "embedding", t, b, {{"dim", l.dim}});
    EXPECT_EQ(r.outputs.at("out"), expected_rows(l, t, table));
  });
}

TEST(Embedding, AnIdPastTheTableIsAnErrorNamingIds) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      SCOPED_TRACE(mt::name_of(t));
      const Lookup good{10, 16, {1, 9, 4}};
      const Bytes table = random_table(good, t, 8);
      for (std::uint32_t bad : {10u, 12345u, 0xFFFFFFFFu}) {
        Lookup l = good;
        l.ids[1] = bad;
        mt::test::expect_mentions(mt::test::error_of([&] {
                                    mt::kernels::run(ctx, "embedding", t, buffers(l, t, table));
                                  }),
                                  {"kernel 'embedding'", "param 'ids'", std::to_string(bad)});
      }
      // More tokens than rows: a bad id below len(ids) is reported too.
      Lookup many{2, 8, std::vector<std::uint32_t>(6, 1)};
      many.ids[4] = 3;
      mt::test::expect_mentions(mt::test::error_of([&] {
                                  mt::kernels::run(ctx, "embedding", t,
                                                   buffers(many, t, random_table(many, t, 2)));
                                }),
                                {"kernel 'embedding'", "param 'ids'"});
      const mt::DispatchResult r = mt::kernels::run(ctx, "embedding", t, buffers(good, t, table));
      EXPECT_EQ(r.outputs.at("out"), expected_rows(good, t, table));
    }
  });
}

TEST(Embedding, LengthErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F16;
    const Lookup l{6, 8, {0, 5, 2}};
    const Bytes table = random_table(l, t, 4);
    const mt::BufferMap good = buffers(l, t, table);
    auto error = [&](const std::function<void(mt::BufferMap&)>& spoil) {
      mt::BufferMap b = good;
      spoil(b);
      return mt::test::error_of([&] { mt::kernels::run(ctx, "embedding", t, b); });
    };
    mt::test::expect_mentions(error([](mt::BufferMap& b) { b["dim"] = le_bytes(0u); }),
                              {"kernel 'embedding'", "dim > 0"});
    // table [6, 8] = 48 elements: not whole rows of 7.
    mt::test::expect_length_error(error([](mt::BufferMap& b) { b["dim"] = le_bytes(7u); }),
                                  "embedding", "table", "a multiple of 7", 48);
    for (std::size_t n : {23u, 25u}) {
      mt::test::expect_length_error(
          error([&](mt::BufferMap& b) { b["out"] = mt::test::poisoned(n, t); }), "embedding", "out",
          "24", n);
    }
    // One id more than out has rows for: out is the buffer at fault, 24 of 32 elements.
    mt::test::expect_length_error(
        error([](mt::BufferMap& b) {
          b["ids"] = mt::test::pack_u32(std::vector<std::uint32_t>{0, 5, 2, 1});
        }),
        "embedding", "out", "32", 24);
    EXPECT_EQ(mt::kernels::run(ctx, "embedding", t, good).outputs.at("out"),
              expected_rows(l, t, table));
  });
}

}  // namespace
