// The progress bar of one long transfer (an image fetched to be measured, an
// image uploaded beside its list): a ProgressBar (common/progress.h) moved by
// libcurl's own progress reports (HttpClient's TransferProgress), so that its
// total is the server's Content-Length or the uploaded file's size, as
// libcurl knows them. Drawn only when stderr is a terminal, like every bar.
//
// Thread-safety: thread-compatible; the observer runs on the transferring
// thread, which is the thread that owns the bar.
#ifndef VMC_CASTER_TRANSFER_BAR_H_
#define VMC_CASTER_TRANSFER_BAR_H_

#include <string>

#include "common/http.h"
#include "common/progress.h"

namespace vmc::caster {

class TransferBar {
 public:
  // `label`: the file or image name, escaped for the terminal by the bar.
  explicit TransferBar(const std::string& label);
  // `enabled` forces the decision (tests).
  TransferBar(const std::string& label, bool enabled);

  // What a DownloadRequest's or UploadRequest's `progress` is set to. Empty
  // when the bar is not drawn, so that libcurl is not even asked to report.
  // REQUIRES: the bar outlives the transfer.
  TransferProgress Observer();

  // Draws the last state and ends the line (the destructor does too).
  void Finish() { bar_.Finish(); }

 private:
  ProgressBar bar_;
};

}  // namespace vmc::caster

#endif  // VMC_CASTER_TRANSFER_BAR_H_
