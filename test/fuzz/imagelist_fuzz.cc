// libFuzzer target: the image-list reader (ImageList::Parse and ParseDraft)
// on arbitrary bytes, and the deterministic writer on whatever they accept.
//
// Besides crashes and sanitizer reports, these properties are checked
// (a violation traps, which libFuzzer reports as a crash):
//  - a list Parse() accepts, ParseDraft() accepts too (drafts are laxer);
//  - a list Parse() accepts passes Validate() (Parse establishes it);
//  - Write() of an accepted list is 7-bit ASCII, is read again by the same
//    reader, and writing that gives the same bytes (the writer is
//    deterministic and its output is a fixed point);
//  - a refusal prints as valid JSON and UTF-8 text (properties.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/imagelist.h"
#include "test/fuzz/properties.h"

namespace {

using vmc::fuzz::Fail;

// Every typed accessor, so that the invariant "the accessors never fail" of
// common/imagelist.h is exercised on what the reader let through.
void ReadEverything(const vmc::ImageList& list) {
  static_cast<void>(list.identifier());
  static_cast<void>(list.title());
  static_cast<void>(list.version());
  static_cast<void>(list.created());
  static_cast<void>(list.expires());
  static_cast<void>(list.endorser());
  static_cast<void>(list.vo());
  static_cast<void>(list.Get("x:unknown"));
  for (const vmc::Image& image : list.images()) {
    static_cast<void>(image.identifier());
    static_cast<void>(image.uri());
    static_cast<void>(image.size());
    static_cast<void>(image.sha512());
    static_cast<void>(image.ram_minimum());
    static_cast<void>(image.core_minimum());
    static_cast<void>(image.expires());
    static_cast<void>(image.vo());
    static_cast<void>(image.pointer());
    static_cast<void>(image.Get("ad:mpuri"));
    if (!list.FindImage(image.identifier())) Fail("FindImage misses a listed image", "");
  }
}

// Write, read again with the same reader, write again: same bytes.
template <typename Reader>
void CheckRoundTrip(const vmc::ImageList& list, Reader read, std::string_view reader) {
  const std::string written = list.Write();
  for (const char c : written) {
    if (static_cast<unsigned char>(c) >= 0x80) Fail("Write() wrote a byte beyond ASCII", written);
  }
  auto again = read(written);
  if (!again.ok()) {
    Fail(std::string(reader) + " refuses what Write() wrote: " + again.error().ToString(), written);
  }
  if (again->Write() != written) Fail("Write() is not a fixed point", written);
  const vmc::ImageList copy = list.Clone();
  if (copy.Write() != written) Fail("Clone() writes other bytes", written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;

  auto list = vmc::ImageList::Parse(json, &warnings);
  auto draft = vmc::ImageList::ParseDraft(json, &warnings);
  if (list.ok()) {
    if (!draft.ok()) Fail("ParseDraft refuses what Parse accepts: " + draft.error().ToString(), "");
    const auto valid = list->Validate();
    if (!valid.ok()) Fail("a parsed list fails Validate(): " + valid.error().ToString(), "");
    ReadEverything(*list);
    CheckRoundTrip(
        *list, [](std::string_view text) { return vmc::ImageList::Parse(text); }, "Parse");
  } else {
    vmc::fuzz::RequirePrintable(list.error());
  }
  if (draft.ok()) {
    ReadEverything(*draft);
    CheckRoundTrip(
        *draft, [](std::string_view text) { return vmc::ImageList::ParseDraft(text); },
        "ParseDraft");
  } else {
    vmc::fuzz::RequirePrintable(draft.error());
  }
  for (const std::string& warning : warnings) vmc::fuzz::RequireUtf8(warning, "a warning");
  return 0;
}
