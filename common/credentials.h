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
// The file must be a regular file that only its owner can read or write
// (mode & 077 == 0, e.g. chmod 600): any other is refused, not warned about.
//
// No message ever carries a line, key or value of the file (any of them may
// be a secret): only the file's name, a line number, and key names from the
// list above.
// Thread-safety: reentrant.
#ifndef VMC_COMMON_CREDENTIALS_H_
#define VMC_COMMON_CREDENTIALS_H_

#include <filesystem>

#include "common/error.h"
#include "common/http.h"

namespace vmc {

// Reads the credentials file at `path`. Returns kConfigInvalid naming the file
// (and the line, never its text) when it is unreadable, not a regular file,
// open to group or others, has a line that is not KEY = VALUE, a section, an
// unknown or repeated key, mixes kinds or lacks a value the kind needs.
Result<Credentials> LoadCredentials(const std::filesystem::path& path);

}  // namespace vmc

#endif  // VMC_COMMON_CREDENTIALS_H_
