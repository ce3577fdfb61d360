#include "common/build_info.h"

#include <curl/curl.h>
#include <lmdb.h>
#include <openssl/crypto.h>

#include "common/output.h"
#include "vmc_commit.h"

#ifndef VMC_VERSION
#error "VMC_VERSION comes from CMake's project(VERSION)"
#endif

namespace vmc {

BuildInfo TheBuildInfo() {
  BuildInfo info;
  info.version = VMC_VERSION;
  info.commit = VMC_GIT_COMMIT;
  info.openssl = OpenSSL_version(OPENSSL_VERSION_STRING);
  info.libcurl = curl_version_info(CURLVERSION_NOW)->version;
  int major = 0;
  int minor = 0;
  int patch = 0;
  mdb_version(&major, &minor, &patch);
  info.lmdb = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  return info;
}

std::string VersionText(std::string_view program, const BuildInfo& info) {
  std::string text(program);
  text += " " + info.version + " (commit " + info.commit + ")\n";
  text += "OpenSSL " + info.openssl + ", libcurl " + info.libcurl + ", LMDB " + info.lmdb + "\n";
  return text;
}

std::string VersionJson(std::string_view program, const BuildInfo& info) {
  rapidjson::StringBuffer out;
  JsonWriter w(out);
  w.StartObject();
  Field(w, "program", program);
  Field(w, "version", info.version);
  Field(w, "commit", info.commit);
  Field(w, "openssl", info.openssl);
  Field(w, "libcurl", info.libcurl);
  Field(w, "lmdb", info.lmdb);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize()) + "\n";
}

}  // namespace vmc
