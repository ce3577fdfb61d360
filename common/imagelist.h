// The image list (DESIGN.md section 3): a lenient reader for lists from the
// field, typed access for verification, caching and events, mutation for the
// publisher, and writing (common/json_writer.h). The JSON rules are those
// of common/json_reader.h, the keys of known type those of
// common/imagelist_keys.h.
//
// The JSON document itself is the storage. Accessors read from it and
// mutators write into it, so every key and value that was read is written
// back: integers stay integers, AppDB's digit strings stay strings, and `ad:*`
// and unknown keys keep their values, however nested. Values this code writes
// anew (sizes of new images, ...) are integers.
//
// Invariant: every key with a known type that is present holds a valid value
// of that type (identifiers, dates, counts, SHA-512, text; see the schema).
// Parse() establishes it and every mutator keeps it, so the typed accessors
// never fail. Keys the schema requires may be missing from a list built with
// Create() until `caster sign` fills them; Validate() says whether a list is
// complete.
//
// Input: Parse() reads untrusted bytes (from a verified signature, but
// written by anyone holding a certificate). Mutator arguments come from the
// command line or the signing certificate.
//
// Thread-safety: an ImageList is thread-compatible: const methods may run
// concurrently; a mutation needs exclusive access. An Image is a view into
// its list: it is valid until the list is mutated, moved or destroyed.
//
// Cost: a list at the size cap has about 75,000 images, so reads of one image
// are O(1): images() returns views kept with the list (built when it is made
// and after each change of its images, never per call), image(i) and
// FindImage() index them. A caller that walks the images calls images() once
// and keeps the reference, never copies it per image.
#ifndef VMC_COMMON_IMAGELIST_H_
#define VMC_COMMON_IMAGELIST_H_

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace vmc {

// Lists nest about six levels; unknown keys may add a few. Deeper input is
// refused before anything walks it recursively (common/json_reader.h).
inline constexpr int kMaxImageListDepth = 64;

// hv:endorser/hv:x509. Empty strings stand for absent keys.
struct Endorser {
  std::string dn;       // hv:dn, OpenSSL one-line form "/C=DE/O=GermanGrid/CN=..."
  std::string ca;       // hv:ca, the issuer in the same form
  std::string email;    // hv:email
  std::string creator;  // dc:creator
};

// What `caster list create` starts a list with.
struct NewListFields {
  std::string identifier;  // REQUIRES: follows the identifier rule (checked)
  std::string title;
  std::string description;
  std::string source;
  std::string uri;  // where the list will be published
};

// What `caster image add` starts an image with; further keys are set with
// ImageList::SetImage().
struct NewImageFields {
  std::string identifier;  // REQUIRES: follows the identifier rule (checked)
  std::string uri;
  std::uint64_t size = 0;
  std::string sha512;  // 128 hex digits, either case; stored in lower case
  std::string title;
};

// A read-only view of one image (hv:images/N/hv:image) of an ImageList.
// Text accessors return "" for absent keys.
class Image {
 public:
  std::string identifier() const;
  std::string title() const;
  std::string description() const;
  std::string uri() const;
  std::uint64_t size() const;
  // The declared SHA-512 in lower case, whatever case the list used.
  std::string sha512() const;
  std::string version() const;
  std::string hypervisor() const;
  std::string format() const;
  std::string arch() const;       // sl:arch
  std::string os() const;         // sl:os
  std::string osversion() const;  // sl:osversion
  std::string comments() const;   // sl:comments
  std::optional<std::uint64_t> ram_minimum() const;
  std::optional<std::uint64_t> core_minimum() const;
  // AppDB's per-image dc:date:expires, when present.
  std::optional<TimePoint> expires() const;
  std::string mpuri() const;  // ad:mpuri
  // ad:vo of the image, else of the list (AppDB writes it at either level).
  std::string vo() const;

  // Any key of the image as text: strings verbatim, numbers in decimal,
  // anything else as compact JSON. Empty when the key is absent.
  std::optional<std::string> Get(std::string_view key) const;

  // Position in hv:images and the JSON pointer of the hv:image object, for
  // messages ("/hv:imagelist/hv:images/3/hv:image").
  std::size_t index() const { return index_; }
  std::string pointer() const;

  const rapidjson::Value& json() const { return *image_; }

 private:
  friend class ImageList;
  Image(const rapidjson::Value* image, const rapidjson::Value* list, std::size_t index)
      : image_(image), list_(list), index_(index) {}

  std::string Text(std::string_view key) const;

  const rapidjson::Value* image_;  // not owned
  const rapidjson::Value* list_;   // not owned
  std::size_t index_;
};

class ImageList {
 public:
  // A new list with dc:identifier, dc:title, dc:description, dc:source,
  // hv:uri and no images. Returns kInvalidIdentifier for a bad identifier,
  // kInvalidValue for text that is not UTF-8.
  static Result<ImageList> Create(const NewListFields& fields);

  // Reads a list from the field, in this order:
  //   1. JSON (common/json_reader.h: RFC 8259, UTF-8, at most
  //      kMaxImageListDepth levels, no key twice in one object, numbers a
  //      double holds): kJsonMalformed with the byte offset and the pointer
  //      of the value being read; beyond 1 GiB, kListTooLarge;
  //   2. a list without the hv:imagelist wrapper (old lists) is accepted and
  //      a warning is appended to *warnings; it is wrapped in memory, so
  //      Write() writes the wrapper;
  //   3. the schema (schemas/imagelist.schema.json): the first violation,
  //      with the JSON pointer into `json` as it was given;
  //   4. what the schema cannot say: dates are calendar dates, identifiers
  //      follow the identifier rule, counts fit 64 bits, checksums are hex,
  //      and no two images share an identifier.
  // Every refusal has details "pointer" (JSON pointer) or "offset" (bytes).
  // Codes: kJsonMalformed, kSchemaViolation, and for values of a known type
  // kInvalidIdentifier, kInvalidDate or kInvalidValue, whichever layer
  // finds the fault, so that a script sees one code per kind of fault.
  // The caller caps json.size() at its own limit first (DESIGN.md section
  // 5, step 1); the reader's bound only keeps an uncapped path safe.
  // `warnings` may be null.
  static Result<ImageList> Parse(std::string_view json,
                                 std::vector<std::string>* warnings = nullptr);

  // As Parse(), for the publisher's own lists that were never signed (the
  // caster store, `caster list import`): of the keys the schema requires of
  // a list only dc:identifier must be present, because `caster sign` fills
  // the dates, the version and the endorser. Everything present is checked
  // as Parse() checks it; an endorser or an image, when present, is complete.
  static Result<ImageList> ParseDraft(std::string_view json,
                                      std::vector<std::string>* warnings = nullptr);

  ImageList(ImageList&&) noexcept;
  ImageList& operator=(ImageList&&) noexcept;
  ImageList(const ImageList&) = delete;
  ImageList& operator=(const ImageList&) = delete;
  ~ImageList();

  // A deep copy, e.g. to try a series of edits and keep them only if all pass.
  ImageList Clone() const;

  // Reads. Text accessors return "" for absent keys.
  std::string identifier() const;
  std::string title() const;
  std::string description() const;
  std::string source() const;
  std::string uri() const;
  std::string version() const;
  std::optional<TimePoint> created() const;
  std::optional<TimePoint> expires() const;
  // Empty when the list has no hv:endorser yet (a list that was never signed).
  std::optional<Endorser> endorser() const;
  std::string vo() const;  // ad:vo

  std::size_t image_count() const;
  // Views in list order; see Image for their lifetime. The same vector on
  // every call until the list's images change: O(1), nothing is copied.
  const std::vector<Image>& images() const { return images_; }
  // The image at position `index` of hv:images, O(1).
  // REQUIRES: index < image_count().
  const Image& image(std::size_t index) const { return images_[index]; }
  // O(1) on average: an index by identifier kept with the views.
  std::optional<Image> FindImage(std::string_view identifier) const;

  // Any list key as text, as Image::Get().
  std::optional<std::string> Get(std::string_view key) const;

  // The whole document, with the wrapper: {"hv:imagelist": {...}}.
  const rapidjson::Value& json() const;

  // Mutations. Keys with a known type are checked (identifiers, dates as
  // "YYYY-MM-DDTHH:MM:SSZ", counts as decimal digits written as integers,
  // SHA-512 as hex written in lower case); other keys take the text as a
  // string. hv:images and hv:endorser change only through their own
  // functions. Errors name the key's JSON pointer; nothing changes on error.
  Status Set(std::string_view key, std::string_view text);
  // As Set(), with a JSON value (any value for keys without a known type;
  // for the others, a value of their type, kept as written).
  Status SetJson(std::string_view key, std::string_view json);
  // kNotFound when absent; dc:identifier, hv:images and hv:endorser cannot
  // be removed.
  Status Unset(std::string_view key);

  void SetCreated(TimePoint t);
  void SetExpires(TimePoint t);
  Status SetVersion(std::string_view version);
  // Writes all four keys (empty strings for unknown email or creator, as
  // vmcaster did, so that old subscribers that require them accept the
  // list), keeping any other keys of hv:x509.
  Status SetEndorser(const Endorser& endorser);

  // Appends an image. Returns kAlreadyExists when the identifier is taken.
  // Keys that old vmcatcher subscribers require of every image (dc:title,
  // dc:description, hv:version, hv:hypervisor, sl:arch, sl:os, sl:osversion,
  // sl:comments) are written as "" until set, as vmcaster did; without them
  // those subscribers silently drop the image.
  Status AddImage(const NewImageFields& fields);
  // kNotFound when no image has the identifier.
  Status RemoveImage(std::string_view identifier);
  // Image key mutations, as Set()/SetJson()/Unset(). A new dc:identifier
  // must be free (kAlreadyExists). dc:identifier, hv:uri, hv:size and
  // sl:checksum:sha512 cannot be removed.
  Status SetImage(std::string_view image, std::string_view key, std::string_view text);
  Status SetImageJson(std::string_view image, std::string_view key, std::string_view json);
  Status UnsetImage(std::string_view image, std::string_view key);

  // The checks of Parse() steps 3 and 4 on the list as it is now; `caster
  // sign` runs it after filling dates, version and endorser.
  Status Validate() const;

  // The list as JSON: keys sorted (by bytes) at every level, 4-space
  // indentation, non-ASCII characters as \u escapes (7-bit text survives
  // S/MIME text mode), the hv:imagelist wrapper, a trailing newline. The same
  // list always gives the same bytes.
  std::string Write() const;

 private:
  explicit ImageList(rapidjson::Document document);
  static Result<ImageList> Read(std::string_view json, std::vector<std::string>* warnings,
                                bool draft);

  rapidjson::Value& list();
  const rapidjson::Value& list() const;
  rapidjson::Value* FindImageObject(std::string_view identifier, std::size_t* index);
  Status SetListValue(std::string_view key, rapidjson::Value value);
  Status SetImageValue(std::string_view image, std::string_view key, rapidjson::Value value);
  // Rebuilds images_ and by_identifier_ from the document: after
  // construction and after every change of hv:images or of an image's keys
  // (which may move the image's members, and with them the short strings
  // that rapidjson keeps inside a value). Moving the list keeps them valid:
  // the views point into memory the document's allocator holds, which a
  // move does not relocate.
  void IndexImages();

  rapidjson::Document document_;
  std::vector<Image> images_;
  // dc:identifier (a view into the document) -> position in images_.
  std::unordered_map<std::string_view, std::size_t> by_identifier_;
};

}  // namespace vmc

#endif  // VMC_COMMON_IMAGELIST_H_
