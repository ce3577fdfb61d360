#include "common/heap.h"

#include <malloc.h>

namespace vmc {

void KeepHeapForLargeDocuments() {
  constexpr int kTopPad = 32 << 20;
  // Advice: if the C library refuses, only speed changes.
  (void)mallopt(M_TOP_PAD, kTopPad);
}

}  // namespace vmc
