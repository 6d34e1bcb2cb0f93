// The CUDA compile cache without a GPU: the content hashes, disk entries (store/load, corrupt,
// truncated, foreign and misplaced entries, entries that are directories, FIFOs or broken
// links, an unwritable directory, concurrent writer threads and processes), the memory layer
// and its counters, and a second process that loads a cubin from disk without compiling (this
// binary re-executes itself as that process).
#include "backends/cuda/disk_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/cubin_cache.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "support/nvrtc.hpp"
#include "support/process.hpp"

namespace mt::cuda {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mt_disk_cache_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.is_regular_file() ? 1 : 0;
  return n;
}

// A payload with every byte value, so no byte is special.
Bytes payload(std::size_t n, std::uint8_t salt = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + salt);
  return b;
}

const Hash128 kKey = hash_parts({"kernel source", "sm_90"});

// --- hashes ------------------------------------------------------------------------------------

TEST(ContentHash, Fnv1aMatchesTheReferenceValues) {
  EXPECT_EQ(fnv1a_64(bytes_of("")), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a_64(bytes_of("a")), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a_64(bytes_of("foobar")), 0x85944171f73967e8ull);
}

TEST(ContentHash, EveryByteAndTheLengthMatter) {
  const Bytes base = payload(100);
  const std::uint64_t h = mix_64(base);
  for (std::size_t i = 0; i < base.size(); ++i) {
    Bytes changed = base;
    changed[i] ^= 1;
    EXPECT_NE(mix_64(changed), h) << "byte " << i;
  }
  Bytes longer = base;
  longer.push_back(0);
  EXPECT_NE(mix_64(longer), h);
  EXPECT_NE(mix_64(base, 1), h) << "the seed";
}

TEST(ContentHash, PartsAreDelimited) {
  EXPECT_NE(hash_parts({"ab", "c"}), hash_parts({"a", "bc"}));
  EXPECT_NE(hash_parts({"abc"}), hash_parts({"abc", ""}));
  EXPECT_EQ(hash_parts({"ab", "c"}), hash_parts({"ab", "c"}));
  const std::string hex = Hash128{0x0123456789abcdefull, 0xfedcba9876543210ull}.hex();
  EXPECT_EQ(hex, "0123456789abcdeffedcba9876543210");
}

// --- disk entries ------------------------------------------------------------------------------

TEST(DiskCache, StoreThenLoadReturnsThePayload) {
  const TempDir dir;
  const DiskCache cache(dir.path() / "nested" / "cache");  // created on store
  EXPECT_EQ(cache.load(kKey).found, DiskCache::Found::Miss);
  const Bytes data = payload(5000);
  ASSERT_TRUE(cache.store(kKey, data));
  const DiskCache::Loaded loaded = cache.load(kKey);
  ASSERT_EQ(loaded.found, DiskCache::Found::Hit);
  EXPECT_EQ(loaded.payload, data);
  EXPECT_EQ(fs::file_size(cache.path_of(kKey)), DiskCache::kHeaderBytes + data.size());
  EXPECT_EQ(files_in(cache.dir()), 1u) << "a temporary file was left behind";
  // An empty payload is an entry too.
  const Hash128 other = hash_parts({"empty"});
  ASSERT_TRUE(cache.store(other, {}));
  EXPECT_EQ(cache.load(other).found, DiskCache::Found::Hit);
  EXPECT_TRUE(cache.load(other).payload.empty());
}

// Damages the stored entry with `damage` and expects load to report Corrupt and delete it, and a
// store to repair it.
void expect_detected(const std::string& what, const std::function<void(Bytes&)>& damage) {
  SCOPED_TRACE(what);
  const TempDir dir;
  const DiskCache cache(dir.path());
  const Bytes data = payload(300, 3);
  ASSERT_TRUE(cache.store(kKey, data));
  Bytes file = read_file(cache.path_of(kKey));
  damage(file);
  write_file(cache.path_of(kKey), file);
  EXPECT_EQ(cache.load(kKey).found, DiskCache::Found::Corrupt);
  EXPECT_FALSE(fs::exists(cache.path_of(kKey))) << "a corrupt entry was kept";
  EXPECT_EQ(cache.load(kKey).found, DiskCache::Found::Miss);
  ASSERT_TRUE(cache.store(kKey, data));
  EXPECT_EQ(cache.load(kKey).payload, data);
}

TEST(DiskCache, ACorruptEntryIsDetectedDeletedAndRewritten) {
  expect_detected("a payload bit flipped",
                  [](Bytes& f) { f[DiskCache::kHeaderBytes + 100] ^= 0x10; });
  expect_detected("the last payload byte changed", [](Bytes& f) { f.back() ^= 0xFF; });
  expect_detected("the checksum changed", [](Bytes& f) { f[40] ^= 1; });
  expect_detected("the magic changed", [](Bytes& f) { f[0] = 'X'; });
  expect_detected("another format version", [](Bytes& f) { f[8] += 1; });
  expect_detected("the stored key differs", [](Bytes& f) { f[20] ^= 1; });
  expect_detected("a byte appended", [](Bytes& f) { f.push_back(0); });
}

TEST(DiskCache, ATruncatedEntryIsDetected) {
  expect_detected("cut in the payload", [](Bytes& f) { f.resize(f.size() - 1); });
  expect_detected("cut in the header", [](Bytes& f) { f.resize(20); });
  expect_detected("empty file", [](Bytes& f) { f.clear(); });
  expect_detected("header only", [](Bytes& f) { f.resize(DiskCache::kHeaderBytes); });
}

TEST(DiskCache, AnEntryUnderAnotherKeysNameIsRejected) {
  const TempDir dir;
  const DiskCache cache(dir.path());
  const Hash128 other = hash_parts({"other source"});
  ASSERT_TRUE(cache.store(other, payload(64)));
  fs::copy_file(cache.path_of(other), cache.path_of(kKey));
  EXPECT_EQ(cache.load(kKey).found, DiskCache::Found::Corrupt);
  EXPECT_EQ(cache.load(other).found, DiskCache::Found::Hit);
}

// load(key) on a worker thread, failing the whole binary rather than hanging if it blocks (a
// FIFO opened for reading waits for a writer).
DiskCache::Found load_within_seconds(const DiskCache& cache, const Hash128& key) {
  std::future<DiskCache::Found> found =
      std::async(std::launch::async, [&] { return cache.load(key).found; });
  if (found.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    std::cerr << "DiskCache::load blocked for 10 s" << std::endl;
    std::_Exit(1);  // the blocked thread cannot be joined
  }
  return found.get();
}

// An entry path that is no regular file, or that cannot be opened, is never read as an entry:
// load neither throws (a directory used to throw std::ios_base::failure) nor blocks (a FIFO
// used to hang), and the cubin cache compiles instead, each time it is asked.
TEST(DiskCache, AnEntryThatIsNoRegularFileFallsBackToCompiling) {
  struct Case {
    const char* what;
    std::function<void(const fs::path&)> make;
    DiskCache::Found found;
  };
  const std::vector<Case> cases = {
      {"a directory", [](const fs::path& p) { fs::create_directory(p); },
       DiskCache::Found::Corrupt},
      {"a directory with files",
       [](const fs::path& p) {
         fs::create_directory(p);
         write_file(p / "inside", payload(8));
       },
       DiskCache::Found::Corrupt},
      {"a FIFO", [](const fs::path& p) { ASSERT_EQ(mkfifo(p.c_str(), 0600), 0); },
       DiskCache::Found::Corrupt},
      {"a dangling symlink", [](const fs::path& p) { fs::create_symlink(p.string() + ".gone", p); },
       DiskCache::Found::Miss},
      {"a symlink loop", [](const fs::path& p) { fs::create_symlink(p, p); },
       DiskCache::Found::Miss},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const TempDir dir;
    const DiskCache disk(dir.path());
    c.make(disk.path_of(kKey));
    EXPECT_EQ(load_within_seconds(disk, kKey), c.found);
    EXPECT_EQ(load_within_seconds(disk, kKey), c.found) << "a second load differs";
    CubinCache cache;
    int compiles = 0;
    const auto compile = [&] {
      ++compiles;
      return payload(64, 5);
    };
    for (int i = 0; i < 2; ++i) {
      cache.clear_memory();
      EXPECT_EQ(*cache.get_or_compile(kKey, dir.path(), compile), payload(64, 5));
    }
    // Compiled on the first call; the second reads the stored entry unless a directory is in
    // its way (the store cannot replace it), when it compiles again.
    const bool blocked = fs::is_directory(disk.path_of(kKey));
    EXPECT_EQ(compiles, blocked ? 2 : 1);
  }
}

TEST(DiskCache, AnUnwritableDirectoryFailsQuietlyAndAnEmptyOneDisables) {
  const TempDir dir;
  const fs::path file = dir.path() / "not_a_directory";
  write_file(file, payload(4));
  const DiskCache blocked(file / "cache");
  EXPECT_FALSE(blocked.store(kKey, payload(10)));
  EXPECT_EQ(blocked.load(kKey).found, DiskCache::Found::Miss);

  const DiskCache disabled{fs::path()};
  EXPECT_FALSE(disabled.store(kKey, payload(10)));
  EXPECT_EQ(disabled.load(kKey).found, DiskCache::Found::Miss);
}

TEST(DiskCache, DefaultDirectoryFollowsTheEnvironment) {
  const char* saved = std::getenv("MT_CACHE_DIR");
  const std::string old = saved != nullptr ? saved : "";
  setenv("MT_CACHE_DIR", "/tmp/mt_explicit", 1);
  EXPECT_EQ(default_cache_dir(), fs::path("/tmp/mt_explicit"));
  unsetenv("MT_CACHE_DIR");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') {
    EXPECT_EQ(default_cache_dir(), fs::path(xdg) / "metaltile");
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    EXPECT_EQ(default_cache_dir(), fs::path(home) / ".cache" / "metaltile");
  }
  if (saved != nullptr) setenv("MT_CACHE_DIR", old.c_str(), 1);
}

// Writers of one key race with readers: a reader sees a whole entry or none, never a torn one.
TEST(DiskCache, ConcurrentWriterThreadsNeverExposeATornEntry) {
  const TempDir dir;
  const DiskCache cache(dir.path());
  const Bytes data = payload(64 * 1024, 5);
  std::atomic<int> torn{0}, wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        if ((i + t) % 2 == 0) {
          if (!cache.store(kKey, data)) ++failed;
        } else {
          const DiskCache::Loaded l = cache.load(kKey);
          if (l.found == DiskCache::Found::Corrupt) ++torn;
          if (l.found == DiskCache::Found::Hit && l.payload != data) ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(cache.load(kKey).payload, data);
  EXPECT_EQ(files_in(dir.path()), 1u) << "temporary files were left behind";
}

TEST(DiskCache, ConcurrentWriterProcessesNeverExposeATornEntry) {
  const TempDir dir;
  const Bytes data = payload(256 * 1024, 9);
  std::vector<pid_t> children;
  for (int c = 0; c < 4; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      // The child only touches the cache, then leaves without running gtest's exit handlers.
      const DiskCache cache(dir.path());
      int bad = 0;
      for (int i = 0; i < 30; ++i) {
        if ((i + c) % 2 == 0) {
          bad += cache.store(kKey, data) ? 0 : 1;
        } else {
          const DiskCache::Loaded l = cache.load(kKey);
          bad += l.found == DiskCache::Found::Corrupt ? 1 : 0;
          bad += l.found == DiskCache::Found::Hit && l.payload != data ? 1 : 0;
        }
      }
      _exit(bad > 100 ? 100 : bad);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "torn, wrong or failed operations in child " << pid;
  }
  EXPECT_EQ(DiskCache(dir.path()).load(kKey).payload, data);
  EXPECT_EQ(files_in(dir.path()), 1u) << "temporary files were left behind";
}

// --- the memory layer --------------------------------------------------------------------------

TEST(CubinCache, MemoryThenDiskThenCompileWithCounters) {
  const TempDir dir;
  CubinCache cache;
  int compiles = 0;
  const auto compile = [&] {
    ++compiles;
    return payload(1000, 1);
  };
  const Cubin first = cache.get_or_compile(kKey, dir.path(), compile);
  EXPECT_EQ(*first, payload(1000, 1));
  EXPECT_EQ(compiles, 1);
  const Cubin again = cache.get_or_compile(kKey, dir.path(), compile);
  EXPECT_EQ(again, first) << "a memory hit returns the same cubin";
  cache.clear_memory();
  const Cubin from_disk = cache.get_or_compile(kKey, dir.path(), compile);
  EXPECT_EQ(*from_disk, *first);
  EXPECT_EQ(compiles, 1) << "the disk entry was not used";
  CubinCacheCounters c = cache.counters();
  EXPECT_EQ(c.compiles, 1u);
  EXPECT_EQ(c.memory_hits, 1u);
  EXPECT_EQ(c.disk_hits, 1u);
  EXPECT_EQ(c.disk_writes, 1u);
  EXPECT_EQ(c.corrupt_entries, 0u);

  // A damaged entry is recompiled and rewritten.
  cache.clear_memory();
  Bytes file = read_file(DiskCache(dir.path()).path_of(kKey));
  file[DiskCache::kHeaderBytes] ^= 1;
  write_file(DiskCache(dir.path()).path_of(kKey), file);
  EXPECT_EQ(*cache.get_or_compile(kKey, dir.path(), compile), payload(1000, 1));
  EXPECT_EQ(compiles, 2);
  c = cache.counters();
  EXPECT_EQ(c.corrupt_entries, 1u);
  EXPECT_EQ(c.disk_writes, 2u);
  EXPECT_EQ(DiskCache(dir.path()).load(kKey).found, DiskCache::Found::Hit);
}

TEST(CubinCache, ConcurrentRequestsCompileOnceAndAFailureCachesNothing) {
  const TempDir dir;
  CubinCache cache;
  std::atomic<int> compiles{0};
  std::vector<std::thread> threads;
  std::vector<Cubin> got(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      got[static_cast<std::size_t>(t)] = cache.get_or_compile(kKey, dir.path(), [&] {
        ++compiles;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return payload(10);
      });
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(compiles.load(), 1);
  for (const Cubin& c : got) EXPECT_EQ(c, got[0]);

  const Hash128 failing = hash_parts({"does not compile"});
  EXPECT_THROW(
      cache.get_or_compile(failing, dir.path(), []() -> Bytes { throw Error("kernel 'k': no"); }),
      Error);
  EXPECT_EQ(DiskCache(dir.path()).load(failing).found, DiskCache::Found::Miss);
  int retried = 0;
  cache.get_or_compile(failing, dir.path(), [&] {
    ++retried;
    return payload(3);
  });
  EXPECT_EQ(retried, 1) << "a failed compile must not be cached";
}

// --- a second process --------------------------------------------------------------------------

// When this binary runs with MT_CUBIN_CACHE_CHILD set, it is the "second process": it gets one
// cubin through the cache, prints the counters and exits before any test runs.
//   fake:  CubinCache::process() with a compile that stands in for NVRTC;
//   nvrtc: cached_cubin() of a registered kernel, through NVRTC.
Bytes child_cubin(const std::string& mode, bool& compiled) {
  if (mode == "fake") {
    return *CubinCache::process().get_or_compile(kKey, default_cache_dir(), [&] {
      compiled = true;
      return payload(2048, 7);
    });
  }
  const Kernel k = passes::optimise(build_kernel("bulk_dequant_kv_int4", DType::F16));
  return *cached_cubin(k, EmitOptions{.checked = true}, "sm_90").cubin;
}

const bool kIsChild = [] {
  const char* mode = std::getenv("MT_CUBIN_CACHE_CHILD");
  if (mode == nullptr || *mode == '\0') return false;
  try {
    bool compiled = false;
    const Bytes cubin = child_cubin(mode, compiled);
    const CubinCacheCounters c = CubinCache::process().counters();
    std::printf("compiles=%llu disk_hits=%llu memory_hits=%llu bytes=%zu hash=%s\n",
                static_cast<unsigned long long>(c.compiles),
                static_cast<unsigned long long>(c.disk_hits),
                static_cast<unsigned long long>(c.memory_hits), cubin.size(),
                Hash128{fnv1a_64(cubin), mix_64(cubin)}.hex().c_str());
    std::fflush(stdout);
    _exit(0);
  } catch (const std::exception& e) {
    std::printf("child failed: %s\n", e.what());
    std::fflush(stdout);
    _exit(3);
  }
}();

test::CommandResult run_child(const std::string& mode, const fs::path& cache_dir) {
  return test::run_command("MT_CUBIN_CACHE_CHILD=" + mode + " MT_CACHE_DIR='" + cache_dir.string() +
                           "' /proc/" + std::to_string(getpid()) + "/exe 2>&1");
}

std::string field(const std::string& output, const std::string& name) {
  const std::size_t at = output.find(name + "=");
  if (at == std::string::npos) return "<missing>";
  const std::size_t start = at + name.size() + 1;
  return output.substr(start, output.find_first_of(" \n", start) - start);
}

void expect_second_process_reads_disk(const std::string& mode) {
  ASSERT_FALSE(kIsChild);
  const TempDir dir;
  const test::CommandResult first = run_child(mode, dir.path());
  ASSERT_EQ(first.status, 0) << first.output;
  std::cout << "  first process:  " << first.output;
  EXPECT_EQ(field(first.output, "compiles"), "1") << first.output;
  EXPECT_EQ(field(first.output, "disk_hits"), "0") << first.output;

  const test::CommandResult second = run_child(mode, dir.path());
  ASSERT_EQ(second.status, 0) << second.output;
  std::cout << "  second process: " << second.output;
  EXPECT_EQ(field(second.output, "compiles"), "0")
      << "the second process compiled: " << second.output;
  EXPECT_EQ(field(second.output, "disk_hits"), "1") << second.output;
  EXPECT_EQ(field(second.output, "hash"), field(first.output, "hash")) << "different cubins";
  EXPECT_EQ(field(second.output, "bytes"), field(first.output, "bytes"));
}

TEST(CubinCacheProcesses, ASecondProcessLoadsFromDiskWithoutCompiling) {
  expect_second_process_reads_disk("fake");
}

TEST(CubinCacheProcesses, ASecondProcessLoadsAnNvrtcCubinFromDisk) {
  MT_REQUIRE_NVRTC();
  expect_second_process_reads_disk("nvrtc");
}

}  // namespace
}  // namespace mt::cuda
