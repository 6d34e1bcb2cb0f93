// Token embedding lookup: one thread per 16-byte vector of out (one per element when dim is not
// a multiple of the vector width), threads of a row consecutive, so a warp reads 512
// contiguous bytes of the table row.
//
// Bad ids: a row whose id is >= V is neither read nor written. Instead its threads load
// ids[max(id, len(ids))], an index past the end of ids whose value is discarded: checked mode
// guards that load and reports it (kernel 'embedding', param 'ids', the bad id as the index),
// the interpreter too; an unchecked build has no guard and drops the unused load, so nothing
// out of bounds is touched.
//
// Contracts: a 1-D launch; table holds whole rows and out exactly len(ids) rows. Contract
// products cannot wrap, so t*dim + c < len(out) and id*dim + c < len(table) (id < V) fit u32.
#include "metaltile/kernels/ffai/embedding.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

namespace mt::kernels::ffai::embedding {
namespace {

constexpr DType U32 = DType::U32;

std::uint32_t vector_lanes(DType t) { return static_cast<std::uint32_t>(16 / size_of(t)); }

void build_embedding(KernelBuilder& k, DType T) {
  Tensor ids = k.input("ids", U32), table = k.input("table", T);
  Tensor out = k.output("out", T);
  Val dim = k.scalar_u32("dim");
  require_1d_launch(k);
  k.require(dim > 0u, "dim > 0");
  k.require_len_multiple(table, dim, "dim (whole rows)");
  k.require_len(out, ids.len() * dim, "len(ids)*dim");

  const std::uint32_t lanes = vector_lanes(T);
  Val vocab = table.len() / dim;
  Val vectorised = dim % lanes == 0u;
  // Work items per row: vectors, or elements when dim is not a multiple of the width.
  Val per_row = select(vectorised, dim / lanes, dim);
  Val tid = program_id(0);
  Val t = tid / per_row, c = tid - t * per_row;
  if_(t < ids.len(), [&] {
    Val id = ids[t];
    if_(id < vocab, [&] {
      if_(vectorised, [&] {
        ArrayRef v = load_vector(table, id * dim + c * lanes, lanes);
        store_vector(out, t * dim + c * lanes, v, lanes);
      }).else_([&] { out[t * dim + c] = table[id * dim + c]; });
    }).else_([&] {
      // The probe described at the top: fails in checked mode, dropped when unchecked.
      ids.load(max(id, ids.len()));
    });
  });
}

}  // namespace

KernelInfo embedding::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_embedding,
      .doc = {.summary = "token embedding lookup: copy the table row of each id",
              .formula = "out[t, d] = table[ids[t], d] (bit-exact); V = len(table) / dim",
              .buffers = {{"ids",
                           "[T] u32: token ids, each < V (checked mode reports one that "
                           "is not, naming ids)"},
                          {"table", "[V, dim] T: the embedding table"},
                          {"out", "[T, dim] T"}},
              .scalars = {{"dim",
                           "u32: embedding width (> 0; len(table) is a whole number of rows)"}},
              .geometry = "one thread per 16-byte vector of out (per element when dim is not a "
                          "multiple of the vector width), 256 a group"},
      .geometry =
          [](const LaunchShape& s) {
            const std::size_t dim = s.u32("dim"), lanes = vector_lanes(s.dtype());
            const std::size_t per_row = dim % lanes == 0 ? dim / lanes : dim;
            return geometry::threads_1d(s.elements("ids") * per_row);
          },
      .bench =
          [](BenchScale scale) {
            struct Shape {
              std::size_t tokens, vocab, dim;
            };
            const bool full = scale == BenchScale::Full;
            // Llama 3 8B: V = 128256, dim = 4096; a prefill of 4096 tokens, a batch of 64
            // decode tokens and one token.
            const std::vector<Shape> shapes = full ? std::vector<Shape>{{4096, 128256, 4096},
                                                                        {64, 128256, 4096},
                                                                        {1, 128256, 4096}}
                                                   : std::vector<Shape>{{5, 64, 24}};
            const DType t = full ? DType::BF16 : DType::F32;
            std::vector<BenchCase> cases;
            for (const Shape& s : shapes) {
              BenchCase b{"T" + std::to_string(s.tokens) + " V" + std::to_string(s.vocab) + " D" +
                              std::to_string(s.dim),
                          t,
                          {},
                          {},
                          {},
                          0.0,
                          0.0};
              b.elements = {
                  {"ids", s.tokens}, {"table", s.vocab * s.dim}, {"out", s.tokens * s.dim}};
              b.scalars = {{"dim", std::uint32_t(s.dim)}};
              b.fills = {{"ids", BenchFill::below(std::uint32_t(s.vocab))}};
              // Each id read once, its row read once, out written once.
              b.bytes = 4.0 * s.tokens + 2.0 * double(s.tokens * s.dim * size_of(t));
              cases.push_back(b);
            }
            return cases;
          },
  };
}

}  // namespace mt::kernels::ffai::embedding
