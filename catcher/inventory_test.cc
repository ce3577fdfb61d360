#include "catcher/inventory.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace vmc::catcher {
namespace {

using std::chrono::seconds;

const TimePoint kNow = ParseDate("2026-12-02T12:00:00Z").value();

ImageDecision Decision(ImageState state, std::string reason) {
  ImageDecision d;
  d.state = state;
  d.reason = std::move(reason);
  return d;
}

struct Row {
  const char* what;
  ImageState decision;
  std::string_view list_refusal;
  std::optional<TimePoint> expires;
  bool cached;
  std::string_view format_refusal;
  InventoryState state;
  std::string reason;
};

// The table at the top of inventory.h, row by row and at its boundaries: the
// first state that applies wins.
TEST(JudgeImageTest, TheFirstStateThatAppliesWins) {
  const std::vector<Row> rows = {
      {"denied beats everything", ImageState::kDenied, "list-expired", kNow - seconds(1), true, "",
       InventoryState::kDenied, "decision reason"},
      {"a refused list expires its images", ImageState::kWanted, "the list expired", std::nullopt,
       true, "", InventoryState::kExpired, "the list expired"},
      {"a refused list beats the image's own date", ImageState::kWanted, "revoked",
       kNow - seconds(1), false, "", InventoryState::kExpired, "revoked"},
      {"the image expires at now exactly", ImageState::kWanted, "", kNow, true, "",
       InventoryState::kExpired, "the image expired on 2026-12-02T12:00:00Z"},
      {"one second before its expiry it is wanted", ImageState::kWanted, "", kNow + seconds(1),
       false, "", InventoryState::kWanted, "decision reason"},
      {"wanted and linked is cached", ImageState::kWanted, "", std::nullopt, true, "",
       InventoryState::kCached, "decision reason"},
      {"wanted and not linked is wanted", ImageState::kWanted, "", std::nullopt, false, "",
       InventoryState::kWanted, "decision reason"},
      {"not selected is available, even with a view", ImageState::kNotSelected, "", std::nullopt,
       true, "", InventoryState::kAvailable, "decision reason"},
      {"too large is available", ImageState::kTooLarge, "", std::nullopt, false, "",
       InventoryState::kAvailable, "decision reason"},
      {"an expired image that is not selected is expired", ImageState::kNotSelected, "",
       kNow - seconds(1), false, "", InventoryState::kExpired,
       "the image expired on 2026-12-02T11:59:59Z"},
      {"refused bytes beat wanted and cached", ImageState::kWanted, "", std::nullopt, true,
       "format-unsafe: a backing file", InventoryState::kRefused, "format-unsafe: a backing file"},
      {"an expired image's bytes do not matter", ImageState::kWanted, "", kNow, false,
       "format-unsafe: x", InventoryState::kExpired, "the image expired on 2026-12-02T12:00:00Z"},
      {"a denied image's bytes do not matter", ImageState::kDenied, "", std::nullopt, false,
       "format-unsafe: x", InventoryState::kDenied, "decision reason"},
      {"an image not selected is available whatever its bytes", ImageState::kNotSelected, "",
       std::nullopt, false, "format-mismatch: x", InventoryState::kAvailable, "decision reason"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    const ImageDecision decision = Decision(row.decision, "decision reason");
    const ImageVerdict verdict =
        JudgeImage({decision, row.list_refusal, row.expires, row.cached, row.format_refusal}, kNow);
    EXPECT_EQ(InventoryStateName(verdict.state), InventoryStateName(row.state));
    EXPECT_EQ(verdict.reason, row.reason);
  }
}

}  // namespace
}  // namespace vmc::catcher
