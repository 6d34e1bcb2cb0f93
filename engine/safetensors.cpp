// Safetensors reading (include/metaltile/engine/safetensors.hpp). The format: an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to its dtype, shape
// and [begin, end) byte offsets into the data that follows, and the data.
#include "metaltile/engine/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/json.hpp"

namespace mt::engine {

struct SafetensorsFile::Mapping {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (data != nullptr) munmap(const_cast<std::uint8_t*>(data), size);
  }
};

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("safetensors file '" + path + "': " + what);
}

std::optional<DType> dtype_of(std::string_view name) {
  static const std::map<std::string_view, DType> known = {
      {"F32", DType::F32},       {"F16", DType::F16},   {"BF16", DType::BF16},
      {"I32", DType::I32},       {"U32", DType::U32},   {"I8", DType::I8},
      {"U8", DType::U8},         {"BOOL", DType::Bool}, {"F8_E4M3", DType::F8E4M3},
      {"F8_E5M2", DType::F8E5M2}};
  auto it = known.find(name);
  if (it == known.end()) return std::nullopt;
  return it->second;
}

std::size_t whole_number(const json::Value& v, const std::string& path, const std::string& what) {
  const double d = v.number(what);
  if (!(d >= 0) || d != static_cast<double>(static_cast<std::uint64_t>(d)) || d > 0x1p52) {
    fail(path, what + " is not a whole number of bytes or elements");
  }
  return static_cast<std::size_t>(d);
}

}  // namespace

std::size_t TensorView::elements() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "]";
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* p = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) fail(path, std::string("cannot map: ") + std::strerror(errno));
    mapping->data = static_cast<const std::uint8_t*>(p);
  } else {
    ::close(fd);
  }

  SafetensorsFile file;
  file.path_ = path;
  file.mapping_ = mapping;
  const std::size_t size = mapping->size;
  if (size < 8) fail(path, "truncated: " + std::to_string(size) + " bytes, no header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | mapping->data[i];
  if (header_len > size - 8) {
    fail(path, "truncated: the header claims " + std::to_string(header_len) + " bytes but " +
                   std::to_string(size - 8) + " follow the length");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(mapping->data + 8),
                                     static_cast<std::size_t>(header_len));
  const json::Value header = json::parse(header_text, path + " (header)");
  const std::size_t data_begin = 8 + static_cast<std::size_t>(header_len);
  const std::size_t data_size = size - data_begin;

  for (const auto& [name, entry] : header.object("safetensors header")) {
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.object("__metadata__")) {
        if (value.is_string()) file.metadata_[key] = value.string();
      }
      continue;
    }
    const std::string what = "tensor '" + name + "'";
    TensorView view;
    view.name = name;
    view.file = path;
    const std::string& dtype_name = entry.at("dtype").string(what + " dtype");
    const std::optional<DType> dtype = dtype_of(dtype_name);
    if (!dtype) fail(path, what + " has dtype " + dtype_name + ", which the engine cannot use");
    view.dtype = *dtype;
    for (const json::Value& d : entry.at("shape").array(what + " shape")) {
      view.shape.push_back(whole_number(d, path, what + " shape"));
    }
    const json::Array& offsets = entry.at("data_offsets").array(what + " data_offsets");
    if (offsets.size() != 2) fail(path, what + ": data_offsets must hold two numbers");
    const std::size_t begin = whole_number(offsets[0], path, what + " data_offsets");
    const std::size_t end = whole_number(offsets[1], path, what + " data_offsets");
    if (begin > end) fail(path, what + ": data_offsets run backwards");
    if (end > data_size) {
      fail(path, "truncated: " + what + " ends at data byte " + std::to_string(end) +
                     " but the file holds " + std::to_string(data_size) + " data bytes");
    }
    if (end - begin != view.elements() * size_of(view.dtype)) {
      fail(path, what + " of shape " + shape_text(view.shape) + " and dtype " + dtype_name +
                     " needs " + std::to_string(view.elements() * size_of(view.dtype)) +
                     " bytes, its offsets give " + std::to_string(end - begin));
    }
    view.bytes = {mapping->data + data_begin + begin, end - begin};
    file.tensors_.push_back(std::move(view));
  }
  return file;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  for (const TensorView& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Checkpoint Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  Checkpoint c;
  c.dir_ = dir;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  std::map<std::string, std::string> listed;  // tensor -> shard, from the index
  if (fs::exists(index)) {
    const json::Value v = json::read_file(index.string());
    std::set<std::string> shards;
    for (const auto& [name, shard] : v.at("weight_map").object("weight_map")) {
      listed[name] = shard.string("weight_map entry");
      shards.insert(listed[name]);
    }
    for (const std::string& shard : shards) {
      c.files_.push_back(SafetensorsFile::open((fs::path(dir) / shard).string()));
    }
  } else if (fs::exists(single)) {
    c.files_.push_back(SafetensorsFile::open(single.string()));
  } else {
    throw Error("model directory '" + dir +
                "': neither model.safetensors nor model.safetensors.index.json");
  }
  for (const SafetensorsFile& f : c.files_) {
    for (const TensorView& t : f.tensors()) {
      auto [it, inserted] = c.by_name_.emplace(t.name, &t);
      if (!inserted) {
        throw Error("model directory '" + dir + "': tensor '" + t.name + "' is in both " +
                    it->second->file + " and " + t.file);
      }
    }
  }
  for (const auto& [name, shard] : listed) {
    auto it = c.by_name_.find(name);
    if (it == c.by_name_.end() || fs::path(it->second->file).filename() != shard) {
      throw Error("model directory '" + dir + "': the index puts tensor '" + name + "' in " +
                  shard + ", which does not hold it");
    }
  }
  return c;
}

const TensorView* Checkpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& Checkpoint::at(std::string_view name) const {
  const TensorView* t = find(name);
  if (t == nullptr) {
    throw Error("model directory '" + dir_ + "': missing tensor '" + std::string(name) + "'");
  }
  return *t;
}

const TensorView& Checkpoint::at(std::string_view name,
                                 const std::vector<std::size_t>& shape) const {
  const TensorView& t = at(name);
  if (t.shape != shape) {
    throw Error("model directory '" + dir_ + "': tensor '" + std::string(name) + "' has shape " +
                shape_text(t.shape) + ", expected " + shape_text(shape));
  }
  return t;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : by_name_) out.push_back(name);
  return out;
}

}  // namespace mt::engine
