// Safetensors reading against files the safetensors library wrote (fixtures/safetensors, made
// by fixtures/make_engine_fixtures.py), and every malformed-file error.
#include "metaltile/engine/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "metaltile/core/error.hpp"
#include "metaltile/runtime/bytes.hpp"
#include "support/errors.hpp"

namespace mt::engine {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(MT_TESTS_DIR) + "/engine/fixtures/safetensors";

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("mt_safetensors_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A file made of a header (JSON text) and `data` bytes.
std::vector<std::uint8_t> with_header(const std::string& header, std::size_t data) {
  std::vector<std::uint8_t> bytes(8 + header.size() + data, 0);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

TEST(Safetensors, ReadsEveryDtypeShapeAndValue) {
  const SafetensorsFile f = SafetensorsFile::open(kDir + "/mixed.safetensors");
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* a = f.find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(a->bytes.size(), 24u);
  const TensorView* c = f.find("c.u32");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::U32);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(detail::read_le(c->bytes.data() + 4 * i, 4), i);
  const TensorView* d = f.find("d.i32");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->dtype, DType::I32);
  EXPECT_EQ(std::int32_t(detail::read_le(d->bytes.data() + 8, 4)), -2);
  EXPECT_EQ(f.find("b.f16")->dtype, DType::F16);
  EXPECT_EQ(f.find("e.u8")->shape, (std::vector<std::size_t>{7}));
  EXPECT_EQ(f.find("nothing"), nullptr);

  const SafetensorsFile bf = SafetensorsFile::open(kDir + "/bf16.safetensors");
  const TensorView* x = bf.find("x.bf16");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(tensor_values(x->bytes, DType::BF16), (std::vector<float>{1.0f, -2.5f, 3.25f}));
}

TEST(Safetensors, ShardedCheckpointFollowsTheIndex) {
  const Checkpoint c = Checkpoint::open(kDir + "/sharded");
  EXPECT_EQ(c.names(), (std::vector<std::string>{"head.w", "layer.0.w", "layer.1.w"}));
  const TensorView& w = c.at("layer.0.w", {2, 2});
  EXPECT_EQ(tensor_values(w.bytes, DType::F32), (std::vector<float>{1.5f, 1.5f, 1.5f, 1.5f}));
  EXPECT_NE(w.file.find("model-00001-of-00002"), std::string::npos);
  EXPECT_EQ(c.at("layer.1.w").shape, (std::vector<std::size_t>{3}));
}

TEST(Safetensors, MissingAndMisShapedTensorsNameThemselves) {
  const Checkpoint c = Checkpoint::open(kDir + "/sharded");
  test::expect_mentions(test::error_of([&] { c.at("layer.7.w"); }),
                        {"missing tensor", "layer.7.w", "sharded"});
  test::expect_mentions(test::error_of([&] {
                          c.at("head.w", {2, 3});
                        }),
                        {"head.w", "[2, 2]", "expected [2, 3]"});
}

TEST(Safetensors, TruncatedFilesAreErrors) {
  TempDir dir;
  const std::vector<std::uint8_t> good = file_bytes(kDir + "/mixed.safetensors");
  // Cut inside the data: the last tensor no longer fits.
  std::vector<std::uint8_t> cut(good.begin(), good.end() - 3);
  write_bytes(dir.file("cut.safetensors"), cut);
  test::expect_mentions(test::error_of([&] { SafetensorsFile::open(dir.file("cut.safetensors")); }),
                        {"cut.safetensors", "truncated", "ends at data byte"});
  // Cut inside the header.
  write_bytes(dir.file("header.safetensors"),
              std::vector<std::uint8_t>(good.begin(), good.begin() + 20));
  test::expect_mentions(
      test::error_of([&] { SafetensorsFile::open(dir.file("header.safetensors")); }),
      {"header.safetensors", "truncated", "header claims"});
  // Shorter than the length field.
  write_bytes(dir.file("tiny.safetensors"), {1, 2, 3});
  test::expect_mentions(
      test::error_of([&] { SafetensorsFile::open(dir.file("tiny.safetensors")); }),
      {"tiny.safetensors", "truncated", "3 bytes"});
  test::expect_mentions(test::error_of([&] { SafetensorsFile::open(dir.file("absent")); }),
                        {"absent", "cannot open"});
}

TEST(Safetensors, MalformedHeadersAreErrors) {
  TempDir dir;
  struct Case {
    std::string header;
    std::size_t data;
    std::vector<std::string> mentions;
  };
  const std::vector<Case> cases = {
      {"{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}",
       4,
       {"tensor 't'", "needs 8 bytes", "offsets give 4"}},
      {"{\"t\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
       8,
       {"tensor 't'", "F64"}},
      {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}",
       4,
       {"tensor 't'", "backwards"}},
      {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}",
       4,
       {"tensor 't' shape", "whole number"}},
      {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}",
       4,
       {"tensor 't'", "two numbers"}},
      {"{\"t\": ", 0, {"header", "offset"}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].header);
    const std::string path = dir.file("bad" + std::to_string(i) + ".safetensors");
    write_bytes(path, with_header(cases[i].header, cases[i].data));
    std::vector<std::string> parts = cases[i].mentions;
    parts.push_back("bad" + std::to_string(i));
    test::expect_mentions(test::error_of([&] { SafetensorsFile::open(path); }), parts);
  }
}

TEST(Safetensors, IndexPointingAtTheWrongShardIsAnError) {
  TempDir dir;
  for (const char* shard :
       {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    fs::copy_file(kDir + "/sharded/" + shard, dir.file(shard));
  }
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"weight_map": {"layer.0.w": "model-00002-of-00002.safetensors",
                            "layer.1.w": "model-00002-of-00002.safetensors"}})";
  test::expect_mentions(test::error_of([&] { Checkpoint::open(dir.path.string()); }),
                        {"layer.0.w", "model-00002-of-00002.safetensors", "does not hold it"});
  test::expect_mentions(test::error_of([&] { Checkpoint::open(dir.file("nowhere")); }),
                        {"nowhere", "model.safetensors"});
}

}  // namespace
}  // namespace mt::engine
