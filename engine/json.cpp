// JSON parsing and writing (include/metaltile/engine/json.hpp).
#include "metaltile/engine/json.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "metaltile/core/error.hpp"

namespace mt::engine::json {
namespace {

class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Value document() {
    Value v = value();
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw Error(std::string(source_) + ": " + std::string(what) + " at offset " +
                std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }
  bool take_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value value() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    const char c = text_[pos_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return Value(string());
    if (take_word("true")) return Value(true);
    if (take_word("false")) return Value(false);
    if (take_word("null")) return Value();
    if (take_word("NaN")) return Value(std::nan(""));
    return Value(number());
  }

  Value object() {
    expect('{');
    Object o;
    if (take('}')) return Value(std::move(o));
    do {
      skip_space();
      std::string key = string();
      expect(':');
      o.insert_or_assign(std::move(key), value());
    } while (take(','));
    expect('}');
    return Value(std::move(o));
  }

  Value array() {
    expect('[');
    Array a;
    if (take(']')) return Value(std::move(a));
    do {
      a.push_back(value());
    } while (take(','));
    expect(']');
    return Value(std::move(a));
  }

  std::string string() {
    if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a string");
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) fail("unfinished escape");
      c = text_[pos_++];
      switch (c) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          unsigned code = hex4();
          // A UTF-16 surrogate pair (tokenizer.json escapes some characters this way).
          if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate in \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default: out.push_back(c);  // \" \\ \/
      }
    }
    if (pos_ >= text_.size()) fail("unfinished string");
    ++pos_;
    return out;
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                    : -1;
      if (digit < 0) fail("bad \\u escape");
      code = code * 16 + static_cast<unsigned>(digit);
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  double number() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view("+-0123456789.eE").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    if (start == pos_) fail("expected a value");
    try {
      return std::stod(std::string(text_.substr(start, pos_ - start)));
    } catch (const std::exception&) {
      pos_ = start;
      fail("bad number");
    }
  }

  std::string_view text_, source_;
  std::size_t pos_ = 0;
};

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string number_text(double d) {
  if (!std::isfinite(d)) return "null";  // JSON has no NaN or infinity
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    std::ostringstream s;
    s << static_cast<long long>(d);
    return s.str();
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", d);
  return buf;
}

}  // namespace

double Value::number(std::string_view what) const {
  if (const double* d = std::get_if<double>(&data_)) return *d;
  throw Error(std::string(what) + ": expected a number");
}
const std::string& Value::string(std::string_view what) const {
  if (const std::string* s = std::get_if<std::string>(&data_)) return *s;
  throw Error(std::string(what) + ": expected a string");
}
bool Value::boolean(std::string_view what) const {
  if (const bool* b = std::get_if<bool>(&data_)) return *b;
  throw Error(std::string(what) + ": expected true or false");
}
const Array& Value::array(std::string_view what) const {
  if (const auto* a = std::get_if<std::shared_ptr<Array>>(&data_)) return **a;
  throw Error(std::string(what) + ": expected an array");
}
const Object& Value::object(std::string_view what) const {
  if (const auto* o = std::get_if<std::shared_ptr<Object>>(&data_)) return **o;
  throw Error(std::string(what) + ": expected an object");
}
const Value* Value::find(std::string_view key) const {
  const Object& o = object(key);
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->second;
}
const Value& Value::at(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) throw Error("json: missing member '" + std::string(key) + "'");
  return *v;
}

std::string Value::dump(int indent) const {
  const std::string pad(indent, ' '), inner(indent + 1, ' ');
  switch (data_.index()) {
    case 0: return "null";
    case 1: return std::get<bool>(data_) ? "true" : "false";
    case 2: return number_text(std::get<double>(data_));
    case 3: return quoted(std::get<std::string>(data_));
    case 4: {
      const Array& a = *std::get<std::shared_ptr<Array>>(data_);
      if (a.empty()) return "[]";
      std::string out = "[\n";
      for (std::size_t i = 0; i < a.size(); ++i) {
        out += inner + a[i].dump(indent + 1) + (i + 1 < a.size() ? ",\n" : "\n");
      }
      return out + pad + "]";
    }
    default: {
      const Object& o = *std::get<std::shared_ptr<Object>>(data_);
      if (o.empty()) return "{}";
      // Objects of scalars stay on one line (the rows of a result table).
      bool flat = true;
      for (const auto& [k, v] : o) flat = flat && !v.is_array() && !v.is_object();
      std::string out = flat ? "{" : "{\n";
      std::size_t i = 0;
      for (const auto& [k, v] : o) {
        const bool last = ++i == o.size();
        if (flat) {
          out += quoted(k) + ": " + v.dump(0) + (last ? "" : ", ");
        } else {
          out += inner + quoted(k) + ": " + v.dump(indent + 1) + (last ? "\n" : ",\n");
        }
      }
      return out + (flat ? "}" : pad + "}");
    }
  }
}

Value parse(std::string_view text, std::string_view source) {
  return Parser(text, source).document();
}

Value read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

void write_file(const std::string& path, const Value& v) {
  std::ofstream out(path);
  if (!out) throw Error("cannot write " + path);
  out << v.dump() << "\n";
  out.close();
  if (!out) throw Error("writing " + path + " failed");
}

}  // namespace mt::engine::json
