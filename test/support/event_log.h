// What an e2e test's event handler recorded: the handler appends `env -0`
// (NUL-terminated NAME=VALUE entries) and a record separator (0x1e) per
// event, so values may hold newlines. Thread-compatible.
#ifndef VMC_TEST_SUPPORT_EVENT_LOG_H_
#define VMC_TEST_SUPPORT_EVENT_LOG_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vmc::test {

// One event: the handler's environment, variable -> value, verbatim.
using EventRecord = std::map<std::string, std::string>;

// The shell line a handler script ends with to record its event in "$log".
inline constexpr char kRecordEventLine[] = "{ env -0; printf '\\036'; } >> \"$log\"\n";

// Every event recorded in `log`, in order (none when it does not exist).
std::vector<EventRecord> ReadEvents(const std::filesystem::path& log);

// VMCATCHER_EVENT_TYPE, "" when unset.
std::string TypeOf(const EventRecord& e);

// The variable's value, "<unset>" when unset.
std::string Var(const EventRecord& e, const std::string& name);

// The events of `type` about image `id`.
std::vector<EventRecord> EventsFor(const std::vector<EventRecord>& events, const std::string& type,
                                   const std::string& id);

// "TYPE:FILENAME" of each event.
std::vector<std::string> Types(const std::vector<EventRecord>& events);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_EVENT_LOG_H_
