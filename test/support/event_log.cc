#include "test/support/event_log.h"

#include "test/support/temp_dir.h"

namespace vmc::test {

std::vector<EventRecord> ReadEvents(const std::filesystem::path& log) {
  std::vector<EventRecord> out;
  std::error_code ec;
  if (!std::filesystem::exists(log, ec)) return out;
  const std::string text = ReadFile(log);
  size_t start = 0;
  for (size_t end = text.find('\x1e', start); end != std::string::npos;
       start = end + 1, end = text.find('\x1e', start)) {
    EventRecord record;
    const std::string block = text.substr(start, end - start);
    size_t at = 0;
    while (at < block.size()) {
      size_t nul = block.find('\0', at);
      if (nul == std::string::npos) nul = block.size();
      const std::string entry = block.substr(at, nul - at);
      const auto eq = entry.find('=');
      if (eq != std::string::npos) record[entry.substr(0, eq)] = entry.substr(eq + 1);
      at = nul + 1;
    }
    out.push_back(std::move(record));
  }
  return out;
}

std::string TypeOf(const EventRecord& e) {
  const auto it = e.find("VMCATCHER_EVENT_TYPE");
  return it == e.end() ? "" : it->second;
}

std::string Var(const EventRecord& e, const std::string& name) {
  const auto it = e.find(name);
  return it == e.end() ? "<unset>" : it->second;
}

std::vector<EventRecord> EventsFor(const std::vector<EventRecord>& events, const std::string& type,
                                   const std::string& id) {
  std::vector<EventRecord> out;
  for (const auto& e : events) {
    if (TypeOf(e) == type && Var(e, "VMCATCHER_EVENT_DC_IDENTIFIER") == id) out.push_back(e);
  }
  return out;
}

std::vector<std::string> Types(const std::vector<EventRecord>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(TypeOf(e) + ":" + Var(e, "VMCATCHER_EVENT_FILENAME"));
  return out;
}

}  // namespace vmc::test
