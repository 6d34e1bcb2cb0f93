// The tile layer, lowered to fragments, matrix loads and asynchronous copies (dsl/matrix.hpp).
#include "metaltile/dsl/tile.hpp"

#include <algorithm>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/collectives.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

std::uint32_t chunk_elements(DType t) { return 16 / static_cast<std::uint32_t>(size_of(t)); }

// `base`, or `base`_1, _2, ... when an array of that name exists (a tile stored twice).
std::string fresh_array_name(const Kernel& k, const std::string& base) {
  const auto taken = [&](const std::string& name) {
    for (const Array& a : k.arrays) {
      if (a.name == name) return true;
    }
    return false;
  };
  std::string name = base;
  for (int i = 1; taken(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

}  // namespace

MatrixView matrix_view(const Tensor& t, const Val& rows, const Val& cols) {
  return MatrixView{t, rows, cols, cols};
}

SharedTiles::SharedTiles(std::string name, DType t, std::uint32_t rows, std::uint32_t cols,
                         std::uint32_t stages)
    : array_(KernelBuilder::current().threadgroup_array(name, t, rows * cols * stages)),
      rows_(rows),
      cols_(cols),
      stages_(stages) {
  const std::uint32_t chunks = cols / chunk_elements(t);
  if (cols % chunk_elements(t) != 0 || chunks == 0 || (chunks & (chunks - 1)) != 0 || rows == 0 ||
      stages == 0) {
    KernelBuilder::current().fail("shared tiles '" + name + "': " + std::to_string(rows) + " x " +
                                  std::to_string(cols) + " x " + std::to_string(stages) +
                                  ": rows must hold a power-of-two number of 16-byte chunks");
  }
}

Val SharedTiles::at(const Val& stage, const Val& row, const Val& col) const {
  return stage * (rows_ * cols_) + swizzle(row, col, cols_, dtype());
}

namespace {

// Chunk c (16 bytes) of the tile: row c / row_chunks, its place in the row c % row_chunks.
void copy_chunk(const SharedTiles& tiles, const Val& stage, const MatrixView& view, const Val& row0,
                const Val& col0, const Val& c, bool aligned) {
  const std::uint32_t chunk = chunk_elements(tiles.dtype());
  const std::uint32_t row_chunks = tiles.cols() / chunk;
  const Val r = c / row_chunks, col = c % row_chunks * chunk;
  const Val row = row0 + r, first = col0 + col;
  const Val dst = tiles.at(stage, r, col);
  if (aligned) {
    const Val valid = row < view.rows && first < view.cols;
    copy_async(tiles.array(), dst, view.tensor, select(valid, row * view.stride + first, 0u), chunk,
               valid);
    return;
  }
  for (std::uint32_t e = 0; e < chunk; ++e) {
    const Val valid = row < view.rows && first + e < view.cols;
    const Val value = view.tensor[select(valid, row * view.stride + first + e, 0u)];
    tiles.array()[dst + e] = select(valid, value, constant(tiles.dtype(), 0));
  }
}

}  // namespace

void copy_tile_async(const SharedTiles& tiles, const Val& stage, const MatrixView& view,
                     const Val& row0, const Val& col0, std::uint32_t threads, bool aligned) {
  KernelBuilder& k = tiles.array().builder();
  const std::uint32_t chunks = tiles.rows() * (tiles.cols() / chunk_elements(tiles.dtype()));
  if (threads == 0) k.fail("copy_tile_async: threads must be at least 1");
  const Val thread = thread_id(0);
  for (std::uint32_t i = 0; i * threads < chunks; ++i) {
    const Val c = thread + i * threads;
    if ((i + 1) * threads > chunks) {  // the last round: only some threads have a chunk
      if_(c < chunks, [&] { copy_chunk(tiles, stage, view, row0, col0, c, aligned); });
    } else {
      copy_chunk(tiles, stage, view, row0, col0, c, aligned);
    }
  }
}

AccumulatorTile::AccumulatorTile(std::string name, DType input, std::uint32_t rows,
                                 std::uint32_t cols)
    : name_(name),
      input_(input),
      rows_(rows),
      cols_(cols),
      acc_(mt::fragments(std::move(name), FragmentRole::Accumulator, input,
                         std::max(1u, rows / 16 * (cols / 8)))) {
  if (rows % 16 != 0 || cols % 8 != 0 || rows == 0 || cols == 0) {
    KernelBuilder::current().fail("accumulator tile '" + name_ + "': " + std::to_string(rows) +
                                  " x " + std::to_string(cols) + " is not a multiple of 16 x 8");
  }
  acc_.fill(constant(mma_accumulator_type(input), 0));
}

void AccumulatorTile::mma(const SharedTiles& a, const Val& a_stage, const Val& a_row0,
                          const SharedTiles& b, const Val& b_stage, const Val& b_row0) {
  const MmaShape shape = mma_shape(input_);
  if (a.cols() != b.cols()) {
    KernelBuilder::current().fail("mma of '" + name_ + "': tiles of " + std::to_string(a.cols()) +
                                  " and " + std::to_string(b.cols()) +
                                  " columns (k extents differ)");
  }
  const std::uint32_t half = shape.k / 2;  // one 16-byte chunk of a row
  const std::uint32_t m_tiles = rows_ / 16, n_tiles = cols_ / 8;
  const Fragments fa = mt::fragments(name_ + "_a", FragmentRole::A, input_, m_tiles);
  const Fragments fb = mt::fragments(name_ + "_b", FragmentRole::B, input_, n_tiles);
  const Val lane = lane_id();
  // Lanes 0-15 point at rows 0-15 of the k step's first half, lanes 16-31 of its second (A);
  // for B, lanes 0-7 and 8-15 at rows 0-7 of the two halves, and 16-31 the same for the next
  // 8 rows: one load of four matrices fills two B fragments.
  const bool pairs = n_tiles % 2 == 0;
  const Val a_row = a_row0 + lane % 16u, a_half = lane / 16u * half;
  const Val b_row = pairs ? b_row0 + lane / 16u * 8u + lane % 8u : b_row0 + lane % 8u;
  const Val b_half = lane / 8u % 2u * half;
  for (std::uint32_t ks = 0; ks < a.cols() / shape.k; ++ks) {
    for (std::uint32_t mi = 0; mi < m_tiles; ++mi) {
      load_matrix(fa[mi], a.array(), a.at(a_stage, a_row + mi * 16, a_half + ks * shape.k));
    }
    for (std::uint32_t ni = 0; ni < n_tiles; ni += pairs ? 2 : 1) {
      const Val at = b.at(b_stage, b_row + ni * 8, b_half + ks * shape.k);
      if (pairs) {
        load_matrix(fb, ni, 2, b.array(), at);
      } else {
        load_matrix(fb[ni], b.array(), at);
      }
    }
    for (std::uint32_t mi = 0; mi < m_tiles; ++mi) {
      for (std::uint32_t ni = 0; ni < n_tiles; ++ni) {
        mt::mma(at(mi, ni), fa[mi], fb[ni], at(mi, ni));
      }
    }
  }
}

void AccumulatorTile::mma(const MmaOperands& operands, std::uint32_t buffer) {
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
      mt::mma(at(mi, ni), operands.a(buffer, mi), operands.b(buffer, ni), at(mi, ni));
    }
  }
}

void AccumulatorTile::mma(const AccumulatorTile& p, const SharedTiles& b, const Val& stage,
                          const Val& b_row0) {
  const MmaShape shape = mma_shape(input_);
  if (p.input() != input_ || p.rows() != rows_ || p.cols() % shape.k != 0 || b.cols() != cols_ ||
      cols_ % 16 != 0 || size_of(input_) != 2) {
    KernelBuilder::current().fail("mma of '" + name_ + "' from registers of '" + p.name() +
                                  "': P must be " + std::to_string(rows_) + " x (a multiple of " +
                                  std::to_string(shape.k) + ") of the same 16-bit input, B " +
                                  std::to_string(cols_) + " columns (a multiple of 16)");
  }
  // Element e of an A fragment is element e_acc of accumulator fragment `half` (0: k columns
  // 0-7 of the step, 1: 8-15) for every lane: the layouts agree, which this checks.
  struct Source {
    std::uint32_t half, element;
  };
  std::vector<Source> sources;
  for (std::uint32_t e = 0; e < fragment_size(FragmentRole::A, input_); ++e) {
    const MatrixCoord a0 = fragment_coord(FragmentRole::A, input_, 0, e);
    Source s{a0.col / 8, 0};
    while (fragment_coord(FragmentRole::Accumulator, input_, 0, s.element).row != a0.row ||
           fragment_coord(FragmentRole::Accumulator, input_, 0, s.element).col != a0.col % 8) {
      ++s.element;
    }
    for (std::uint32_t lane = 0; lane < 32; ++lane) {
      const MatrixCoord a = fragment_coord(FragmentRole::A, input_, lane, e);
      const MatrixCoord c = fragment_coord(FragmentRole::Accumulator, input_, lane, s.element);
      MT_ASSERT(a.row == c.row && a.col == c.col + 8 * s.half) << "A element " << e;
    }
    sources.push_back(s);
  }
  const std::uint32_t m_tiles = rows_ / 16, n_tiles = cols_ / 8;
  const Fragments fa = mt::fragments(name_ + "_pa", FragmentRole::A, input_, m_tiles);
  const Fragments fb = mt::fragments(name_ + "_vb", FragmentRole::B, input_, 2);
  // Transposed loads of four 8x8 matrices: lanes 8j .. 8j + 7 point at the rows (k) of matrix
  // j, k rows 0-7 (j even) or 8-15 (j odd) of the step, columns n .. n + 7 (j < 2) or
  // n + 8 .. n + 15: two B fragments.
  const Val lane = lane_id();
  const Val b_row = b_row0 + lane % 8u + lane / 8u % 2u * 8u, b_col = lane / 16u * 8u;
  for (std::uint32_t ks = 0; ks < p.cols() / shape.k; ++ks) {
    for (std::uint32_t mi = 0; mi < m_tiles; ++mi) {
      for (std::uint32_t e = 0; e < sources.size(); ++e) {
        const Source& s = sources[e];
        fa[mi][e] = p.at(mi, 2 * ks + s.half)[s.element].to(input_);
      }
    }
    for (std::uint32_t ni = 0; ni < n_tiles; ni += 2) {
      load_matrix(fb, 0, 2, b.array(), b.at(stage, b_row + ks * shape.k, b_col + ni * 8), true);
      for (std::uint32_t mi = 0; mi < m_tiles; ++mi) {
        mt::mma(at(mi, ni), fa[mi], fb[0], at(mi, ni));
        mt::mma(at(mi, ni + 1), fa[mi], fb[1], at(mi, ni + 1));
      }
    }
  }
}

void AccumulatorTile::apply_by_row(
    const std::function<Val(const Val& v, std::uint32_t i, const Val& col)>& f) {
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
      const Fragment frag = at(mi, ni);
      for (std::uint32_t e = 0; e < frag.size(); ++e) {
        // Rows g and g + 8 of the fragment: the lane's rows 2 mi and 2 mi + 1.
        const std::uint32_t half = fragment_coord(FragmentRole::Accumulator, input_, 0, e).row / 8;
        frag[e] = f(frag[e], 2 * mi + half, frag.col(e) + ni * 8);
      }
    }
  }
}

void AccumulatorTile::apply(
    const std::function<Val(const Val& v, const Val& row, const Val& col)>& f) {
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
      const Fragment frag = at(mi, ni);
      for (std::uint32_t e = 0; e < frag.size(); ++e) {
        frag[e] = f(frag[e], frag.row(e) + mi * 16, frag.col(e) + ni * 8);
      }
    }
  }
}

std::vector<Val> AccumulatorTile::row_reduce(CombineOp combine) const {
  const auto join = [&](const Val& x, const Val& y) {
    switch (combine) {
      case CombineOp::Max: return max(x, y);
      case CombineOp::Min: return min(x, y);
      default: return x + y;
    }
  };
  std::vector<Val> out;
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t h = 0; h < 2; ++h) {  // rows g and g + 8
      Val v = at(mi, 0)[2 * h];
      for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
        if (ni != 0) v = join(v, at(mi, ni)[2 * h]);
        v = join(v, at(mi, ni)[2 * h + 1]);
      }
      v = join(v, warp_shuffle_xor(v, 1u));  // the quad's 4 lanes hold the row's columns
      v = join(v, warp_shuffle_xor(v, 2u));
      out.push_back(v);
    }
  }
  return out;
}

void AccumulatorTile::store(const MatrixView& view, const Val& row0, const Val& col0) const {
  const DType t = view.tensor.dtype();
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
      const Fragment frag = at(mi, ni);
      for (std::uint32_t e = 0; e < frag.size(); ++e) {
        const Val row = row0 + frag.row(e) + mi * 16, col = col0 + frag.col(e) + ni * 8;
        const Val value = frag[e].to(t);
        if_(row < view.rows && col < view.cols,
            [&] { view.tensor[row * view.stride + col] = value; });
      }
    }
  }
}

void AccumulatorTile::store_pairs(const MatrixView& view, const Val& row0, const Val& col0) const {
  KernelBuilder& k = KernelBuilder::current();
  const DType t = view.tensor.dtype();
  // An accumulator fragment holds rows g and g + 8, columns 2t and 2t + 1 of each: elements
  // (0, 1) and (2, 3) are adjacent pairs of one row.
  for (std::uint32_t e = 0; e < 4; e += 2) {
    const MatrixCoord x = fragment_coord(FragmentRole::Accumulator, input_, 0, e);
    const MatrixCoord y = fragment_coord(FragmentRole::Accumulator, input_, 0, e + 1);
    MT_ASSERT(x.row == y.row && x.col + 1 == y.col) << "accumulator element " << e;
  }
  const ArrayRef pair = k.thread_array(fresh_array_name(k.kernel(), name_ + "_pair"), t, 2);
  const Val aligned = view.stride % 2u == 0u && col0 % 2u == 0u;  // pair columns are even
  for (std::uint32_t mi = 0; mi < rows_ / 16; ++mi) {
    for (std::uint32_t h = 0; h < 2; ++h) {
      const Val row = row0 + at(mi, 0).row(2 * h) + mi * 16;
      const Val row_inside = row < view.rows;
      for (std::uint32_t ni = 0; ni < cols_ / 8; ++ni) {
        const Fragment frag = at(mi, ni);
        const Val col = col0 + frag.col(2 * h) + ni * 8, at_row = row * view.stride;
        const Val first = frag[2 * h].to(t), second = frag[2 * h + 1].to(t);
        if_(row_inside && col + 1u < view.cols && aligned, [&] {
          pair[0] = first;
          pair[1] = second;
          store_vector(view.tensor, at_row + col, pair, 2);
        }).else_([&] {
          if_(row_inside && col < view.cols, [&] { view.tensor[at_row + col] = first; });
          if_(row_inside && col + 1u < view.cols, [&] { view.tensor[at_row + col + 1u] = second; });
        });
      }
    }
  }
}

MmaOperands::MmaOperands(const AccumulatorTile& acc, const SharedTiles& a, const Val& a_row0,
                         const SharedTiles& b, const Val& b_row0, std::uint32_t buffers)
    : a_(a),
      b_(b),
      m_tiles_(acc.rows() / 16),
      n_tiles_(acc.cols() / 8),
      steps_(a.cols() / mma_shape(acc.input()).k),
      buffers_(buffers),
      fa_(mt::fragments(acc.name() + "_a", FragmentRole::A, acc.input(),
                        std::max(1u, buffers * m_tiles_))),
      fb_(mt::fragments(acc.name() + "_b", FragmentRole::B, acc.input(),
                        std::max(1u, buffers * n_tiles_))) {
  const MmaShape shape = mma_shape(acc.input());
  if (buffers == 0 || a.cols() != b.cols() || a.cols() % shape.k != 0 || a.rows() % 8 != 0 ||
      b.rows() % 8 != 0) {
    KernelBuilder::current().fail(
        "mma operands of '" + acc.name() + "': " + std::to_string(buffers) + " buffers, tiles of " +
        std::to_string(a.cols()) + " and " + std::to_string(b.cols()) +
        " columns: need at least one buffer and equal k extents, multiples of " +
        std::to_string(shape.k));
  }
  // The lanes' rows and k halves, as AccumulatorTile::mma's (one load of four matrices fills
  // two B fragments when the tile has an even number of them).
  const std::uint32_t half = shape.k / 2;
  const bool pairs = n_tiles_ % 2 == 0;
  const Val lane = lane_id();
  const Val a_row = a_row0 + lane % 16u, a_half = lane / 16u * half;
  const Val b_row = pairs ? b_row0 + lane / 16u * 8u + lane % 8u : b_row0 + lane % 8u;
  const Val b_half = lane / 8u % 2u * half;
  for (std::uint32_t step = 0; step < steps_; ++step) {
    a_offsets_.push_back(swizzle(a_row, a_half + step * shape.k, a.cols(), a.dtype()));
    b_offsets_.push_back(swizzle(b_row, b_half + step * shape.k, b.cols(), b.dtype()));
  }
}

void MmaOperands::load(std::uint32_t buffer, std::uint32_t stage, std::uint32_t step) const {
  KernelBuilder& k = KernelBuilder::current();
  if (buffer >= buffers_ || stage >= a_.stages() || stage >= b_.stages() || step >= steps_) {
    k.fail("mma operands: buffer " + std::to_string(buffer) + " of " + std::to_string(buffers_) +
           ", stage " + std::to_string(stage) + ", k step " + std::to_string(step) + " of " +
           std::to_string(steps_));
  }
  // Constant offsets: the stage's tile and the fragment's first row (a multiple of 8).
  const auto at = [](const Val& offset, std::uint32_t constant) {
    return constant == 0 ? offset : offset + constant;
  };
  const std::uint32_t a_tile = stage * a_.rows() * a_.cols();
  const std::uint32_t b_tile = stage * b_.rows() * b_.cols();
  for (std::uint32_t mi = 0; mi < m_tiles_; ++mi) {
    load_matrix(a(buffer, mi), a_.array(), at(a_offsets_[step], a_tile + mi * 16 * a_.cols()));
  }
  const bool pairs = n_tiles_ % 2 == 0;
  for (std::uint32_t ni = 0; ni < n_tiles_; ni += pairs ? 2 : 1) {
    const Val offset = at(b_offsets_[step], b_tile + ni * 8 * b_.cols());
    if (pairs) {
      load_matrix(fb_, buffer * n_tiles_ + ni, 2, b_.array(), offset);
    } else {
      load_matrix(b(buffer, ni), b_.array(), offset);
    }
  }
}

Fragment MmaOperands::a(std::uint32_t buffer, std::uint32_t mi) const {
  return fa_[buffer * m_tiles_ + mi];
}

Fragment MmaOperands::b(std::uint32_t buffer, std::uint32_t ni) const {
  return fb_[buffer * n_tiles_ + ni];
}

}  // namespace mt
