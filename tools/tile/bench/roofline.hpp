// The roofline picture of a tile bench run, as SVG: on the left FLOP/s against arithmetic
// intensity under the two measured roofs (device copy bandwidth, bf16 tensor-core peak), for
// the cases that count FLOPs; on the right every case's GB/s against the bytes it moves, under
// the copy-bandwidth roof. Each case is a labelled point.
#pragma once

#include <string>

#include "report.hpp"

namespace mt::tile::bench {

// `peak_tflops` is the measured bf16 matmul rate (0: not measured, the flat roof is left out).
void write_roofline_svg(const std::string& path, const Run& run, double peak_tflops);

}  // namespace mt::tile::bench
