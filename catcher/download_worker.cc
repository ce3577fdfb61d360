#include "catcher/download_worker.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/log.h"

namespace vmc::catcher {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

DownloadWorker::DownloadWorker(std::function<void()> on_downloaded)
    : on_downloaded_(std::move(on_downloaded)) {}

DownloadWorker::~DownloadWorker() { Stop(); }

void DownloadWorker::Submit(Batch batch) {
  std::vector<std::thread> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ended = ReapLocked();
    if (!stopping_) {
      dirs_ = std::move(batch.dirs);
      http_ = std::move(batch.http);
      concurrency_ = std::max(batch.concurrency, 1u);
      std::set<std::string> named;
      for (const auto& job : batch.jobs) named.insert(Lower(job.sha512));
      for (auto& transfer : running_) {
        if (!named.contains(transfer->content)) CancelLocked(*transfer, Cancel::kUnwanted);
      }
      // A content still being transferred (or still ending after a cancel)
      // is not queued again: two transfers would share its partial file.
      std::set<std::string> busy;
      for (const auto& transfer : running_) busy.insert(transfer->content);
      queue_.clear();
      for (auto& job : batch.jobs) {
        if (!busy.contains(Lower(job.sha512))) queue_.push_back(std::move(job));
      }
      if (!queue_.empty() || !running_.empty()) hold_ = std::move(batch.hold);
      const unsigned working = std::min(live_, concurrency_);
      const auto more = std::min<std::size_t>(concurrency_ - working, queue_.size());
      for (std::size_t i = 0; i < more; ++i) {
        ++live_;
        threads_.emplace_back([this] { Run(); });
      }
    }
  }
  for (auto& t : ended) t.join();
}

std::size_t DownloadWorker::Running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

void DownloadWorker::CancelAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  queue_.clear();
  for (auto& transfer : running_) CancelLocked(*transfer, Cancel::kStop);
}

void DownloadWorker::Stop() {
  CancelAll();
  std::vector<std::thread> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all = std::move(threads_);
    threads_.clear();
    ended_.clear();
  }
  for (auto& t : all) t.join();
}

CacheReport DownloadWorker::TakeReport() {
  std::lock_guard<std::mutex> lock(mutex_);
  CacheReport out = std::move(report_);
  report_ = CacheReport();
  return out;
}

void DownloadWorker::Run() {
  for (;;) {
    FetchJob job;
    std::shared_ptr<Transfer> transfer;
    std::shared_ptr<const CacheDirFds> dirs;
    HttpOptions http;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Fewer slots since a reload, or nothing left: this thread ends.
      if (stopping_ || queue_.empty() || live_ > concurrency_) {
        --live_;
        ended_.push_back(std::this_thread::get_id());
        if (live_ == 0) hold_.reset();
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      transfer = std::make_shared<Transfer>();
      transfer->content = Lower(job.sha512);
      running_.push_back(transfer);
      dirs = dirs_;
      http = http_;
    }
    // A client per download, so that a reload's transfer settings apply to
    // the next one.
    auto client = HttpClient::Create(http);
    Status result =
        client.ok() ? FetchImage(*client, *dirs, job, &transfer->flag) : Status(client.error());
    Finish(job, *transfer, std::move(result));
  }
}

void DownloadWorker::Finish(const FetchJob& job, const Transfer& transfer, Status result) {
  bool downloaded = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [&](const auto& t) { return t.get() == &transfer; }),
                   running_.end());
    // A cancelled transfer fails with kNetwork; any other error is its own.
    const bool cancelled = !result.ok() && result.error().code() == ErrorCode::kNetwork;
    if (result.ok()) {
      ++report_.downloaded;
      downloaded = true;
    } else if (cancelled && transfer.why == Cancel::kStop) {
      report_.Interrupt(result.error());
    } else if (cancelled && transfer.why == Cancel::kUnwanted) {
      LogInfo("image " + job.label +
              ": download cancelled: its content is no longer wanted (its list was refused or "
              "expired, or the image is denied or no longer subscribed); the partial file is "
              "dropped");
    } else {
      report_.Fail(std::move(result).error());
    }
  }
  if (downloaded && on_downloaded_) on_downloaded_();
}

void DownloadWorker::CancelLocked(Transfer& transfer, Cancel why) {
  if (transfer.why == Cancel::kNone) transfer.why = why;
  transfer.flag = true;
}

std::vector<std::thread> DownloadWorker::ReapLocked() {
  std::vector<std::thread> out;
  for (const auto id : ended_) {
    const auto it = std::find_if(threads_.begin(), threads_.end(),
                                 [&](const std::thread& t) { return t.get_id() == id; });
    if (it == threads_.end()) continue;
    out.push_back(std::move(*it));
    threads_.erase(it);
  }
  ended_.clear();
  return out;
}

}  // namespace vmc::catcher
