#include "common/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <system_error>
#include <type_traits>
#include <utility>

#include "common/log.h"

namespace vmc {
namespace {

// store.h names LMDB's database handle without including lmdb.h.
static_assert(std::is_same_v<MDB_dbi, unsigned int>);

// Bounds the retries of one Update()/View(). Doubling from 1 MiB reaches any
// sensible max_map_size in far fewer; the rest is room for other processes
// growing the map under us.
constexpr int kMaxAttempts = 64;

struct CursorClose {
  void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};
using CursorPtr = std::unique_ptr<MDB_cursor, CursorClose>;

// LMDB only reads through mv_data for keys and data passed in.
MDB_val ToVal(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view FromVal(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

// LMDB's own codes are negative; for errno values mdb_strerror() would call
// strerror(), which is not thread-safe.
std::string LmdbReason(int rc) {
  if (rc < 0) return mdb_strerror(rc);
  return ErrnoText(rc);
}

ErrorCode CodeFor(int rc) {
  return rc == ENOSPC || rc == EDQUOT ? ErrorCode::kDiskFull : ErrorCode::kStorage;
}

// The transactions running on this thread, by environment, to refuse nesting:
// an inner Update() would wait for the writer lock its own thread holds, and
// an inner resize for the shared lock its own thread holds.
thread_local std::vector<const Environment*> t_active_environments;

class ActiveScope {
 public:
  explicit ActiveScope(const Environment* env) { t_active_environments.push_back(env); }
  ~ActiveScope() { t_active_environments.pop_back(); }
  ActiveScope(const ActiveScope&) = delete;
  ActiveScope& operator=(const ActiveScope&) = delete;

  static bool IsActive(const Environment* env) {
    return std::find(t_active_environments.begin(), t_active_environments.end(), env) !=
           t_active_environments.end();
  }
};

Error NestedError(const std::filesystem::path& path) {
  return Error(ErrorCode::kStorage,
               "a transaction on the LMDB database at " + path.string() +
                   " was started inside another one on the same thread; start it after the "
                   "outer View() or Update() returns")
      .With("path", path.string());
}

// Creates each missing component of `dir` with mode 0700: the state may name
// subscriptions and credentials files, which are nobody else's business.
Status CreatePrivateDirectory(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& component : dir) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) == 0 || errno == EEXIST) continue;
    const int err = errno;
    struct stat st {};
    if (::stat(partial.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    return Error(CodeFor(err), "cannot create directory " + partial.string() + " for the LMDB " +
                                   "database: " + std::generic_category().message(err))
        .With("path", partial.string());
  }
  struct stat st {};
  // lstat: LMDB opens the files in it by name, so the directory itself
  // must not be a link (a planted one would point LMDB's writes elsewhere).
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kStorage, "cannot open the LMDB database at " + dir.string() +
                                          ": not a directory (links are not followed)")
        .With("path", dir.string());
  }
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    const std::filesystem::path file = dir / name;
    if (::lstat(file.c_str(), &st) != 0 || S_ISREG(st.st_mode)) continue;
    return Error(ErrorCode::kStorage, "cannot open the LMDB database at " + dir.string() + ": " +
                                          file.string() + " is not a regular file (links are " +
                                          "not followed)")
        .With("path", file.string());
  }
  return Ok();
}

// LMDB opens data.mdb (and on some versions lock.mdb) without O_CLOEXEC, so
// every program catcher starts (event handlers) would inherit a read-write
// descriptor of the database. Marks every descriptor of a file in `dir`
// close-on-exec: mdb_env_get_fd's, and the others found in /proc/self/fd.
void CloseOnExec(MDB_env* env, const std::filesystem::path& dir) {
  const auto mark = [](int fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  };
  mdb_filehandle_t fd = -1;
  if (mdb_env_get_fd(env, &fd) == 0 && fd >= 0) mark(fd);
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(dir, ec);
  if (ec) return;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::filesystem::path target = std::filesystem::read_symlink(e.path(), ec);
    if (ec || target.parent_path() != real) continue;
    const std::string name = e.path().filename().string();
    char* end = nullptr;
    const long n = std::strtol(name.c_str(), &end, 10);
    if (end != nullptr && *end == '\0') mark(static_cast<int>(n));
  }
}

std::size_t RoundUpToPage(std::size_t size) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

}  // namespace

// A shared/exclusive lock (std::shared_lock/std::unique_lock work with it)
// that favours the exclusive side: once a resize waits, new transactions wait
// behind it. glibc's rwlock, under std::shared_mutex, favours readers, so
// threads running View() back to back could hold off a resize indefinitely.
class ResizeGate {
 public:
  void lock_shared() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !resizing_ && resizers_waiting_ == 0; });
    ++transactions_;
  }

  void unlock_shared() {
    const std::lock_guard lock(mutex_);
    if (--transactions_ == 0 && resizers_waiting_ > 0) changed_.notify_all();
  }

  void lock() {
    std::unique_lock lock(mutex_);
    ++resizers_waiting_;
    changed_.wait(lock, [this] { return !resizing_ && transactions_ == 0; });
    --resizers_waiting_;
    resizing_ = true;
  }

  void unlock() {
    const std::lock_guard lock(mutex_);
    resizing_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int transactions_ = 0;
  int resizers_waiting_ = 0;
  bool resizing_ = false;
};

// The outcome of one transaction attempt of Update().
struct Environment::Attempt {
  enum class Retry { kNone, kGrow, kAdoptSize };
  Status status;
  Retry retry = Retry::kNone;
  std::size_t map_size = 0;  // when the map was full
};

void ReadTxn::TxnAbort::operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }

ReadTxn::ReadTxn(const Environment* env, MDB_txn* txn) : env_(env), txn_(txn) {}

ReadTxn::~ReadTxn() = default;

Result<unsigned int> ReadTxn::Dbi(std::string_view db) const { return env_->Dbi(db); }

Error ReadTxn::Fail(int rc, std::string_view action, std::string_view db) {
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return env_->LmdbError(rc, action, db);
}

Result<std::optional<std::string>> ReadTxn::Get(std::string_view db, std::string_view key) {
  VMC_ASSIGN_OR_RETURN(const MDB_dbi dbi, Dbi(db));
  MDB_val k = ToVal(key);
  MDB_val v{};
  const int rc = mdb_get(txn(), dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return Fail(rc, "cannot read", db);
  return std::optional<std::string>(FromVal(v));
}

Status ReadTxn::ForEachWithPrefix(
    std::string_view db, std::string_view prefix,
    const std::function<Status(std::string_view key, std::string_view value)>& fn) {
  VMC_ASSIGN_OR_RETURN(const MDB_dbi dbi, Dbi(db));
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn(), dbi, &raw);
  if (rc != 0) return Fail(rc, "cannot read", db);
  const CursorPtr cursor(raw);

  MDB_val k = ToVal(prefix);
  MDB_val v{};
  // MDB_SET_RANGE: the first key >= prefix. LMDB rejects an empty key.
  rc = mdb_cursor_get(raw, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    const std::string_view key = FromVal(k);
    if (!key.starts_with(prefix)) return Ok();
    VMC_RETURN_IF_ERROR(fn(key, FromVal(v)));
    rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND) return Fail(rc, "cannot read", db);
  return Ok();
}

Result<std::uint64_t> ReadTxn::Count(std::string_view db) {
  VMC_ASSIGN_OR_RETURN(const MDB_dbi dbi, Dbi(db));
  MDB_stat stat{};
  const int rc = mdb_stat(txn(), dbi, &stat);
  if (rc != 0) return Fail(rc, "cannot read", db);
  return static_cast<std::uint64_t>(stat.ms_entries);
}

Status WriteTxn::Put(std::string_view db, std::string_view key, std::string_view value) {
  VMC_ASSIGN_OR_RETURN(const MDB_dbi dbi, Dbi(db));
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  const int rc = mdb_put(txn(), dbi, &k, &v, 0);
  if (rc != 0) return Fail(rc, "cannot write", db);
  return Ok();
}

Result<bool> WriteTxn::Delete(std::string_view db, std::string_view key) {
  VMC_ASSIGN_OR_RETURN(const MDB_dbi dbi, Dbi(db));
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn(), dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  // A delete copies pages too, so it can fill the map.
  if (rc != 0) return Fail(rc, "cannot delete from", db);
  return true;
}

void Environment::EnvClose::operator()(MDB_env* env) const { mdb_env_close(env); }

Environment::Environment(std::filesystem::path path, std::size_t max_map_size)
    : path_(std::move(path)),
      max_map_size_(max_map_size),
      resize_gate_(std::make_unique<ResizeGate>()) {}

Environment::~Environment() = default;

Result<std::unique_ptr<Environment>> Environment::Open(const std::filesystem::path& dir,
                                                       const StoreOptions& options) {
  VMC_RETURN_IF_ERROR(CreatePrivateDirectory(dir));
  const std::size_t initial = RoundUpToPage(std::max<std::size_t>(options.initial_map_size, 1));
  std::unique_ptr<Environment> env(
      new Environment(dir, std::max(initial, RoundUpToPage(options.max_map_size))));
  VMC_RETURN_IF_ERROR(env->Configure(options, initial));

  VMC_ASSIGN_OR_RETURN(const int released, env->ClearStaleReaders());
  if (released > 0) {
    LogInfo("released " + std::to_string(released) + " reader slot(s) of killed processes in " +
            "the LMDB database at " + dir.string());
  }
  VMC_RETURN_IF_ERROR(env->OpenDatabases(options.databases));
  return env;
}

// Everything LMDB needs before and at mdb_env_open().
Status Environment::Configure(const StoreOptions& options, std::size_t initial_map_size) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return LmdbError(rc, "cannot create the environment of");
  env_.reset(raw);
  rc = mdb_env_set_maxdbs(raw, static_cast<MDB_dbi>(options.databases.size()));
  if (rc == 0) rc = mdb_env_set_mapsize(raw, initial_map_size);
  if (rc == 0) rc = mdb_env_set_maxreaders(raw, options.max_readers);
  if (rc != 0) return LmdbError(rc, "cannot configure");
  // MDB_NOTLS: read transactions belong to their MDB_txn, not to the thread
  // that began them, so that many threads may View() at once and a thread
  // pool's threads need not each pin a reader slot. No MDB_NOSYNC: a commit is
  // on disk when Update() returns.
  rc = mdb_env_open(raw, path_.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) return LmdbError(rc, "cannot open");
  CloseOnExec(raw, path_);
  MDB_envinfo info{};
  mdb_env_info(raw, &info);
  map_size_.store(info.me_mapsize, std::memory_order_relaxed);
  return Ok();
}

// Creates the databases in one write transaction; their handles then stay
// valid for every later transaction of this process.
Status Environment::OpenDatabases(const std::vector<std::string>& names) {
  std::map<std::string, unsigned int, std::less<>> opened;
  VMC_RETURN_IF_ERROR(Update([&](WriteTxn& txn) -> Status {
    opened.clear();  // a retry starts over: the aborted attempt's handles are gone
    for (const std::string& name : names) {
      MDB_dbi dbi = 0;
      const int rc = mdb_dbi_open(txn.txn(), name.c_str(), MDB_CREATE, &dbi);
      if (rc != 0) return txn.Fail(rc, "cannot create", name);
      opened[name] = dbi;
    }
    return Ok();
  }));
  dbis_ = std::move(opened);
  return Ok();
}

Status Environment::Update(const std::function<Status(WriteTxn&)>& fn) {
  if (ActiveScope::IsActive(this)) return NestedError(path_);
  const ActiveScope active(this);
  for (int i = 0; i < kMaxAttempts; ++i) {
    Attempt attempt = TryUpdate(fn);
    switch (attempt.retry) {
      case Attempt::Retry::kNone:
        return std::move(attempt.status);
      case Attempt::Retry::kGrow:
        VMC_RETURN_IF_ERROR(Grow(attempt.map_size));
        break;
      case Attempt::Retry::kAdoptSize:
        VMC_RETURN_IF_ERROR(AdoptMapSize());
        break;
    }
  }
  return Error(ErrorCode::kStorage, "gave up writing to the LMDB database at " + path_.string() +
                                        " after " + std::to_string(kMaxAttempts) +
                                        " attempts to fit the map size")
      .With("path", path_.string());
}

// One write transaction, begun and ended under the shared lock so that no
// resize can happen while it is live.
Environment::Attempt Environment::TryUpdate(const std::function<Status(WriteTxn&)>& fn) {
  const std::shared_lock lock(*resize_gate_);
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw);
  if (rc == MDB_MAP_RESIZED) return {Ok(), Attempt::Retry::kAdoptSize};
  if (rc != 0) return {LmdbError(rc, "cannot begin a write transaction in")};

  WriteTxn txn(this, raw);
  Status status = fn(txn);
  // Checked before the function's status: it may have swallowed the error.
  if (txn.map_full_) return {Ok(), Attempt::Retry::kGrow, map_size()};
  if (!status.ok()) return {std::move(status)};  // ~WriteTxn aborts
  // mdb_txn_commit() frees the transaction even when it fails.
  rc = mdb_txn_commit(txn.txn_.release());
  if (rc == MDB_MAP_FULL) return {Ok(), Attempt::Retry::kGrow, map_size()};
  if (rc != 0) return {LmdbError(rc, "cannot commit to")};
  return {Ok()};
}

Status Environment::View(const std::function<Status(ReadTxn&)>& fn) const {
  if (ActiveScope::IsActive(this)) return NestedError(path_);
  const ActiveScope active(this);
  bool readers_checked = false;
  for (int i = 0; i < kMaxAttempts; ++i) {
    std::shared_lock lock(*resize_gate_);
    MDB_txn* raw = nullptr;
    const int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw);
    if (rc == 0) {
      ReadTxn txn(this, raw);
      return fn(txn);
    }
    lock.unlock();
    if (rc == MDB_MAP_RESIZED) {
      VMC_RETURN_IF_ERROR(AdoptMapSize());
      continue;
    }
    // The table may be full of slots of killed processes: free them once.
    if (rc == MDB_READERS_FULL && !readers_checked) {
      readers_checked = true;
      VMC_ASSIGN_OR_RETURN(const int released, ClearStaleReaders());
      if (released > 0) continue;
    }
    return LmdbError(rc, "cannot begin a read transaction in");
  }
  return Error(ErrorCode::kStorage, "gave up reading the LMDB database at " + path_.string() +
                                        " after " + std::to_string(kMaxAttempts) +
                                        " attempts to adopt the map size")
      .With("path", path_.string());
}

Result<int> Environment::ClearStaleReaders() const {
  int released = 0;
  const int rc = mdb_reader_check(env_.get(), &released);
  if (rc != 0) return LmdbError(rc, "cannot check the reader table of");
  return released;
}

// Doubles the map, unless another thread has grown it since `full_size` was
// seen to be full.
Status Environment::Grow(std::size_t full_size) {
  const std::unique_lock lock(*resize_gate_);
  const std::size_t current = map_size();
  if (current > full_size) return Ok();
  if (current >= max_map_size_) {
    return Error(ErrorCode::kStorage, "the LMDB database at " + path_.string() +
                                          " needs more than its maximum map size of " +
                                          std::to_string(max_map_size_) + " bytes")
        .With("path", path_.string());
  }
  const std::size_t next = current > max_map_size_ / 2 ? max_map_size_ : 2 * current;
  LogDebug("growing the map of the LMDB database at " + path_.string() + " to " +
           std::to_string(next) + " bytes");
  return SetMapSize(next);
}

// Another process grew the map beyond ours: take the size it recorded.
Status Environment::AdoptMapSize() const {
  const std::unique_lock lock(*resize_gate_);
  return SetMapSize(0);
}

// REQUIRES: the resize gate is held exclusively.
Status Environment::SetMapSize(std::size_t size) const {
  const int rc = mdb_env_set_mapsize(env_.get(), size);
  if (rc != 0) return LmdbError(rc, "cannot resize the map of");
  MDB_envinfo info{};
  mdb_env_info(env_.get(), &info);
  map_size_.store(info.me_mapsize, std::memory_order_relaxed);
  return Ok();
}

Result<unsigned int> Environment::Dbi(std::string_view db) const {
  const auto it = dbis_.find(db);
  if (it == dbis_.end()) {
    return Error(ErrorCode::kStorage, "the LMDB database at " + path_.string() +
                                          " has no database named '" + std::string(db) +
                                          "' (it is not in StoreOptions::databases)")
        .With("path", path_.string())
        .With("database", std::string(db));
  }
  return it->second;
}

Error Environment::LmdbError(int rc, std::string_view action, std::string_view db) const {
  std::string message(action);
  message +=
      db.empty() ? " the LMDB database at " : " '" + std::string(db) + "' in the LMDB database at ";
  message += path_.string();
  message += ": ";
  message += LmdbReason(rc);
  Error error(CodeFor(rc), std::move(message));
  error.With("path", path_.string());
  if (!db.empty()) error.With("database", std::string(db));
  return error;
}

}  // namespace vmc
