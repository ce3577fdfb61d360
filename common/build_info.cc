#include "common/build_info.h"

#include <curl/curl.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  const auto field = [&](const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  field("program", program);
  field("version", info.version);
  field("commit", info.commit);
  field("openssl", info.openssl);
  field("libcurl", info.libcurl);
  field("lmdb", info.lmdb);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize()) + "\n";
}

}  // namespace vmc
