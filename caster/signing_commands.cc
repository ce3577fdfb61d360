// caster sign | publish | verify
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <utility>

#include "caster/commands.h"
#include "caster/list_store.h"
#include "caster/publish.h"
#include "caster/settings.h"
#include "caster/signing.h"
#include "caster/transfer_bar.h"
#include "common/atomic_file.h"
#include "common/credentials.h"
#include "common/digest.h"
#include "common/http.h"
#include "common/log.h"
#include "common/output.h"
#include "common/unique_fd.h"
#include "common/url.h"
#include "common/verify_command.h"

namespace vmc::caster {
namespace {

constexpr char kDefaultCaDir[] = "/etc/grid-security/certificates";

void KeyOptions(po::options_description& o) {
  o.add_options()  //
      ("cert", po::value<std::string>()->required(),
       "the signer's certificate: PEM, or a PKCS#12 file (.p12, .pfx) with its key")  //
      ("key", po::value<std::string>(),
       "the signer's private key (PEM); not with a PKCS#12 --cert")  //
      ("passphrase-file", po::value<std::string>(),
       "file holding the key's (or the PKCS#12 file's) passphrase")                           //
      ("lifetime", po::value<int>(), "days the signature stays valid (default: the list's)")  //
      ("version", po::value<std::string>(), "hv:version to sign (default: the next one)");
}

// A stored list made ready and signed, not yet recorded anywhere.
struct SignedList {
  std::string identifier;
  std::string original_json;  // the stored list it was made from
  ImageList list;             // with version, dates and endorser
  ListMeta meta;
  std::string smime;
};

Status RequireLifetime(int days) {
  if (days >= 1) return Ok();
  return Error(ErrorCode::kUsage, "--lifetime must be at least 1 day, not " + std::to_string(days));
}

// Rewrites hv:uri of every image with a local file to its place beside the
// list, after checking the file still holds the bytes the list declares.
Status PlaceImagesBesideList(ImageList& list, const ListMeta& meta) {
  // Published name -> local file: two files of one name would overwrite each
  // other beside the list (and so would a file named like the list itself).
  std::map<std::string, std::string> placed;
  VMC_ASSIGN_OR_RETURN(const std::string list_name, UrlFileName(list.uri()));
  for (const auto& [image_id, file] : meta.image_files) {
    const auto image = list.FindImage(image_id);
    if (!image) continue;
    VMC_ASSIGN_OR_RETURN(const std::string name, PublishedImageName(file));
    if (name == list_name) {
      std::string message = "image file " + file;
      message += " (image " + image_id;
      message += ") would replace the list " + list.uri();
      message += " itself: rename the file";
      return Error(ErrorCode::kInvalidValue, std::move(message))
          .With("file", file)
          .With("image", image_id);
    }
    VMC_ASSIGN_OR_RETURN(const std::string image_url, SiblingUrl(list.uri(), name));
    const auto [other, fresh] = placed.emplace(name, file);
    if (!fresh && other->second != file) {
      std::string message = "image files " + other->second;
      message += " and " + file;
      message += " would both be published as " + image_url;
      message += ": rename one of them";
      return Error(ErrorCode::kInvalidValue, std::move(message))
          .With("file", file)
          .With("image", image_id);
    }
    VMC_ASSIGN_OR_RETURN(const FileDigest digest, HashFile(file));
    if (digest.size != image->size() || digest.sha512_hex != image->sha512()) {
      std::string message = "image file " + file;
      message += " changed since it was added to list " + list.identifier();
      message += " (image " + image_id;
      message += "): run 'caster image add' again";
      return Error(ErrorCode::kChecksumMismatch, std::move(message))
          .With("file", file)
          .With("image", image_id);
    }
    VMC_RETURN_IF_ERROR(list.SetImage(image_id, "hv:uri", image_url));
  }
  return Ok();
}

Result<SignedList> SignStoredList(const Invocation& inv, ListStore& store, bool with_images) {
  const std::string identifier = inv.Get<std::string>("list");
  VMC_ASSIGN_OR_RETURN(StoredList stored, store.Load(identifier));
  const TimePoint now = SystemClock().Now();
  KeySource keys{inv.Get<std::string>("cert"), inv.Find<std::string>("key").value_or(""),
                 std::nullopt};
  if (auto f = inv.Find<std::string>("passphrase-file")) keys.passphrase_file = *f;
  VMC_ASSIGN_OR_RETURN(const SigningIdentity identity, LoadIdentity(keys, now));
  ListMeta meta = stored.meta;
  if (auto days = inv.Find<int>("lifetime")) {
    VMC_RETURN_IF_ERROR(RequireLifetime(*days));
    meta.lifetime_days = *days;
  }
  ImageList list = stored.list.Clone();
  if (with_images) VMC_RETURN_IF_ERROR(PlaceImagesBesideList(list, meta));
  const SigningParameters params{now, meta.lifetime_days, inv.Find<std::string>("version")};
  VMC_RETURN_IF_ERROR(PrepareForSigning(list, meta, identity, params));
  VMC_ASSIGN_OR_RETURN(std::string smime, SignList(list, identity));
  meta.signed_version = list.version();
  return SignedList{identifier, stored.list.Write(), std::move(list), std::move(meta),
                    std::move(smime)};
}

// Records the version floor, and the signed list itself when `with_list`.
// Refuses when the stored list changed since it was signed (another caster).
Status Record(ListStore& store, const SignedList& s, bool with_list) {
  return store.Edit(s.identifier, [&](ImageList& list, ListMeta& meta) -> Status {
    if (list.Write() != s.original_json) {
      return Error(ErrorCode::kStorage, "list " + s.identifier +
                                            " changed in the store while it was signed; run "
                                            "the command again");
    }
    meta.signed_version = s.meta.signed_version;
    if (with_list) {
      list = s.list.Clone();
      meta = s.meta;
    }
    return Ok();
  });
}

Status Sign(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, ListStore::Open(StoreDir(inv)));
  VMC_ASSIGN_OR_RETURN(const SignedList s, SignStoredList(inv, store, false));
  const auto out = inv.Find<std::string>("output");
  if (!out) {
    VMC_RETURN_IF_ERROR(Record(store, s, true));
    *inv.out << s.smime;
    return Ok();
  }
  // The output is written (beside its target, synced) before the store
  // records the signature, so that an unwritable -o leaves the store as it
  // was; only the rename, which hardly fails, comes after.
  VMC_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(*out));
  VMC_RETURN_IF_ERROR(file.Write(s.smime));
  VMC_RETURN_IF_ERROR(Record(store, s, true));
  VMC_RETURN_IF_ERROR(file.Commit());
  LogInfo("signed list " + s.identifier + " version " + s.list.version() + " into " + *out);
  return Ok();
}

// A private temporary file holding `data`, removed when destroyed.
class TempFile {
 public:
  static Result<TempFile> Create(std::string_view data) {
    std::string pattern = (std::filesystem::temp_directory_path() / "caster-XXXXXX").string();
    const UniqueFd fd(mkstemp(pattern.data()));
    if (fd.get() < 0) return SystemError("create a temporary file in", pattern, errno);
    TempFile file(pattern);
    if (write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      return SystemError("write", pattern, errno);
    }
    return file;
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Refuses an image file whose published name is the target's own file name:
// the list, uploaded last, would replace it.
Status CheckImageNamesAgainstTarget(const SignedList& s, const UploadTarget& target) {
  VMC_ASSIGN_OR_RETURN(const std::string list_name, UrlFileName(target.url));
  for (const auto& [image_id, file] : s.meta.image_files) {
    if (!s.list.FindImage(image_id)) continue;
    VMC_ASSIGN_OR_RETURN(const std::string name, PublishedImageName(file));
    if (name == list_name) {
      std::string message = "image file " + file;
      message += " (image " + image_id;
      message += ") would be replaced by the list at " + RedactUrl(target.url);
      message += ": rename the file";
      return Error(ErrorCode::kInvalidValue, std::move(message))
          .With("file", file)
          .With("image", image_id);
    }
  }
  return Ok();
}

Status UploadImages(HttpClient& client, const SignedList& s, const UploadTarget& target,
                    const Credentials& credentials) {
  for (const auto& [image_id, file] : s.meta.image_files) {
    if (!s.list.FindImage(image_id)) continue;
    VMC_ASSIGN_OR_RETURN(const std::string name, PublishedImageName(file));
    VMC_ASSIGN_OR_RETURN(std::string image_url, SiblingUrl(target.url, name));
    UploadRequest request;
    request.url = std::move(image_url);
    request.source = file;
    request.credentials = credentials;
    LogInfo("uploading image " + image_id + " to " + RedactUrl(request.url));
    // An image may be gigabytes: a bar on a terminal. The list is not.
    TransferBar bar(name);
    request.progress = bar.Observer();
    VMC_RETURN_IF_ERROR(client.Upload(request));
    bar.Finish();
  }
  return Ok();
}

Status Publish(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, ListStore::Open(StoreDir(inv)));
  const bool with_images = inv.Has("with-images");
  VMC_ASSIGN_OR_RETURN(const SignedList s, SignStoredList(inv, store, with_images));
  VMC_ASSIGN_OR_RETURN(
      const UploadTarget target,
      ResolveTarget(
          s.list.uri(), inv.Find<std::string>("target"), inv.Find<std::string>("credentials-file"),
          inv.Find<std::vector<std::string>>("upload").value_or(std::vector<std::string>{})));
  if (with_images) VMC_RETURN_IF_ERROR(CheckImageNamesAgainstTarget(s, target));
  Credentials credentials;
  if (target.credentials_file) {
    VMC_ASSIGN_OR_RETURN(credentials, LoadCredentials(*target.credentials_file));
  }
  HttpOptions options;
  if (auto ca = inv.Find<std::string>("ca-dir")) options.ca_dir = *ca;
  if (auto kh = inv.Find<std::string>("known-hosts")) options.ssh_known_hosts = *kh;
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(options));
  // The version floor first: if the upload fails after the server stored the
  // list, the next signature still goes above it.
  VMC_RETURN_IF_ERROR(Record(store, s, false));
  if (with_images) VMC_RETURN_IF_ERROR(UploadImages(client, s, target, credentials));
  VMC_ASSIGN_OR_RETURN(const TempFile file, TempFile::Create(s.smime));
  UploadRequest list_upload;
  list_upload.url = target.url;
  list_upload.source = file.path();
  list_upload.credentials = credentials;
  VMC_RETURN_IF_ERROR(client.Upload(list_upload));
  VMC_RETURN_IF_ERROR(Record(store, s, true));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "identifier", s.identifier);
    Field(w, "version", s.list.version());
    Field(w, "target", RedactUrl(target.url));
    Field(w, "expires", FormatDate(*s.list.expires()));
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << "published list " << s.identifier << " version " << s.list.version() << " to "
             << RedactUrl(target.url) << "\n";
  }
  return Ok();
}

Status Verify(const Invocation& inv) {
  return RunVerify(inv, inv.Find<std::string>("ca-dir").value_or(kDefaultCaDir));
}

}  // namespace

void AddSigningCommands(CommandLine& cli) {
  cli.Add({{"sign"},
           "sign a list: bump the version, set dates and endorser, validate, sign",
           "LIST --cert PEM --key PEM",
           "Writes the signed list (S/MIME) to -o FILE or stdout. The store is updated only "
           "when signing succeeded.",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()("list", po::value<std::string>()->required(), "the list")(
                 "output,o", po::value<std::string>(), "file (default: stdout)");
             KeyOptions(o);
             p.add("list", 1);
           },
           Sign});
  cli.Add({{"publish"},
           "sign a list and upload it (file://, https:// PUT, sftp://)",
           "LIST --cert PEM --key PEM [--target URL]",
           "Without --target, the config file's 'upload = PREFIX TARGET [CREDENTIALS]' lines "
           "map the list's hv:uri to a target. A failed upload leaves the stored list "
           "unchanged.",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()                                                            //
                 ("list", po::value<std::string>()->required(), "the list")             //
                 ("target", po::value<std::string>(), "upload URL of the signed list")  //
                 ("credentials-file", po::value<std::string>(),
                  "credentials for the target (username/password, token, ssh-key)")  //
                 ("with-images",
                  "upload image files added with --file beside the list and "
                  "point their hv:uri there")                                            //
                 ("ca-dir", po::value<std::string>(), "CA directory for HTTPS targets")  //
                 ("known-hosts", po::value<std::string>(), "known_hosts file for SFTP targets");
             KeyOptions(o);
             p.add("list", 1);
           },
           Publish});
  cli.Add({{"verify"},
           "check a signed list offline, exactly as catcher does",
           "FILE [--ca-dir DIR]",
           "Runs the signature, chain (with CRLs), endorser, schema and date checks.",
           [](po::options_description& o, po::positional_options_description& p) {
             DefineVerifyOptions(o, p);
             o.add_options()("ca-dir", po::value<std::string>(),
                             "hashed CA directory (default: /etc/grid-security/certificates)");
           },
           Verify});
}

}  // namespace vmc::caster
