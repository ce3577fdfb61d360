// Where and how `caster publish` uploads a signed list (and, with
// --with-images, its image files).
//
// The target is --target URL when given; otherwise the config file's `upload`
// lines map the list's hv:uri to a target by prefix:
//   upload = https://example.org/lists/  sftp://me@web.example.org/srv/www/lists/
//   /home/me/.config/caster/web.credentials
// (prefix, target, optional credentials file), so that hv:uri
// https://example.org/lists/my.list is uploaded to
// sftp://me@web.example.org/srv/www/lists/my.list. The longest matching
// prefix wins. Without a matching rule, an https, file or sftp hv:uri (its
// scheme as libcurl reads it) is its own target (plain http is not:
// credentials would travel in clear). The URLs of image files beside the
// list come from SiblingUrl (common/url.h).
#ifndef VMC_CASTER_PUBLISH_H_
#define VMC_CASTER_PUBLISH_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace vmc::caster {

struct UploadTarget {
  std::string url;
  std::optional<std::filesystem::path> credentials_file;
};

// Returns the target for a list published at `list_uri`: `explicit_target`
// when given (with `explicit_credentials`), else the longest-prefix `upload`
// rule, else hv:uri itself when it is https, file or sftp. kConfigInvalid for
// a malformed rule; kInvalidValue when nothing fits (the message says how to
// configure one).
Result<UploadTarget> ResolveTarget(const std::string& list_uri,
                                   const std::optional<std::string>& explicit_target,
                                   const std::optional<std::string>& explicit_credentials,
                                   const std::vector<std::string>& rules);

// The name under which an image file is published beside its list: the
// local file's name, when it is a safe URL path segment (1-128 of
// [A-Za-z0-9._+-], not starting with "."); kInvalidValue otherwise.
Result<std::string> PublishedImageName(const std::filesystem::path& file);

}  // namespace vmc::caster

#endif  // VMC_CASTER_PUBLISH_H_
