// The public byte helpers of runtime/bytes.hpp: exact little-endian layouts of scalars and
// tensors, rounding to each float dtype, the way back, and errors for a wrong dtype or a
// length that is not a whole number of elements.
#include "metaltile/runtime/bytes.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"

namespace mt {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(ScalarBytes, AreTheFourLittleEndianBytesOfEach32BitType) {
  EXPECT_EQ(scalar_bytes(std::uint32_t{0x11223344}), (Bytes{0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(scalar_bytes(std::uint32_t{128}), (Bytes{128, 0, 0, 0}));
  EXPECT_EQ(scalar_bytes(std::int32_t{-2}), (Bytes{0xFE, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(scalar_bytes(1.0f), (Bytes{0x00, 0x00, 0x80, 0x3F}));
  EXPECT_EQ(scalar_bytes(-0.0f), (Bytes{0, 0, 0, 0x80}));
}

TEST(TensorBytes, RoundTripEveryFloatDtype) {
  const std::vector<float> values = {0.0f, 1.0f, -2.5f, 0.1f, 300.0f};
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::F8E5M2}) {
    SCOPED_TRACE(std::string(name_of(t)));
    const Bytes bytes = tensor_bytes(values, t);
    ASSERT_EQ(bytes.size(), values.size() * size_of(t));
    const std::vector<float> back = tensor_values(bytes, t);
    ASSERT_EQ(back.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(back[i], round_to(t, values[i]));
  }
}

TEST(TensorBytes, LayOutElementsLittleEndian) {
  EXPECT_EQ(tensor_bytes(std::vector<float>{1.0f, -2.0f}, DType::F16),
            (Bytes{0x00, 0x3C, 0x00, 0xC0}));
  EXPECT_EQ(tensor_bytes(std::vector<float>{1.0f}, DType::BF16), (Bytes{0x80, 0x3F}));
  EXPECT_EQ(tensor_bytes(std::vector<std::uint32_t>{1, 0xA0B0C0D0}),
            (Bytes{1, 0, 0, 0, 0xD0, 0xC0, 0xB0, 0xA0}));
  EXPECT_EQ(u32_values(Bytes{1, 0, 0, 0, 0xD0, 0xC0, 0xB0, 0xA0}),
            (std::vector<std::uint32_t>{1, 0xA0B0C0D0}));
}

TEST(TensorBytes, NaNStaysNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    EXPECT_TRUE(std::isnan(tensor_values(tensor_bytes(std::vector<float>{nan}, t), t).at(0)));
  }
}

void expect_error(void (*fn)(), const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(TensorBytes, ANonFloatDtypeOrAPartialElementIsAnError) {
  expect_error([] { tensor_bytes(std::vector<float>{1.0f}, DType::I32); },
               "tensor_bytes: dtype i32 is not a float type");
  expect_error([] { tensor_values(Bytes(4), DType::U32); },
               "tensor_values: dtype u32 is not a float type");
  expect_error([] { tensor_values(Bytes(3), DType::F16); },
               "tensor_values: 3 bytes are not a whole number of 2-byte elements");
  expect_error([] { u32_values(Bytes(6)); },
               "u32_values: 6 bytes are not a whole number of 4-byte elements");
}

}  // namespace
}  // namespace mt
