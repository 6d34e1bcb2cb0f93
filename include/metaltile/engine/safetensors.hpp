// Safetensors checkpoints, read by mapping the files into memory (nothing is copied until a
// tensor is uploaded): one `model.safetensors`, or shards listed by
// `model.safetensors.index.json`. Every malformed file is an mt::Error naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/dtype.hpp"

namespace mt::engine {

// One tensor of a mapped file: its element type, shape and bytes (valid while the file that
// holds it is open).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::size_t> shape;
  std::span<const std::uint8_t> bytes;
  std::string file;  // the file it lives in, for messages

  std::size_t elements() const;
};

// One mapped .safetensors file. The header is checked completely when the file is opened:
// valid JSON, a known dtype for every tensor, offsets inside the data section, each tensor's
// byte count equal to its shape times its element size, and a file long enough for all of it
// (a truncated download is reported here, not when a tensor is read).
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;
  // The `__metadata__` strings of the header.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// The tensors of a model directory: `model.safetensors`, or the shards its
// `model.safetensors.index.json` names (every shard is opened; a tensor the index lists but its
// shard lacks is an error, as is a tensor in two files).
class Checkpoint {
 public:
  static Checkpoint open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const TensorView* find(std::string_view name) const;
  // The tensor, with an mt::Error naming it and the directory when absent.
  const TensorView& at(std::string_view name) const;
  // The tensor, checked to have exactly `shape` (an mt::Error naming the tensor, the expected
  // and the actual shape otherwise).
  const TensorView& at(std::string_view name, const std::vector<std::size_t>& shape) const;
  std::vector<std::string> names() const;

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
};

// "[2, 3]" for messages.
std::string shape_text(const std::vector<std::size_t>& shape);

}  // namespace mt::engine
