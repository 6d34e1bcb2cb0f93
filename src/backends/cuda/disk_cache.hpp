// The on-disk half of the CUDA compile cache: one file per key under a directory, written
// atomically (a temporary file in the same directory, then rename) and read back only if its
// header (magic, format version, key, payload length, payload checksum) proves it whole. Safe
// for concurrent processes: a reader sees either no file or a complete one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "backends/cuda/content_hash.hpp"

namespace mt::cuda {

// Where the cache lives: $MT_CACHE_DIR if set (tests), else $XDG_CACHE_HOME/metaltile, else
// $HOME/.cache/metaltile; empty when none of these is set (the cache is then memory only).
std::filesystem::path default_cache_dir();

class DiskCache {
 public:
  enum class Found { Hit, Miss, Corrupt };
  struct Loaded {
    Found found = Found::Miss;
    std::vector<std::uint8_t> payload;  // the entry's bytes, on a Hit
  };

  // An empty `dir` disables the cache: every load misses and store does nothing.
  explicit DiskCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The entry for `key`. An entry whose header or checksum does not match (truncated, corrupt,
  // another format) is deleted and reported as Corrupt, so the caller recompiles and stores it.
  // A path that is no regular file (a directory, a FIFO: never waited on) or that fails to read
  // is Corrupt too but left where it is; one that cannot be opened is a Miss. Never throws.
  Loaded load(const Hash128& key) const;
  // Writes the entry atomically, creating the directory if needed. Returns false (and leaves no
  // temporary file) if it cannot: a cache that cannot be written only costs a recompile.
  bool store(const Hash128& key, std::span<const std::uint8_t> payload) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const Hash128& key) const;

  // The file format, for tests that damage an entry on purpose.
  static constexpr std::size_t kHeaderBytes = 48;
  static constexpr std::uint32_t kFormatVersion = 1;

 private:
  std::filesystem::path dir_;
};

}  // namespace mt::cuda
