// Cache entries on disk: the file layout, atomic writes and verified reads.
//
// An entry is one file "<key hex>.cubin":
//   bytes  0..7   magic "MTCUBIN\0"
//          8..11  format version (u32, little-endian)
//         12..15  zero
//         16..31  the key (hi, lo: u64 each)
//         32..39  payload length (u64)
//         40..47  payload checksum (mix_64 with kChecksumSeed)
//         48..    payload
#include "backends/cuda/disk_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>

namespace mt::cuda {
namespace {

constexpr char kMagic[8] = {'M', 'T', 'C', 'U', 'B', 'I', 'N', '\0'};
constexpr std::uint64_t kChecksumSeed = 0x6D74637562696E31ull;  // "mtcubin1"

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint64_t get_le(const std::vector<std::uint8_t>& in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= std::uint64_t{in[at + static_cast<std::size_t>(i)]} << (8 * i);
  return v;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// A name no other writer (thread or process) uses at the same time. Appended piece by piece:
// g++ 12 at -O3 misreads "." + a temporary string as an overlapping copy (-Wrestrict).
std::string temporary_name(const Hash128& key) {
  static std::atomic<std::uint64_t> counter{0};
  std::string name = ".";
  name.append(key.hex()).append(".tmp.").append(std::to_string(::getpid())).append(".");
  name.append(std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  name.append(".").append(std::to_string(counter++));
  return name;
}

enum class Read { Missing, Unusable, Whole };

// Reads the whole regular file at `path` into `bytes` without ever blocking or throwing: it is
// opened non-blocking (a FIFO must not wait for a writer) and then checked to be a regular file
// (a directory, FIFO, socket or device is Unusable, as is a failed read). Missing when it cannot
// be opened at all (no entry, no permission, a dangling link: the same to a cache).
Read read_regular_file(const std::filesystem::path& path, std::vector<std::uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Read::Missing;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) return Read::Unusable;
  bytes.clear();
  bytes.reserve(static_cast<std::size_t>(info.st_size));
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      bytes.insert(bytes.end(), chunk, chunk + n);
    } else if (n == 0) {
      return Read::Whole;
    } else if (errno != EINTR) {
      return Read::Unusable;
    }
  }
}

}  // namespace

std::filesystem::path default_cache_dir() {
  if (const std::string dir = env("MT_CACHE_DIR"); !dir.empty()) return dir;
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) {
    return std::filesystem::path(xdg) / "metaltile";
  }
  if (const std::string home = env("HOME"); !home.empty()) {
    return std::filesystem::path(home) / ".cache" / "metaltile";
  }
  return {};
}

std::filesystem::path DiskCache::path_of(const Hash128& key) const {
  return dir_ / (key.hex() + ".cubin");
}

DiskCache::Loaded DiskCache::load(const Hash128& key) const {
  Loaded result;
  if (dir_.empty()) return result;
  const std::filesystem::path path = path_of(key);
  std::vector<std::uint8_t> bytes;
  const Read read = read_regular_file(path, bytes);
  if (read == Read::Missing) return result;
  if (read == Read::Unusable) {
    // Not ours to delete (a directory, a FIFO): recompile; store replaces it where it can.
    result.found = Found::Corrupt;
    return result;
  }

  const auto whole = [&] {
    if (bytes.size() < kHeaderBytes) return false;
    if (!std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin())) return false;
    if (get_le(bytes, 8, 4) != kFormatVersion || get_le(bytes, 12, 4) != 0) return false;
    if (get_le(bytes, 16, 8) != key.hi || get_le(bytes, 24, 8) != key.lo) return false;
    if (get_le(bytes, 32, 8) != bytes.size() - kHeaderBytes) return false;
    const std::span<const std::uint8_t> payload(bytes.data() + kHeaderBytes,
                                                bytes.size() - kHeaderBytes);
    return get_le(bytes, 40, 8) == mix_64(payload, kChecksumSeed);
  };
  if (!whole()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);  // a failed removal only means it is rewritten later
    result.found = Found::Corrupt;
    return result;
  }
  result.found = Found::Hit;
  result.payload.assign(bytes.begin() + kHeaderBytes, bytes.end());
  return result;
}

bool DiskCache::store(const Hash128& key, std::span<const std::uint8_t> payload) const {
  if (dir_.empty()) return false;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return false;

  std::vector<std::uint8_t> header;
  header.reserve(kHeaderBytes);
  header.insert(header.end(), std::begin(kMagic), std::end(kMagic));
  put_u32(header, kFormatVersion);
  put_u32(header, 0);
  put_u64(header, key.hi);
  put_u64(header, key.lo);
  put_u64(header, payload.size());
  put_u64(header, mix_64(payload, kChecksumSeed));

  const std::filesystem::path temporary = dir_ / temporary_name(key);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (out) {
      out.write(reinterpret_cast<const char*>(header.data()),
                static_cast<std::streamsize>(header.size()));
      out.write(reinterpret_cast<const char*>(payload.data()),
                static_cast<std::streamsize>(payload.size()));
      out.close();
    }
    if (!out) {
      std::filesystem::remove(temporary, ec);
      return false;
    }
  }
  // rename() replaces an existing entry atomically: a concurrent reader sees the old file or the
  // new one, and two writers of one key write the same bytes.
  std::filesystem::rename(temporary, path_of(key), ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    return false;
  }
  return true;
}

}  // namespace mt::cuda
