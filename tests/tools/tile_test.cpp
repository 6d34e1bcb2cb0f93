// The tile CLI as a user runs it: the built binary (path in MT_TILE, set by
// tests/CMakeLists.txt) for list, inspect, demo, help and the error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace {

using mt::test::CommandResult;
using mt::test::contains;

CommandResult tile(const std::string& args) { return mt::test::run_tile(args); }

TEST(TileCli, ListShowsEveryKvCacheKernelWithDtypes) {
  const CommandResult r = tile("list");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name :
       {"kv_cache_update", "kv_cache_update_many", "quantize_kv_int4", "quantize_kv_int8",
        "bulk_dequant_kv_int4", "bulk_dequant_kv_int8", "quantize_kv_fp8_e4m3",
        "quantize_kv_fp8_e5m2", "bulk_dequant_kv_fp8_e4m3", "bulk_dequant_kv_fp8_e5m2"}) {
    EXPECT_TRUE(contains(r.output, std::string(name) + " ")) << name << " missing:\n" << r.output;
  }
  EXPECT_TRUE(contains(r.output, "f32,f16,bf16")) << r.output;
}

TEST(TileCli, InspectPrintsTheDocumentationAndTheOptimisedIr) {
  const CommandResult r = tile("inspect quantize_kv_int4 --dtype f16");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("quantize_kv_int4 (ffai::kv_cache", 0), 0u) << r.output;
  for (const char* part : {"formula:", "buffers:", "scalars:", "geometry", "one thread per group",
                           "\nkernel quantize_kv_int4 mode=Grid3D"}) {
    EXPECT_TRUE(contains(r.output, part)) << part << " missing:\n" << r.output;
  }
  EXPECT_TRUE(contains(r.output, "out_w")) << r.output;
  EXPECT_TRUE(contains(r.output, "f16")) << r.output;
  EXPECT_TRUE(contains(r.output, "group_size")) << r.output;
}

TEST(TileCli, InspectCudaPrintsTheGeneratedSourceCheckedOrNot) {
  const CommandResult checked = tile("inspect bulk_dequant_kv_int4 --dtype bf16 --cuda");
  ASSERT_EQ(checked.status, 0) << checked.output;
  EXPECT_TRUE(contains(checked.output, "__global__")) << checked.output;
  EXPECT_TRUE(contains(checked.output, "__nv_bfloat16* __restrict__ out")) << checked.output;
  EXPECT_FALSE(contains(checked.output, "auto ")) << "explicit types only";
  const CommandResult unchecked =
      tile("inspect bulk_dequant_kv_int4 --dtype bf16 --cuda --unchecked");
  ASSERT_EQ(unchecked.status, 0) << unchecked.output;
  // Both go through mt_load / mt_store; MT_CHECKED picks the prelude's guarded or plain ones.
  for (const CommandResult* r : {&checked, &unchecked}) {
    EXPECT_TRUE(contains(r->output, "mt_load(in_w")) << r->output;
    EXPECT_TRUE(contains(r->output, "mt_store(out")) << r->output;
  }
  EXPECT_TRUE(contains(checked.output, "#define MT_CHECKED 1")) << checked.output;
  EXPECT_TRUE(contains(unchecked.output, "#define MT_CHECKED 0")) << unchecked.output;
}

TEST(TileCli, InspectSpecialisesScalarsIntoTheCode) {
  const CommandResult plain = tile("inspect qgemv_affine_m1 --dtype bf16 --cuda --unchecked");
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_TRUE(contains(plain.output, "unsigned int bits")) << plain.output;
  // bits and group_size baked in: the scalars leave the signature, and with them the copies of
  // the body for the other widths, so the source is much shorter.
  const CommandResult baked = tile(
      "inspect qgemv_affine_m1 --dtype bf16 --cuda --unchecked --specialise bits=4 "
      "--specialise group_size=64");
  ASSERT_EQ(baked.status, 0) << baked.output;
  EXPECT_FALSE(contains(baked.output, "unsigned int bits")) << baked.output;
  EXPECT_FALSE(contains(baked.output, "unsigned int group_size")) << baked.output;
  EXPECT_LT(baked.output.size() * 2, plain.output.size());
  const CommandResult bad = tile("inspect qgemv_affine_m1 --specialise bits=four");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "--specialise bits=four: not a number")) << bad.output;
  const CommandResult unknown = tile("inspect qgemv_affine_m1 --specialise width=4");
  EXPECT_EQ(unknown.status, 2) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "has no parameter of that name")) << unknown.output;
}

TEST(TileCli, InspectTakesItsOptionsBeforeOrAfterTheName) {
  const CommandResult after = tile("inspect bulk_dequant_kv_int4 --dtype bf16 --cuda");
  ASSERT_EQ(after.status, 0) << after.output;
  for (const char* args : {"inspect --cuda --dtype bf16 bulk_dequant_kv_int4",
                           "inspect --dtype=bf16 bulk_dequant_kv_int4 --cuda"}) {
    const CommandResult before = tile(args);
    ASSERT_EQ(before.status, 0) << args << ":\n" << before.output;
    EXPECT_EQ(before.output, after.output) << args;
  }
}

TEST(TileCli, HelpListsEveryVerbAndEveryOptionOfAVerb) {
  for (const char* args : {"--help", "help", "-h"}) {
    const CommandResult r = tile(args);
    ASSERT_EQ(r.status, 0) << args << ":\n" << r.output;
    for (const char* verb :
         {"tile list", "tile inspect", "tile demo", "tile device", "tile help"}) {
      EXPECT_TRUE(contains(r.output, verb)) << args << ": " << verb << " missing:\n" << r.output;
    }
  }
  struct Case {
    const char* args;
    std::vector<std::string> options;
  };
  for (const Case& c :
       {Case{"inspect --help", {"NAME", "--dtype D", "--raw", "--cuda", "--unchecked"}},
        Case{"help inspect", {"NAME", "--dtype D", "--raw", "--cuda", "--unchecked"}},
        Case{"inspect quantize_kv_int4 -h", {"--dtype D", "--unchecked"}},
        Case{"demo --help", {"--max-seq N", "--dtype D"}},
        Case{"list --help", {"usage: tile list"}}, Case{"device --help", {"usage: tile device"}}}) {
    const CommandResult r = tile(c.args);
    ASSERT_EQ(r.status, 0) << c.args << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, "-h, --help")) << c.args << ":\n" << r.output;
    for (const std::string& option : c.options) {
      EXPECT_TRUE(contains(r.output, option)) << c.args << ": " << option << " missing:\n"
                                              << r.output;
    }
  }
}

TEST(TileCli, UnknownOptionsAndBadCommandLinesExitTwoWithAHint) {
  struct Case {
    const char* args;
    const char* message;
    const char* hint;
  };
  for (const Case& c : {
           Case{"", "usage: tile VERB", ""},
           Case{"frobnicate", "tile: unknown verb 'frobnicate'", "(see tile --help)"},
           Case{"--cuda inspect quantize_kv_int4", "expected a verb before any option",
                "(see tile --help)"},
           Case{"help frobnicate", "unknown verb 'frobnicate'", "(see tile help)"},
           Case{"inspect quantize_kv_int4 --frobnicate",
                "tile inspect: unknown option '--frobnicate'", "(see tile inspect --help)"},
           Case{"inspect quantize_kv_int4 --cdua", "did you mean --cuda?",
                "(see tile inspect --help)"},
           Case{"inspect --cuda", "tile inspect: missing NAME", "(see tile inspect --help)"},
           Case{"inspect quantize_kv_int4 extra", "unexpected argument 'extra'",
                "(see tile inspect --help)"},
           Case{"inspect quantize_kv_int4 --raw --cuda",
                "--raw, --cuda and --doc exclude each other", "(see tile inspect --help)"},
           Case{"inspect quantize_kv_int4 --unchecked", "--unchecked applies to --cuda only",
                "(see tile inspect --help)"},
           Case{"list --all", "tile list: unknown option '--all'", "(see tile list --help)"},
           Case{"device --verbose", "tile device: unknown option '--verbose'",
                "(see tile device --help)"},
           Case{"demo --max-seq", "option --max-seq needs a value", "(see tile demo --help)"},
           Case{"demo --dtype f16 --dtype f32", "option --dtype given more than once",
                "(see tile demo --help)"},
       }) {
    const CommandResult r = tile(c.args);
    EXPECT_EQ(r.status, 2) << c.args << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.message)) << c.args << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.hint)) << c.args << ":\n" << r.output;
  }
}

struct DemoRow {
  double max_err = NAN, mean_err = NAN, bytes = NAN, write_us = NAN;
  std::string read_us;
};

// The table rows, by variant; a row whose numbers do not parse fails the test.
std::map<std::string, DemoRow> demo_rows(const std::string& output) {
  const std::vector<std::string> variants = {"raw update", "raw update_many", "int4",
                                             "int8",       "fp8_e4m3",        "fp8_e5m2"};
  std::map<std::string, DemoRow> rows;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    for (const std::string& v : variants) {
      if (line.rfind(v + " ", 0) != 0) continue;
      // "raw update" is a prefix of "raw update_many": the longer name must not match it.
      if (v == "raw update" && line.rfind("raw update_many", 0) == 0) continue;
      std::istringstream fields(line.substr(v.size()));
      DemoRow row;
      if (!(fields >> row.max_err >> row.mean_err >> row.bytes >> row.write_us >> row.read_us)) {
        ADD_FAILURE() << "unparsable row: " << line;
      }
      EXPECT_EQ(rows.count(v), 0u) << "row " << v << " twice";
      rows[v] = row;
    }
  }
  return rows;
}

TEST(TileCli, DemoPrintsSixVariantsWithSaneErrors) {
  // 64 positions instead of the default 256 keep this fast in Debug builds (the default
  // takes about 1.5 s optimised, 7 s in Debug, on the interpreter).
  const CommandResult r = tile("demo --max-seq 64");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "backend ")) << r.output;
  EXPECT_TRUE(contains(r.output, "dtype f16")) << r.output;
  const std::map<std::string, DemoRow> rows = demo_rows(r.output);
  ASSERT_EQ(rows.size(), 6u) << r.output;
  // Bounds on data in about [-2, 2] with group_size 32: half an int step of the widest group
  // plus f16 rounding (as kv_cache_seed_test.cpp), and fp8's relative rounding of the largest
  // values.
  const std::map<std::string, double> max_bound = {
      {"raw update", 0.0},           {"raw update_many", 0.0},
      {"int4", 1.5 * 4 / 15 + 1e-3}, {"int8", 1.5 * 4 / 255 + 1e-3},
      {"fp8_e4m3", 2.0 / 16 + 1e-2}, {"fp8_e5m2", 2.0 / 8 + 1e-2}};
  // f16 footprint: codes plus an f16 scale (and bias) per 32 elements.
  const std::map<std::string, double> bytes = {
      {"raw update", 2.0},      {"raw update_many", 2.0},     {"int4", 0.5 + 4.0 / 32},
      {"int8", 1.0 + 4.0 / 32}, {"fp8_e4m3", 1.0 + 2.0 / 32}, {"fp8_e5m2", 1.0 + 2.0 / 32}};
  for (const auto& [variant, row] : rows) {
    SCOPED_TRACE(variant);
    EXPECT_TRUE(std::isfinite(row.max_err) && std::isfinite(row.mean_err)) << r.output;
    EXPECT_LE(row.max_err, max_bound.at(variant)) << r.output;
    EXPECT_LE(row.mean_err, row.max_err) << r.output;
    EXPECT_GE(row.mean_err, 0.0);
    EXPECT_NEAR(row.bytes, bytes.at(variant), 1e-3) << r.output;
    EXPECT_GE(row.write_us, 0.0);
    EXPECT_EQ(row.read_us == "-", variant.starts_with("raw")) << r.output;
    if (!variant.starts_with("raw")) {
      EXPECT_GT(row.max_err, 0.0) << "quantisation is lossy";
    }
  }
}

TEST(TileCli, DemoTakesMaxSeqAndDtype) {
  const CommandResult r = tile("demo --max-seq 8 --dtype bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "dtype bf16")) << r.output;
  EXPECT_TRUE(contains(r.output, "x 8 positions")) << r.output;
  EXPECT_EQ(demo_rows(r.output).size(), 6u) << r.output;
}

TEST(TileCli, FailuresExitOneWithAMessage) {
  struct Case {
    const char* args;
    const char* message;
  };
  for (const Case& c :
       {Case{"inspect no_such_kernel", "no_such_kernel"},
        Case{"inspect quantize_kv_int4 --dtype i32", "i32"}, Case{"demo --dtype i32", "--dtype"},
        Case{"demo --max-seq zero", "--max-seq"}}) {
    const CommandResult r = tile(c.args);
    EXPECT_EQ(r.status, 1) << c.args << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.message)) << c.args << ":\n" << r.output;
  }
}

}  // namespace

namespace {

TEST(TileCli, InspectDocShowsOnlyTheDocumentation) {
  const CommandResult r = tile("inspect softmax --doc");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "one threadgroup per row")) << r.output;
  EXPECT_FALSE(contains(r.output, "kernel softmax mode=")) << r.output;
}

TEST(TileCli, RunLaunchesAKernelByNameAndWritesItsOutputs) {
  const std::string dir = testing::TempDir() + "tile_run_out";
  const CommandResult r = tile(
      "run row_sum --dtype f32 --buffer x=iota:12 --buffer out=zeros:3 "
      "--scalar n=4 --out " +
      dir);
  ASSERT_EQ(r.status, 0) << r.output;
  // Rows 0..3, 4..7, 8..11 sum to 6, 22 and 38.
  EXPECT_TRUE(contains(r.output, "out: 3 f32 elements, min 6, max 38, NaN 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "6 22 38")) << r.output;
  std::ifstream saved(dir + "/out.bin", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(saved)),
                          std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), 12u);
}

TEST(TileCli, RunReportsBadArgumentsAndKernelErrors) {
  const CommandResult no_param = tile("run row_sum --buffer y=zeros:4");
  EXPECT_EQ(no_param.status, 2) << no_param.output;
  EXPECT_TRUE(contains(no_param.output, "no parameter of that name")) << no_param.output;
  const CommandResult bad_value = tile("run row_sum --scalar n=four");
  EXPECT_EQ(bad_value.status, 2) << bad_value.output;
  const CommandResult missing = tile("run row_sum --buffer x=zeros:8 --scalar n=4");
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "'out'")) << missing.output;
  const CommandResult unknown = tile("run no_such_kernel");
  EXPECT_EQ(unknown.status, 1) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "no_such_kernel")) << unknown.output;
}

}  // namespace
