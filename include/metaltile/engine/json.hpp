// A small JSON value: parse, query, write. The engine reads config.json, tokenizer.json and
// safetensors headers with it; `tile bench` writes and reads its results with it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mt::engine::json {

class Value;
using Object = std::map<std::string, Value, std::less<>>;
using Array = std::vector<Value>;

class Value {
 public:
  Value() = default;                                                  // null
  Value(std::nullptr_t) {}                                            // NOLINT
  Value(bool b) : data_(b) {}                                         // NOLINT
  Value(double d) : data_(d) {}                                       // NOLINT
  Value(int i) : data_(static_cast<double>(i)) {}                     // NOLINT
  Value(std::size_t n) : data_(static_cast<double>(n)) {}             // NOLINT
  Value(std::string s) : data_(std::move(s)) {}                       // NOLINT
  Value(const char* s) : data_(std::string(s)) {}                     // NOLINT
  Value(Array a) : data_(std::make_shared<Array>(std::move(a))) {}    // NOLINT
  Value(Object o) : data_(std::make_shared<Object>(std::move(o))) {}  // NOLINT

  bool is_null() const { return data_.index() == 0; }
  bool is_number() const { return std::holds_alternative<double>(data_); }
  bool is_string() const { return std::holds_alternative<std::string>(data_); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(data_); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(data_); }

  // Typed access; an mt::Error naming `what` when the value has another type.
  double number(std::string_view what = "value") const;
  const std::string& string(std::string_view what = "value") const;
  bool boolean(std::string_view what = "value") const;
  const Array& array(std::string_view what = "value") const;
  const Object& object(std::string_view what = "value") const;
  // A member of an object: an mt::Error when absent; find() gives nullptr instead.
  const Value& at(std::string_view key) const;
  const Value* find(std::string_view key) const;

  // Compact one-line text for scalars and short values, indented for objects and arrays.
  std::string dump(int indent = 0) const;

 private:
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      data_;
};

// Parses JSON text; an mt::Error naming `source` and the offset of the first mistake.
Value parse(std::string_view text, std::string_view source = "json");
// Reads and parses a file; an mt::Error naming it when it cannot be read.
Value read_file(const std::string& path);
// Writes `v` to `path` (with a final newline); an mt::Error when it cannot be written.
void write_file(const std::string& path, const Value& v);

}  // namespace mt::engine::json
