// Builds signed image lists for tests with the library itself: the list is an
// ImageList (common/imagelist.h) with chosen identifier, version, dates,
// endorser and images, written with ImageList::Write() and signed with
// SignSmime() by a chosen identity of the test PKI.
//
// Tests need lists the model refuses to build (a traversal identifier such as
// "../../etc/passwd"): such identifiers are written as raw JSON into the
// written text, after the model has produced it with a placeholder, so that a
// subscriber sees exactly the hostile bytes a forger would send.
//
// Thread-safety: pure functions of their arguments (they read the PKI files).
#ifndef VMC_TEST_SUPPORT_LIST_FACTORY_H_
#define VMC_TEST_SUPPORT_LIST_FACTORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "test/support/pki.h"

namespace vmc::test {

struct ImageSpec {
  // Any text: one the identifier rule refuses is written raw into the JSON.
  std::string identifier;
  std::string uri;  // default: https://images.example/<identifier>.img
  std::uint64_t size = 1048576;
  // 128 hex digits; default: the SHA-512 of the identifier.
  std::string sha512;
  std::string title;  // default: "Image <identifier>"
  // AppDB style: hv:size written as a string of digits.
  bool size_as_string = false;
  // AppDB's per-image dc:date:expires.
  std::optional<TimePoint> expires;
  // Further keys as text ("ad:mpuri", "hv:ram_minimum" as a digit string, ...)
  // and as raw JSON values ("hv:ram_minimum": "2048" makes an integer).
  std::map<std::string, std::string> text;
  std::map<std::string, std::string> json;
};

struct ListSpec {
  // Any text: one the identifier rule refuses is written raw into the JSON.
  // Empty: a fresh UUID.
  std::string identifier;
  std::string version = "1";
  std::string title = "Test image list";
  std::string description = "A list made by test/support/list_factory";
  // Default: an hour ago, and 30 days from now (wall clock: the catcher
  // executable judges lists at the real time).
  std::optional<TimePoint> created;
  std::optional<TimePoint> expires;
  // hv:endorser. Default: the signer's subject and issuer. `endorser` takes
  // them from another identity; `endorser_dn` / `endorser_ca` override either
  // name with any text (a deliberately wrong declaration).
  std::optional<PkiIdentity> endorser;
  std::optional<std::string> endorser_dn;
  std::optional<std::string> endorser_ca;
  std::vector<ImageSpec> images;
  // Further list keys as text ("ad:vo", ...) and as raw JSON values.
  std::map<std::string, std::string> text;
  std::map<std::string, std::string> json;
};

// The list's JSON text, as ImageList::Write() writes it (then with raw
// identifiers substituted). `signer` supplies the default endorser.
Result<std::string> BuildListJson(const ListSpec& spec, const PkiIdentity& signer);

// Signs `content` (any bytes) as clear-signed S/MIME with SignSmime().
Result<std::string> SignContent(std::string_view content, const PkiIdentity& signer);

// BuildListJson() then SignContent().
Result<std::string> BuildSignedList(const ListSpec& spec, const PkiIdentity& signer);

// The fresh UUID a ListSpec without identifier gets (random, lower case).
std::string NewTestUuid();

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_LIST_FACTORY_H_
