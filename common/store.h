// The persistent state of caster and catcher: an LMDB environment in one
// directory, holding a fixed set of named databases of byte-string keys and
// values (DESIGN.md section 6: LMDB is the only database).
//
// Transactions exist only for the duration of a call: Update() and View() run
// a function inside a write or read transaction and end the transaction when
// the function returns. So no transaction can be held across network I/O, or
// across anything slow: the function must only read and write the store (and
// compute). Fetch first, then Update(); never fetch inside the function.
//
// Update() commits when its function returns OK and aborts otherwise, so a
// failure midway leaves nothing behind. Commits are durable (synced) when
// Update() returns. When the memory map is full, Update() aborts, grows the
// map (doubling) and RUNS THE FUNCTION AGAIN from the start; the function must
// therefore be a re-runnable description of the write: no side effects outside
// the transaction (no counters, no files, no events), or only idempotent ones.
// Act on the outcome after Update() returns OK.
//
// Several processes may open the same directory at once (the daemon and a
// command); each sees the others' commits in its next transaction. Writers are
// serialized by LMDB's lock across threads and processes; readers see a
// consistent snapshot and never wait for writers (only, briefly, for this
// process's own map resize). A process killed inside a write transaction
// leaves the last committed state; one killed inside a read transaction leaves
// a stale reader slot, released by the check that Open() runs (and by
// ClearStaleReaders()).
//
// Thread-safety: an Environment is thread-safe. Its read transactions are not
// tied to threads (MDB_NOTLS), so any number of threads may run View() at once
// alongside one Update() per process at a time (more wait for LMDB's writer
// lock). ReadTxn/WriteTxn objects belong to the thread running the function.
//
// Do not open the same directory twice in one process (LMDB's rule: closing
// the second handle drops the first one's locks), and do not use an
// Environment in a child after fork(): open a new one there.
#ifndef VMC_COMMON_STORE_H_
#define VMC_COMMON_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

// LMDB's handles, kept opaque here so that users of the store need not see lmdb.h.
struct MDB_env;
struct MDB_txn;

namespace vmc {

class Environment;
class ResizeGate;  // store.cc

struct StoreOptions {
  // The named databases of the environment, created when missing. Every
  // transaction addresses a database by one of these names.
  std::vector<std::string> databases;
  // The map size a fresh process starts with; it grows on demand. The map is
  // address space, not disk: the file only grows as data is written.
  std::size_t initial_map_size = std::size_t{64} << 20;
  // Growth stops here: a write that needs more fails with kStorage instead of
  // exhausting address space.
  std::size_t max_map_size = std::size_t{64} << 30;
  // Concurrent read transactions across all processes (LMDB's reader table);
  // fixed by the first process that opens the environment.
  unsigned int max_readers = 126;
};

// A read transaction: a consistent snapshot of every database, as of its start.
// Keys are 1 to 511 bytes (LMDB's limit). Errors are kStorage naming the
// directory, the database and LMDB's reason.
class ReadTxn {
 public:
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  // Returns a copy of the value stored under `key`, or nullopt if there is none.
  Result<std::optional<std::string>> Get(std::string_view db, std::string_view key);

  // Calls `fn` for each entry whose key starts with `prefix` (every entry when
  // `prefix` is empty), in byte-wise key order. The views point into the map
  // and are valid only until `fn` returns or writes: copy what you keep. Stops
  // at, and returns, the first error of `fn`. In a WriteTxn, `fn` may write,
  // e.g. Delete() the key it was given (LMDB keeps the cursor consistent);
  // keys it adds after the current one are visited too.
  Status ForEachWithPrefix(
      std::string_view db, std::string_view prefix,
      const std::function<Status(std::string_view key, std::string_view value)>& fn);

  // The number of entries in `db`.
  Result<std::uint64_t> Count(std::string_view db);

 protected:
  ReadTxn(const Environment* env, MDB_txn* txn);
  ~ReadTxn();

  MDB_txn* txn() const { return txn_.get(); }
  Result<unsigned int> Dbi(std::string_view db) const;
  // The error for LMDB's `rc`. Remembers MDB_MAP_FULL, so that Update() grows
  // the map and retries whatever the function does with the error.
  Error Fail(int rc, std::string_view action, std::string_view db);

  const Environment* env_;

 private:
  friend class Environment;
  struct TxnAbort {
    void operator()(MDB_txn* txn) const;
  };

  // Aborted by the destructor unless Environment committed (released) it.
  std::unique_ptr<MDB_txn, TxnAbort> txn_;
  bool map_full_ = false;
};

// A write transaction: all of its writes become visible to others at once,
// when Update() commits, or none do.
class WriteTxn : public ReadTxn {
 public:
  // Stores `value` under `key`, replacing any previous value.
  Status Put(std::string_view db, std::string_view key, std::string_view value);

  // Removes `key`. Returns whether it was present.
  Result<bool> Delete(std::string_view db, std::string_view key);

 private:
  friend class Environment;
  WriteTxn(const Environment* env, MDB_txn* txn) : ReadTxn(env, txn) {}
};

// An open LMDB environment (see the file comment for the rules).
class Environment {
 public:
  // Opens the environment in directory `dir` (created with mode 0700 if
  // missing; files are 0600), releases reader slots left by killed processes,
  // and creates the databases that `options` names. Returns kStorage
  // (kDiskFull when the disk is full) naming `dir` on failure.
  static Result<std::unique_ptr<Environment>> Open(const std::filesystem::path& dir,
                                                   const StoreOptions& options);

  // REQUIRES: no View() or Update() of this environment is running.
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Runs `fn` in a write transaction; commits (durably) if it returns OK, else
  // aborts and returns its error. `fn` may run more than once: see the file
  // comment. Returns kStorage or kDiskFull if the transaction cannot begin,
  // grow or commit.
  // REQUIRES: not called from inside a View() or Update() function of this
  // environment on the same thread. (It would deadlock; it returns kStorage.)
  Status Update(const std::function<Status(WriteTxn&)>& fn);

  // Runs `fn` once in a read transaction and returns its result.
  // REQUIRES: as for Update().
  Status View(const std::function<Status(ReadTxn&)>& fn) const;

  // Releases the reader slots of processes that died inside a read
  // transaction; such slots pin old pages and make the file grow. Returns how
  // many were released. Long-running processes call it now and then.
  Result<int> ClearStaleReaders() const;

  // The current size of this process's memory map, in bytes.
  std::size_t map_size() const { return map_size_.load(std::memory_order_relaxed); }

  const std::filesystem::path& path() const { return path_; }

 private:
  friend class ReadTxn;
  struct Attempt;
  struct EnvClose {
    void operator()(MDB_env* env) const;
  };

  Environment(std::filesystem::path path, std::size_t max_map_size);

  Status Configure(const StoreOptions& options, std::size_t initial_map_size);
  Status OpenDatabases(const std::vector<std::string>& names);
  Attempt TryUpdate(const std::function<Status(WriteTxn&)>& fn);
  Status Grow(std::size_t full_size);
  Status AdoptMapSize() const;
  Status SetMapSize(std::size_t size) const;
  Result<unsigned int> Dbi(std::string_view db) const;
  Error LmdbError(int rc, std::string_view action, std::string_view db = {}) const;

  std::filesystem::path path_;
  std::size_t max_map_size_;
  std::unique_ptr<MDB_env, EnvClose> env_;
  // Written only by Open(), read-only afterwards, so it needs no lock.
  std::map<std::string, unsigned int, std::less<>> dbis_;  // name -> MDB_dbi
  // Every transaction of this process holds it shared; a resize holds it
  // exclusive, because LMDB requires that no transaction of the process is
  // live then and does not check it itself.
  std::unique_ptr<ResizeGate> resize_gate_;
  // Mirrors LMDB's map size so that map_size() needs no lock.
  mutable std::atomic<std::size_t> map_size_{0};
};

}  // namespace vmc

#endif  // VMC_COMMON_STORE_H_
