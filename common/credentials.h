// Credentials files: where an operator keeps the secret for an upload target
// (caster) or a subscription (catcher), so that it never appears on a command
// line, in a policy file, in logs or in --json output.
//
// The file is INI (read by Boost.Program_options), one kind per file:
//   username = alice          # HTTP basic auth
//   password = s3cret
// or
//   token = eyJhbGciOi...     # "Authorization: Bearer" (AppDB style)
// or
//   ssh-key = /home/alice/.ssh/id_ed25519     # SFTP
//   ssh-public-key = ...   ssh-user = ...   ssh-passphrase = ...   (optional)
//
// A file that others can read is used but warned about.
// Thread-safety: reentrant.
#ifndef VMC_COMMON_CREDENTIALS_H_
#define VMC_COMMON_CREDENTIALS_H_

#include <filesystem>

#include "common/error.h"
#include "common/http.h"

namespace vmc {

// Reads the credentials file at `path`. Returns kConfigInvalid naming the file
// (never its values) when it is unreadable, has unknown keys, mixes kinds or
// lacks a value the kind needs.
Result<Credentials> LoadCredentials(const std::filesystem::path& path);

}  // namespace vmc

#endif  // VMC_COMMON_CREDENTIALS_H_
