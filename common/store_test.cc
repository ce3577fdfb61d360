#include "common/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "test/support/temp_dir.h"

namespace vmc {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

StoreOptions Options(std::size_t initial_map_size = 64 * kMiB) {
  StoreOptions options;
  options.databases = {"items", "other"};
  options.initial_map_size = initial_map_size;
  return options;
}

std::unique_ptr<Environment> OpenOrNull(const std::filesystem::path& dir,
                                        const StoreOptions& options) {
  auto env = Environment::Open(dir, options);
  EXPECT_TRUE(env.ok()) << env.error().ToString();
  return env.ok() ? std::move(*env) : nullptr;
}

Status Put(Environment& env, std::string_view db, std::string_view key, std::string_view value) {
  return env.Update([&](WriteTxn& txn) { return txn.Put(db, key, value); });
}

// The value under `key`, "<absent>" if there is none, "<error: ...>" on failure.
std::string Get(const Environment& env, std::string_view db, std::string_view key) {
  std::string out;
  const Status status = env.View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(db, key));
    out = value.has_value() ? *value : "<absent>";
    return Ok();
  });
  return status.ok() ? out : "<error: " + status.error().ToString() + ">";
}

std::uint64_t Count(const Environment& env, std::string_view db) {
  std::uint64_t n = 0;
  const Status status = env.View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(n, txn.Count(db));
    return Ok();
  });
  EXPECT_TRUE(status.ok()) << status.error().ToString();
  return n;
}

std::map<std::string, std::string> Scan(const Environment& env, std::string_view db,
                                        std::string_view prefix) {
  std::map<std::string, std::string> seen;
  const Status status = env.View([&](ReadTxn& txn) {
    return txn.ForEachWithPrefix(db, prefix, [&](std::string_view k, std::string_view v) {
      seen.emplace(k, v);
      return Ok();
    });
  });
  EXPECT_TRUE(status.ok()) << status.error().ToString();
  return seen;
}

// A value that differs per key, so that a mix-up shows.
std::string ValueFor(int i, std::size_t size) {
  std::string value(size, static_cast<char>('a' + i % 26));
  const std::string tag = std::to_string(i);
  value.replace(0, tag.size(), tag);
  return value;
}

std::string KeyFor(std::string_view prefix, int i) {
  std::string digits = std::to_string(i);
  return std::string(prefix) + std::string(6 - std::min<std::size_t>(6, digits.size()), '0') +
         digits;
}

TEST(StoreTest, PutGetDelete) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);

  ASSERT_TRUE(Put(*env, "items", "k1", "v1").ok());
  EXPECT_EQ(Get(*env, "items", "k1"), "v1");
  EXPECT_EQ(Get(*env, "items", "k2"), "<absent>");
  ASSERT_TRUE(Put(*env, "items", "k1", "replaced").ok());
  EXPECT_EQ(Get(*env, "items", "k1"), "replaced");
  EXPECT_EQ(Count(*env, "items"), 1U);

  std::vector<bool> deleted;
  ASSERT_TRUE(env->Update([&](WriteTxn& txn) -> Status {
                   for (int i = 0; i < 2; ++i) {
                     VMC_ASSIGN_OR_RETURN(const bool was_there, txn.Delete("items", "k1"));
                     deleted.push_back(was_there);
                   }
                   return Ok();
                 })
                  .ok());
  EXPECT_EQ(deleted, (std::vector<bool>{true, false}));
  EXPECT_EQ(Get(*env, "items", "k1"), "<absent>");
  EXPECT_EQ(Count(*env, "items"), 0U);
}

TEST(StoreTest, ValuesAreBinaryAndMayBeEmpty) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  const std::string binary("\0\xff\n\0", 4);
  ASSERT_TRUE(Put(*env, "items", std::string("k\0ey", 4), binary).ok());
  ASSERT_TRUE(Put(*env, "items", "empty", "").ok());
  EXPECT_EQ(Get(*env, "items", std::string("k\0ey", 4)), binary);
  EXPECT_EQ(Get(*env, "items", "empty"), "");
}

TEST(StoreTest, DatabasesAreSeparate) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "k", "in items").ok());
  ASSERT_TRUE(Put(*env, "other", "k", "in other").ok());
  EXPECT_EQ(Get(*env, "items", "k"), "in items");
  EXPECT_EQ(Get(*env, "other", "k"), "in other");
}

TEST(StoreTest, UnknownDatabaseIsAnError) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  const Status status = Put(*env, "itmes", "k", "v");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorage);
  EXPECT_NE(status.error().message().find("'itmes'"), std::string::npos)
      << status.error().message();
}

TEST(StoreTest, OversizedKeyIsAnErrorNamingTheDatabase) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  const Status status = Put(*env, "items", std::string(512, 'k'), "v");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorage);
  EXPECT_NE(status.error().message().find("'items'"), std::string::npos);
  EXPECT_NE(status.error().message().find((dir / "db").string()), std::string::npos);
  EXPECT_EQ(Count(*env, "items"), 0U);
}

TEST(StoreTest, PrefixIterationVisitsMatchingKeysInOrder) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->Update([](WriteTxn& txn) -> Status {
                   for (const char* key : {"a", "a/1", "a/10", "a/2", "a0", "b/1", "a/\xff"}) {
                     VMC_RETURN_IF_ERROR(txn.Put("items", key, std::string("v:") + key));
                   }
                   return txn.Put("other", "a/other", "x");
                 })
                  .ok());

  std::vector<std::string> keys;
  ASSERT_TRUE(env->View([&](ReadTxn& txn) {
                   return txn.ForEachWithPrefix("items", "a/",
                                                [&](std::string_view k, std::string_view v) {
                                                  EXPECT_EQ(v, "v:" + std::string(k));
                                                  keys.emplace_back(k);
                                                  return Ok();
                                                });
                 })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a/1", "a/10", "a/2", "a/\xff"}));

  EXPECT_EQ(Scan(*env, "items", "").size(), 7U);
  EXPECT_EQ(Scan(*env, "items", "a").size(), 6U);
  EXPECT_EQ(Scan(*env, "items", "b/1").size(), 1U);
  EXPECT_TRUE(Scan(*env, "items", "c").empty());    // past the last key
  EXPECT_TRUE(Scan(*env, "items", "0").empty());    // before the first key
  EXPECT_TRUE(Scan(*env, "items", "a/3").empty());  // between keys
}

TEST(StoreTest, PrefixIterationStopsAtTheFirstError) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->Update([](WriteTxn& txn) -> Status {
                   for (int i = 0; i < 10; ++i)
                     VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("p", i), "v"));
                   return Ok();
                 })
                  .ok());
  int calls = 0;
  const Status status = env->View([&](ReadTxn& txn) {
    return txn.ForEachWithPrefix("items", "p", [&](std::string_view, std::string_view) -> Status {
      if (++calls == 3) return Error(ErrorCode::kInvalidValue, "third entry is bad");
      return Ok();
    });
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidValue);
  EXPECT_EQ(calls, 3);
}

TEST(StoreTest, DeletingDuringIterationVisitsEveryEntry) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  // Enough entries for many pages, so that deletes merge and rebalance pages
  // under the cursor.
  constexpr int kEntries = 5000;
  ASSERT_TRUE(env->Update([](WriteTxn& txn) -> Status {
                   for (int i = 0; i < kEntries; ++i) {
                     VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("p/", i), ValueFor(i, 100)));
                     VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("q/", i), ValueFor(i, 100)));
                   }
                   return Ok();
                 })
                  .ok());

  // One iteration deletes the odd entries of p/ and must still see every
  // entry once; a second sees the even ones left and deletes them all.
  struct Pass {
    int stride;        // between the keys it sees
    bool delete_even;  // besides the odd ones
  };
  for (const Pass pass : {Pass{1, false}, Pass{2, true}}) {
    int visited = 0;
    int expected = 0;
    ASSERT_TRUE(env->Update([&](WriteTxn& txn) {
                     visited = 0;
                     expected = 0;
                     return txn.ForEachWithPrefix(
                         "items", "p/", [&](std::string_view k, std::string_view) -> Status {
                           const int i = std::stoi(std::string(k.substr(2)));
                           EXPECT_EQ(i, expected);
                           expected = i + pass.stride;
                           ++visited;
                           if (i % 2 == 1 || pass.delete_even) {
                             VMC_ASSIGN_OR_RETURN(const bool deleted, txn.Delete("items", k));
                             EXPECT_TRUE(deleted);
                           }
                           return Ok();
                         });
                   })
                    .ok());
    EXPECT_EQ(visited, kEntries / pass.stride);
  }
  EXPECT_TRUE(Scan(*env, "items", "p/").empty());
  EXPECT_EQ(Count(*env, "items"), static_cast<std::uint64_t>(kEntries));
}

TEST(StoreTest, ErrorFromTheFunctionLeavesNothing) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "kept", "old").ok());

  const Status status = env->Update([](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(txn.Put("items", "new", "v"));
    VMC_RETURN_IF_ERROR(txn.Put("items", "kept", "changed"));
    VMC_RETURN_IF_ERROR(txn.Put("other", "new", "v"));
    return Error(ErrorCode::kVersionRollback, "refused after writing");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kVersionRollback);
  EXPECT_EQ(status.error().message(), "refused after writing");

  EXPECT_EQ(Get(*env, "items", "new"), "<absent>");
  EXPECT_EQ(Get(*env, "items", "kept"), "old");
  EXPECT_EQ(Count(*env, "other"), 0U);
}

TEST(StoreTest, ExceptionFromTheFunctionAbortsAndReleasesTheWriter) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  EXPECT_THROW((void)env->Update([](WriteTxn& txn) -> Status {
    (void)txn.Put("items", "k", "v");
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(Get(*env, "items", "k"), "<absent>");
  // The writer lock was released: a second write does not hang.
  EXPECT_TRUE(Put(*env, "items", "k", "v2").ok());
  EXPECT_EQ(Get(*env, "items", "k"), "v2");
}

TEST(StoreTest, NestedTransactionsAreRefusedNotDeadlocked) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  Status inner = Ok();
  ASSERT_TRUE(env->View([&](ReadTxn&) {
                   inner = Put(*env, "items", "k", "v");
                   return Ok();
                 })
                  .ok());
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code(), ErrorCode::kStorage);
  EXPECT_NE(inner.error().message().find("inside another"), std::string::npos);

  inner = Ok();
  ASSERT_TRUE(env->Update([&](WriteTxn&) {
                   inner = env->View([](ReadTxn&) { return Ok(); });
                   return Ok();
                 })
                  .ok());
  EXPECT_FALSE(inner.ok());
  EXPECT_EQ(Get(*env, "items", "k"), "<absent>");
}

TEST(StoreTest, OpenCreatesPrivateDirectoriesAndReopenKeepsData) {
  test::TempDir dir;
  const auto path = dir / "state" / "db";
  {
    auto env = OpenOrNull(path, Options());
    ASSERT_NE(env, nullptr);
    EXPECT_EQ(env->path(), path);
    ASSERT_TRUE(Put(*env, "items", "k", "v").ok());
  }
  for (const auto& d : {dir / "state", path}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U) << d;
  }
  struct stat st {};
  ASSERT_EQ(::stat((path / "data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0U);

  // Smaller than the data would need: LMDB keeps what is in use.
  auto env = OpenOrNull(path, Options(4096));
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(Get(*env, "items", "k"), "v");
}

TEST(StoreTest, OpenOnAFileNamesThePath) {
  test::TempDir dir;
  test::WriteFile(dir / "file", "not a directory");
  const auto env = Environment::Open(dir / "file", Options());
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code(), ErrorCode::kStorage);
  EXPECT_NE(env.error().message().find((dir / "file").string()), std::string::npos)
      << env.error().message();
}

TEST(StoreTest, ReadersKeepTheirSnapshotWhileAnotherThreadCommits) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "k", "v1").ok());

  std::atomic<int> stage{0};
  std::string before;
  std::string after;
  std::thread reader([&] {
    const Status status = env->View([&](ReadTxn& txn) -> Status {
      VMC_ASSIGN_OR_RETURN(const auto v1, txn.Get("items", "k"));
      before = v1.value_or("<absent>");
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      VMC_ASSIGN_OR_RETURN(const auto v2, txn.Get("items", "k"));
      after = v2.value_or("<absent>");
      return Ok();
    });
    EXPECT_TRUE(status.ok());
  });
  while (stage.load() != 1) std::this_thread::yield();
  // A writer does not wait for readers.
  EXPECT_TRUE(Put(*env, "items", "k", "v2").ok());
  stage = 2;
  reader.join();
  EXPECT_EQ(before, "v1");
  EXPECT_EQ(after, "v1");
  EXPECT_EQ(Get(*env, "items", "k"), "v2");
}

// --- Map growth -------------------------------------------------------------

TEST(StoreTest, MapGrowsForOneLargeTransaction) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options(kMiB));
  ASSERT_NE(env, nullptr);
  const std::size_t initial = env->map_size();
  EXPECT_EQ(initial, kMiB);

  constexpr int kValues = 320;  // x 64 KiB = 20 MiB
  int runs = 0;
  ASSERT_TRUE(env->Update([&](WriteTxn& txn) -> Status {
                   ++runs;
                   for (int i = 0; i < kValues; ++i) {
                     VMC_RETURN_IF_ERROR(
                         txn.Put("items", KeyFor("big/", i), ValueFor(i, 64 << 10)));
                   }
                   return Ok();
                 })
                  .ok());
  EXPECT_GT(runs, 1);  // it was re-run after growing
  EXPECT_GE(env->map_size(), 20 * kMiB);

  EXPECT_EQ(Count(*env, "items"), static_cast<std::uint64_t>(kValues));
  const auto all = Scan(*env, "items", "big/");
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kValues));
  for (int i = 0; i < kValues; ++i) {
    ASSERT_EQ(all.at(KeyFor("big/", i)), ValueFor(i, 64 << 10)) << i;
  }
}

TEST(StoreTest, MapGrowsAcrossManyTransactions) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options(kMiB));
  ASSERT_NE(env, nullptr);
  constexpr int kValues = 200;  // x 100 KiB = 20 MiB
  for (int i = 0; i < kValues; ++i) {
    ASSERT_TRUE(Put(*env, "items", KeyFor("k/", i), ValueFor(i, 100 << 10)).ok()) << i;
  }
  EXPECT_GE(env->map_size(), 20 * kMiB);
  const auto all = Scan(*env, "items", "k/");
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kValues));
  for (int i = 0; i < kValues; ++i) ASSERT_EQ(all.at(KeyFor("k/", i)), ValueFor(i, 100 << 10));

  // The grown size is recorded in the file: a new process starts with it.
  env.reset();
  env = OpenOrNull(dir / "db", Options(kMiB));
  ASSERT_NE(env, nullptr);
  EXPECT_GE(env->map_size(), 20 * kMiB);
  EXPECT_EQ(Count(*env, "items"), static_cast<std::uint64_t>(kValues));
}

TEST(StoreTest, MapGrowsEvenWhenTheFunctionSwallowsTheError) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options(kMiB));
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->Update([&](WriteTxn& txn) -> Status {
                   for (int i = 0; i < 64; ++i) {
                     (void)txn.Put("items", KeyFor("k/", i), ValueFor(i, 64 << 10));
                   }
                   return Ok();
                 })
                  .ok());
  EXPECT_EQ(Count(*env, "items"), 64U);
}

TEST(StoreTest, GrowthStopsAtTheMaximumMapSize) {
  test::TempDir dir;
  StoreOptions options = Options(kMiB);
  options.max_map_size = 2 * kMiB;
  auto env = OpenOrNull(dir / "db", options);
  ASSERT_NE(env, nullptr);
  const Status status = env->Update([&](WriteTxn& txn) -> Status {
    for (int i = 0; i < 64; ++i) {
      VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("k/", i), ValueFor(i, 64 << 10)));
    }
    return Ok();
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorage);
  EXPECT_NE(status.error().message().find("maximum map size"), std::string::npos)
      << status.error().message();
  EXPECT_EQ(Count(*env, "items"), 0U);
  EXPECT_TRUE(Put(*env, "items", "small", "fits").ok());
}

TEST(StoreTest, ReadersOnOtherThreadsRunWhileTheMapGrows) {
  test::TempDir dir;
  auto env = OpenOrNull(dir / "db", Options(kMiB));
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "other", "n", "0").ok());

  // The writer keeps "n" equal to the number of items; readers check that
  // every snapshot agrees with itself.
  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const Status status = env->View([&](ReadTxn& txn) -> Status {
          VMC_ASSIGN_OR_RETURN(const auto n, txn.Get("other", "n"));
          VMC_ASSIGN_OR_RETURN(const std::uint64_t count, txn.Count("items"));
          if (!n.has_value() || std::stoull(*n) != count) ++inconsistent;
          return Ok();
        });
        if (!status.ok()) ++failed;
      }
    });
  }
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(env->Update([&](WriteTxn& txn) -> Status {
                     VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("k/", i), ValueFor(i, 128 << 10)));
                     return txn.Put("other", "n", std::to_string(i + 1));
                   })
                    .ok());
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(env->map_size(), 8 * kMiB);
}

// --- Several processes --------------------------------------------------------
//
// LMDB forbids opening one environment twice in a process, so the other party
// is a forked child that opens its own Environment and leaves with _exit(), so
// that it never runs the parent's destructors or test machinery.

class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) std::abort();
  }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  void Send(char c) {
    if (::write(fds_[1], &c, 1) != 1) std::abort();
  }
  // The next byte, or '\0' if none arrives within 60 s (or the writer died).
  char Receive() {
    pollfd p{fds_[0], POLLIN, 0};
    if (::poll(&p, 1, 60'000) != 1) return '\0';
    char c = '\0';
    return ::read(fds_[0], &c, 1) == 1 ? c : '\0';
  }

 private:
  int fds_[2];
};

// Runs `body` in a child process; its return value is the exit status.
pid_t ForkChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
      code = 101;
    }
    ::_exit(code);
  }
  return pid;
}

// The exit status, or 128 + signal.
int Wait(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Kill(pid_t pid) {
  ::kill(pid, SIGKILL);
  EXPECT_EQ(Wait(pid), 128 + SIGKILL);
}

// For children: gtest assertions do not reach the parent, exit codes do.
int Check(bool ok, int code) { return ok ? 0 : code; }

TEST(StoreTest, TwoProcessesSeeEachOthersCommits) {
  test::TempDir dir;
  const auto path = dir / "db";
  auto env = OpenOrNull(path, Options());
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "from-parent", "p").ok());

  Pipe to_child;
  Pipe to_parent;
  const pid_t child = ForkChild([&] {
    auto mine = Environment::Open(path, Options());
    if (!mine.ok()) return 2;
    if (Get(**mine, "items", "from-parent") != "p") return 3;
    if (!Put(**mine, "items", "from-child", "c1").ok()) return 4;
    to_parent.Send('1');
    if (to_child.Receive() != 'r') return 5;
    if (!Put(**mine, "items", "from-child", "c2").ok()) return 6;
    to_parent.Send('2');
    // Sees what the parent wrote meanwhile.
    if (to_child.Receive() != 'w') return 7;
    return Check(Get(**mine, "items", "parent-again") == "p2", 8);
  });
  ASSERT_GT(child, 0);

  ASSERT_EQ(to_parent.Receive(), '1');
  EXPECT_EQ(Get(*env, "items", "from-child"), "c1");
  // A snapshot taken now stays as it is while the child commits.
  std::string in_snapshot;
  ASSERT_TRUE(env->View([&](ReadTxn& txn) -> Status {
                   to_child.Send('r');
                   EXPECT_EQ(to_parent.Receive(), '2');
                   VMC_ASSIGN_OR_RETURN(const auto v, txn.Get("items", "from-child"));
                   in_snapshot = v.value_or("<absent>");
                   return Ok();
                 })
                  .ok());
  EXPECT_EQ(in_snapshot, "c1");
  EXPECT_EQ(Get(*env, "items", "from-child"), "c2");
  ASSERT_TRUE(Put(*env, "items", "parent-again", "p2").ok());
  to_child.Send('w');
  EXPECT_EQ(Wait(child), 0);
}

TEST(StoreTest, MapGrownByAnotherProcessIsAdopted) {
  test::TempDir dir;
  const auto path = dir / "db";
  auto env = OpenOrNull(path, Options(kMiB));
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "small", "v").ok());
  ASSERT_EQ(env->map_size(), kMiB);

  constexpr int kValues = 128;  // x 128 KiB = 16 MiB
  const pid_t child = ForkChild([&] {
    auto mine = Environment::Open(path, Options(kMiB));
    if (!mine.ok()) return 2;
    for (int i = 0; i < kValues; ++i) {
      if (!Put(**mine, "items", KeyFor("k/", i), ValueFor(i, 128 << 10)).ok()) return 3;
    }
    return Check((*mine)->map_size() >= 16 * kMiB, 4);
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ(Wait(child), 0);

  // The data now lies beyond this process's map: reading must adopt the new size.
  const auto all = Scan(*env, "items", "k/");
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kValues));
  for (int i = 0; i < kValues; ++i) ASSERT_EQ(all.at(KeyFor("k/", i)), ValueFor(i, 128 << 10));
  EXPECT_GE(env->map_size(), 16 * kMiB);
  EXPECT_TRUE(Put(*env, "items", "after", "v").ok());
  EXPECT_EQ(Get(*env, "items", "after"), "v");
}

TEST(StoreTest, ReaderSlotOfKilledProcessIsReleased) {
  test::TempDir dir;
  const auto path = dir / "db";
  auto env = OpenOrNull(path, Options());
  ASSERT_NE(env, nullptr);
  Pipe to_parent;
  const pid_t child = ForkChild([&] {
    auto mine = Environment::Open(path, Options());
    if (!mine.ok()) return 2;
    (void)(*mine)->View([&](ReadTxn&) {
      to_parent.Send('r');
      ::pause();
      return Ok();
    });
    return 3;
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ(to_parent.Receive(), 'r');
  Kill(child);

  const auto released = env->ClearStaleReaders();
  ASSERT_TRUE(released.ok()) << released.error().ToString();
  EXPECT_EQ(*released, 1);
  EXPECT_EQ(*env->ClearStaleReaders(), 0);
}

TEST(StoreTest, OpenReleasesReaderSlotsOfKilledProcesses) {
  test::TempDir dir;
  const auto path = dir / "db";
  Pipe to_parent;
  Pipe to_holder;
  // While any process has the environment open, LMDB keeps its lock file (and
  // so the stale slot) instead of resetting it at the next open.
  const pid_t holder = ForkChild([&] {
    auto mine = Environment::Open(path, Options());
    if (!mine.ok()) return 2;
    to_parent.Send('h');
    return Check(to_holder.Receive() == 'q', 3);
  });
  ASSERT_GT(holder, 0);
  ASSERT_EQ(to_parent.Receive(), 'h');

  const pid_t reader = ForkChild([&] {
    auto mine = Environment::Open(path, Options());
    if (!mine.ok()) return 2;
    (void)(*mine)->View([&](ReadTxn&) {
      to_parent.Send('r');
      ::pause();
      return Ok();
    });
    return 3;
  });
  ASSERT_GT(reader, 0);
  ASSERT_EQ(to_parent.Receive(), 'r');
  Kill(reader);

  auto env = OpenOrNull(path, Options());
  ASSERT_NE(env, nullptr);
  // Open() already released the slot: nothing is left for a second check.
  EXPECT_EQ(*env->ClearStaleReaders(), 0);
  EXPECT_TRUE(Put(*env, "items", "k", "v").ok());
  to_holder.Send('q');
  EXPECT_EQ(Wait(holder), 0);
}

TEST(StoreTest, WriterKilledBeforeCommitLeavesThePreviousState) {
  test::TempDir dir;
  const auto path = dir / "db";
  auto env = OpenOrNull(path, Options(kMiB));
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(Put(*env, "items", "k", "committed").ok());

  Pipe to_parent;
  const pid_t child = ForkChild([&] {
    auto mine = Environment::Open(path, Options(kMiB));
    if (!mine.ok()) return 2;
    (void)(*mine)->Update([&](WriteTxn& txn) -> Status {
      VMC_RETURN_IF_ERROR(txn.Put("items", "k", "uncommitted"));
      // Enough to make LMDB write pages (and grow the map) before the kill.
      for (int i = 0; i < 64; ++i) {
        VMC_RETURN_IF_ERROR(txn.Put("items", KeyFor("junk/", i), ValueFor(i, 64 << 10)));
      }
      to_parent.Send('w');
      ::pause();
      return Ok();
    });
    return 3;
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ(to_parent.Receive(), 'w');
  Kill(child);

  EXPECT_EQ(Get(*env, "items", "k"), "committed");
  EXPECT_EQ(Count(*env, "items"), 1U);
  // The dead writer's lock is recovered: writing works, here and after reopening.
  EXPECT_TRUE(Put(*env, "items", "k", "next").ok());
  env.reset();
  env = OpenOrNull(path, Options(kMiB));
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(Get(*env, "items", "k"), "next");
  EXPECT_EQ(Count(*env, "items"), 1U);
}

}  // namespace
}  // namespace vmc
