#include "caster/transfer_bar.h"

namespace vmc::caster {

// The total starts unknown: libcurl says it once it knows it.
TransferBar::TransferBar(const std::string& label) : bar_(label, 0) {}

TransferBar::TransferBar(const std::string& label, bool enabled) : bar_(label, 0, enabled) {}

TransferProgress TransferBar::Observer() {
  if (!bar_.enabled()) return {};
  return [this](uint64_t done, uint64_t total) { bar_.Update(done, total); };
}

}  // namespace vmc::caster
