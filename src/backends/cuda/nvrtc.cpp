// NVRTC through dlopen: the resolved entry points, the one check() every call goes through,
// RAII for nvrtcProgram, and compile errors shown with the generated lines they cite.
#include "backends/cuda/nvrtc.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "backends/cuda/dynamic_library.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {
namespace {

// NVRTC's C ABI, declared here so the build needs no CUDA headers.
using Result = int;  // nvrtcResult; 0 is NVRTC_SUCCESS
using Program = struct NvrtcProgramOpaque*;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::vector<std::string> library_candidates() {
  const std::string names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
  std::vector<std::string> out(std::begin(names), std::end(names));
  for (const std::string& root :
       {env("CUDA_HOME"), env("CUDA_PATH"), std::string("/usr/local/cuda")}) {
    if (root.empty()) continue;
    for (const std::string& name : names) out.push_back(root + "/lib64/" + name);
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      if (start < text.size()) lines.emplace_back(text.substr(start));
      break;
    }
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The number at log[at...], or 0 if there is none; `at` moves past it.
int number_at(std::string_view log, std::size_t& at) {
  int n = 0;
  while (at < log.size() && log[at] >= '0' && log[at] <= '9') n = n * 10 + (log[at++] - '0');
  return n;
}

// Every line of the files we handed NVRTC that the log cites, as "<file>(<N>)" or (in
// template instantiation notes) "line <N> of <file>": the source first, then each header, each
// in order of first mention.
std::vector<std::pair<std::string, int>> cited_lines(std::string_view log,
                                                     std::span<const NvrtcHeader> files) {
  std::vector<std::pair<std::string, int>> cited;
  std::set<std::pair<std::string, int>> seen;
  const auto cite = [&](std::string_view file, int line) {
    if (line > 0 && seen.insert({std::string(file), line}).second) {
      cited.emplace_back(std::string(file), line);
    }
  };
  for (const NvrtcHeader& file : files) {
    const std::string prefix = std::string(file.name) + "(";
    for (std::size_t at = log.find(prefix); at != std::string_view::npos;
         at = log.find(prefix, at + 1)) {
      std::size_t end = at + prefix.size();
      const int line = number_at(log, end);
      if (end < log.size() && log[end] == ')') cite(file.name, line);
    }
    const std::string suffix = " of " + std::string(file.name);
    for (std::size_t at = log.find("line "); at != std::string_view::npos;
         at = log.find("line ", at + 1)) {
      std::size_t end = at + 5;
      const int line = number_at(log, end);
      if (log.substr(end).starts_with(suffix)) cite(file.name, line);
    }
  }
  return cited;
}

// "<file> around line N:" and lines N-2..N+2, the cited one marked.
std::string excerpt(const NvrtcHeader& file, int line) {
  const std::vector<std::string> lines = split_lines(file.text);
  std::ostringstream out;
  out << "\n" << file.name << " around line " << line << ":\n";
  const int first = std::max(1, line - 2);
  const int last = std::min(static_cast<int>(lines.size()), line + 2);
  for (int n = first; n <= last; ++n) {
    out << (n == line ? "  > " : "    ");
    out.width(5);
    out << n << " | " << lines[static_cast<std::size_t>(n - 1)] << "\n";
  }
  return out.str();
}

constexpr std::size_t kMaxExcerpts = 8;

}  // namespace

struct Nvrtc::Api {
  DynamicLibrary library;
  std::string file;
  Result (*version)(int*, int*) = nullptr;
  const char* (*error_string)(Result) = nullptr;
  Result (*create_program)(Program*, const char*, const char*, int, const char* const*,
                           const char* const*) = nullptr;
  Result (*destroy_program)(Program*) = nullptr;
  Result (*compile_program)(Program, int, const char* const*) = nullptr;
  Result (*log_size)(Program, std::size_t*) = nullptr;
  Result (*log)(Program, char*) = nullptr;
  Result (*cubin_size)(Program, std::size_t*) = nullptr;
  Result (*cubin)(Program, char*) = nullptr;
  Result (*num_supported_archs)(int*) = nullptr;
  Result (*supported_archs)(int*) = nullptr;

  explicit Api(DynamicLibrary lib) : library(std::move(lib)) {
    library.resolve(version, "nvrtcVersion");
    library.resolve(error_string, "nvrtcGetErrorString");
    library.resolve(create_program, "nvrtcCreateProgram");
    library.resolve(destroy_program, "nvrtcDestroyProgram");
    library.resolve(compile_program, "nvrtcCompileProgram");
    library.resolve(log_size, "nvrtcGetProgramLogSize");
    library.resolve(log, "nvrtcGetProgramLog");
    library.resolve(cubin_size, "nvrtcGetCUBINSize");
    library.resolve(cubin, "nvrtcGetCUBIN");
    library.resolve(num_supported_archs, "nvrtcGetNumSupportedArchs");
    library.resolve(supported_archs, "nvrtcGetSupportedArchs");
    file = library.file_of("nvrtcVersion");
    if (file.empty()) file = library.name();
  }

  // Every NVRTC call goes through here: a failure is an mt::Error naming the kernel (if the
  // call is for one), the call and NVRTC's name for the result, then `detail` (the log, for a
  // compilation).
  void check(Result result, std::string_view call, std::string_view kernel,
             std::string_view detail = {}) const {
    if (result == 0) return;
    std::string message = std::string(call) + " failed (" + error_string(result) + ")";
    if (!detail.empty()) message.append(":\n").append(detail);
    if (kernel.empty()) throw Error("cuda: " + message);
    throw kernel_error(kernel, message);
  }
};

namespace {

// Owns one nvrtcProgram.
class ProgramHandle {
 public:
  explicit ProgramHandle(const Nvrtc::Api& api) : api_(api) {}
  ProgramHandle(const ProgramHandle&) = delete;
  ProgramHandle& operator=(const ProgramHandle&) = delete;
  ~ProgramHandle() {
    if (program_ != nullptr) api_.destroy_program(&program_);
  }
  Program* out() { return &program_; }
  Program get() const { return program_; }

 private:
  const Nvrtc::Api& api_;
  Program program_ = nullptr;
};

}  // namespace

Nvrtc::Nvrtc()
    : api_(std::make_unique<Api>(DynamicLibrary::open_first("NVRTC", library_candidates()))) {}

Nvrtc::~Nvrtc() = default;

const Nvrtc& Nvrtc::get() {
  // Loaded once (static initialisation is thread-safe); a failure is remembered and reported
  // on every call, so the process does not retry dlopen for each kernel.
  struct Loaded {
    std::unique_ptr<Nvrtc> nvrtc;
    std::string error;
  };
  static const Loaded loaded = [] {
    Loaded l;
    try {
      l.nvrtc.reset(new Nvrtc());
    } catch (const Error& e) {
      l.error = e.what();
    }
    return l;
  }();
  if (loaded.nvrtc == nullptr) throw Error(loaded.error);
  return *loaded.nvrtc;
}

NvrtcVersion Nvrtc::version() const {
  NvrtcVersion v;
  api_->check(api_->version(&v.major, &v.minor), "nvrtcVersion", "");
  return v;
}

const std::string& Nvrtc::library_file() const { return api_->file; }

std::vector<std::string> Nvrtc::supported_archs() const {
  int count = 0;
  api_->check(api_->num_supported_archs(&count), "nvrtcGetNumSupportedArchs", "");
  std::vector<int> archs(static_cast<std::size_t>(count));
  api_->check(api_->supported_archs(archs.data()), "nvrtcGetSupportedArchs", "");
  std::vector<std::string> out;
  for (int a : archs) out.push_back("sm_" + std::to_string(a));
  return out;
}

NvrtcOutput Nvrtc::compile(std::string_view kernel, std::string_view source, std::string_view arch,
                           std::span<const std::string> options,
                           std::span<const NvrtcHeader> headers) const {
  const std::string file_name = std::string(kernel) + ".cu";
  const std::string source_text(source);  // NVRTC wants NUL-terminated text
  std::vector<std::string> header_texts, header_names;
  for (const NvrtcHeader& h : headers) {
    header_texts.emplace_back(h.text);
    header_names.emplace_back(h.name);
  }
  std::vector<const char*> header_text_ptrs, header_name_ptrs;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    header_text_ptrs.push_back(header_texts[i].c_str());
    header_name_ptrs.push_back(header_names[i].c_str());
  }

  ProgramHandle program(*api_);
  api_->check(api_->create_program(program.out(), source_text.c_str(), file_name.c_str(),
                                   static_cast<int>(headers.size()), header_text_ptrs.data(),
                                   header_name_ptrs.data()),
              "nvrtcCreateProgram", kernel);

  std::vector<std::string> all_options{"--gpu-architecture=" + std::string(arch)};
  all_options.insert(all_options.end(), options.begin(), options.end());
  std::vector<const char*> option_ptrs;
  for (const std::string& o : all_options) option_ptrs.push_back(o.c_str());
  const Result compiled = api_->compile_program(program.get(), static_cast<int>(option_ptrs.size()),
                                                option_ptrs.data());

  NvrtcOutput out;
  std::size_t log_size = 0;
  api_->check(api_->log_size(program.get(), &log_size), "nvrtcGetProgramLogSize", kernel);
  std::string log(log_size, '\0');
  if (log_size > 0) api_->check(api_->log(program.get(), log.data()), "nvrtcGetProgramLog", kernel);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  out.log = log;

  if (compiled != 0) {
    std::vector<NvrtcHeader> files{{file_name, source}};
    files.insert(files.end(), headers.begin(), headers.end());
    std::string detail = log;
    std::size_t shown = 0;
    for (const auto& [name, line] : cited_lines(log, files)) {
      if (shown++ == kMaxExcerpts) break;
      for (const NvrtcHeader& f : files) {
        if (f.name == name) detail += excerpt(f, line);
      }
    }
    api_->check(compiled, "nvrtcCompileProgram", kernel, detail);
  }

  std::size_t cubin_size = 0;
  api_->check(api_->cubin_size(program.get(), &cubin_size), "nvrtcGetCUBINSize", kernel);
  out.cubin.resize(cubin_size);
  if (cubin_size > 0) {
    api_->check(api_->cubin(program.get(), reinterpret_cast<char*>(out.cubin.data())),
                "nvrtcGetCUBIN", kernel);
  }
  return out;
}

const std::string& cuda_include_dir() {
  struct Found {
    std::string dir;
    std::string error;
  };
  static const Found found = [] {
    std::vector<std::string> candidates;
    for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
      if (const std::string root = env(var); !root.empty()) candidates.push_back(root + "/include");
    }
    try {
      const std::filesystem::path lib(Nvrtc::get().library_file());
      candidates.push_back((lib.parent_path() / ".." / "include").lexically_normal().string());
    } catch (const Error&) {
      // Without NVRTC there is nothing to compile; the remaining candidates still answer.
    }
    candidates.emplace_back("/usr/local/cuda/include");
    Found f;
    for (const std::string& dir : candidates) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(std::filesystem::path(dir) / "cuda_fp16.h", ec)) {
        f.dir = dir;
        return f;
      }
    }
    f.error = "cuda: no CUDA include directory with cuda_fp16.h (set CUDA_HOME); tried";
    for (const std::string& dir : candidates) f.error += " " + dir;
    return f;
  }();
  if (found.dir.empty()) throw Error(found.error);
  return found.dir;
}

}  // namespace mt::cuda
