#include "catcher/qemu_img.h"

#include "common/json_reader.h"
#include "common/output.h"
#include "common/subprocess.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

// qemu-img's environment: nothing of ours (no proxy, no locale that changes
// its messages), only where its own libraries and helpers are.
std::vector<std::string> QemuEnvironment() { return {"PATH=/usr/bin:/bin", "LC_ALL=C"}; }

// The stderr of qemu-img, cut to one line a log can hold.
std::string FirstLine(std::string text) {
  const auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  constexpr std::size_t kMax = 400;
  if (text.size() > kMax) text.resize(kMax);
  return text;
}

Result<SubprocessResult> RunQemuImg(std::vector<std::string> argv,
                                    std::chrono::milliseconds timeout, bool low_priority,
                                    const std::atomic<bool>* cancel = nullptr) {
  SubprocessOptions o;
  o.argv = std::move(argv);
  o.environment = QemuEnvironment();
  o.timeout = timeout;
  o.capture = true;
  o.low_priority = low_priority;
  o.cancel = cancel;
  // A conversion outlives no catcher: killed with it, it stops writing.
  o.die_with_parent = true;
  return RunSubprocess(o);
}

std::string StringMember(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return "";
  return {it->value.GetString(), it->value.GetStringLength()};
}

// The VMDK extents and the qcow2 data file, from "format-specific".
void ReadFormatSpecific(const rapidjson::Value& root, QemuImgInfo& info) {
  const auto specific = root.FindMember("format-specific");
  if (specific == root.MemberEnd() || !specific->value.IsObject()) return;
  const auto data = specific->value.FindMember("data");
  if (data == specific->value.MemberEnd() || !data->value.IsObject()) return;
  info.data_file = StringMember(data->value, "data-file");
  const auto extents = data->value.FindMember("extents");
  if (extents == data->value.MemberEnd() || !extents->value.IsArray()) return;
  for (const auto& extent : extents->value.GetArray()) {
    if (extent.IsObject()) info.extents.push_back(StringMember(extent, "filename"));
  }
}

}  // namespace

std::string QemuFileName(const fs::path& file, std::string_view driver, const ByteRange& range) {
  rapidjson::StringBuffer out;
  JsonWriter w(out);
  w.StartObject();
  Field(w, "driver", driver);
  w.Key("file");
  w.StartObject();
  Field(w, "driver", "raw");
  Field(w, "offset", range.offset);
  Field(w, "size", range.length);
  w.Key("file");
  w.StartObject();
  Field(w, "driver", "file");
  Field(w, "filename", file.string());
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return "json:" + std::string(out.GetString(), out.GetSize());
}

Result<QemuImgInfo> ParseQemuImgInfo(std::string_view json) {
  JsonReadOptions options;
  options.max_bytes = std::size_t{1} << 20;
  options.max_depth = 16;
  JsonReadResult read = ReadJson(json, options);
  if (!read.ok()) {
    return Error(ErrorCode::kInvalidValue,
                 "qemu-img info wrote JSON that cannot be read: " + read.refusal().reason);
  }
  const rapidjson::Document& root = read.document();
  if (!root.IsObject()) return Error(ErrorCode::kInvalidValue, "qemu-img info wrote no object");
  const auto size = root.FindMember("virtual-size");
  if (size == root.MemberEnd() || !size->value.IsUint64()) {
    return Error(ErrorCode::kInvalidValue, "qemu-img info gave no virtual size");
  }
  QemuImgInfo info;
  info.format = StringMember(root, "format");
  info.virtual_size = size->value.GetUint64();
  info.backing_file = StringMember(root, "backing-filename");
  if (info.backing_file.empty()) info.backing_file = StringMember(root, "full-backing-filename");
  const auto encrypted = root.FindMember("encrypted");
  info.encrypted =
      encrypted != root.MemberEnd() && encrypted->value.IsBool() && encrypted->value.GetBool();
  ReadFormatSpecific(root, info);
  return info;
}

Result<QemuImg> QemuImg::Find() {
  const fs::path program = FindProgram("qemu-img");
  if (program.empty()) {
    return Error(ErrorCode::kConfigInvalid,
                 "qemu-img is not installed (Debian package qemu-utils); catcher needs it to "
                 "inspect and convert images");
  }
  VMC_ASSIGN_OR_RETURN(const SubprocessResult ran, RunQemuImg({program.string(), "--version"},
                                                              std::chrono::seconds(30), false));
  // "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
  constexpr std::string_view kLead = "qemu-img version ";
  if (!ran.Succeeded() || !ran.out.starts_with(kLead)) {
    return Error(ErrorCode::kConfigInvalid,
                 program.string() + " --version " + ran.Describe(std::chrono::seconds(30)) +
                     " and did not say its version: " + FirstLine(ran.out + ran.err));
  }
  std::string version = ran.out.substr(kLead.size());
  version.resize(std::min(version.find_first_of(" \n"), version.size()));
  return QemuImg(program, std::move(version));
}

Result<QemuImgInfo> QemuImg::Info(const fs::path& file, std::string_view driver,
                                  std::chrono::milliseconds timeout,
                                  const std::optional<ByteRange>& range) const {
  std::vector<std::string> argv = {program_.string(), "info", "--output=json", "-U"};
  if (range) {
    argv.push_back(QemuFileName(file, driver, *range));
  } else {
    argv.insert(argv.end(), {"-f", std::string(driver), file.string()});
  }
  VMC_ASSIGN_OR_RETURN(const SubprocessResult ran, RunQemuImg(std::move(argv), timeout, false));
  // qemu-img exits 1 when it cannot open the image: a verdict on the
  // bytes, kept. Killed, timed out or any other status is about this run
  // (memory, a signal), and the next run asks again.
  if (!ran.Succeeded() && ran.exit_status != 1) {
    return Error(ErrorCode::kIo, "qemu-img info of " + file.string() + " " + ran.Describe(timeout) +
                                     ": " + FirstLine(ran.err))
        .With("path", file.string());
  }
  if (!ran.Succeeded()) {
    return Error(ErrorCode::kFormatUnsafe,
                 "qemu-img cannot read it as " + std::string(driver) + ": " + FirstLine(ran.err))
        .With("path", file.string());
  }
  return ParseQemuImgInfo(ran.out);
}

Status QemuImg::Convert(const fs::path& from, std::string_view from_driver, const fs::path& to,
                        std::string_view to_format, std::chrono::milliseconds timeout,
                        const std::atomic<bool>* cancel) const {
  VMC_ASSIGN_OR_RETURN(
      const SubprocessResult ran,
      RunQemuImg({program_.string(), "convert", "-q", "-f", std::string(from_driver), "-O",
                  std::string(to_format), from.string(), to.string()},
                 timeout, true, cancel));
  if (ran.Succeeded()) return Ok();
  return Error(ErrorCode::kIo, "qemu-img convert of " + from.string() + " to " +
                                   std::string(to_format) + " " + ran.Describe(timeout) + ": " +
                                   FirstLine(ran.err))
      .With("path", from.string());
}

}  // namespace vmc::catcher
