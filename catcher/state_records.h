// The records of the catcher's database (state.h): the names of its
// databases and each record type's encoding, built on the shared record codec
// (common/record_codec.h). State's operations store and look up what these
// functions encode; nothing else reads or writes the bytes.
//
// Decoders take the key the record was found under and return kStorage
// naming the database and key when the record is damaged. Records already on
// sites must keep decoding: state_records_test.cc holds records written by
// earlier versions.
//
// Thread-safety: reentrant.
#ifndef VMC_CATCHER_STATE_RECORDS_H_
#define VMC_CATCHER_STATE_RECORDS_H_

#include <string>
#include <string_view>

#include "catcher/selection.h"
#include "catcher/state_values.h"
#include "common/error.h"
#include "common/record_codec.h"

namespace vmc::catcher {

// The databases of the state directory's LMDB environment.
inline constexpr char kSubscriptionsDb[] = "subscriptions";
inline constexpr char kListsDb[] = "lists";
inline constexpr char kListBytesDb[] = "list_bytes";
// The split of the list held (common/smime.h: SmimeSplit): its facts and
// SignedData, and apart, its signed part as raw bytes.
inline constexpr char kListSplitDb[] = "list_split";
inline constexpr char kListSplitPartDb[] = "list_split_part";
inline constexpr char kHistoryDb[] = "history";
inline constexpr char kAttemptsDb[] = "attempts";
inline constexpr char kSeenDb[] = "seen";
inline constexpr char kChoicesDb[] = "choices";
inline constexpr char kCachedDb[] = "cached";
inline constexpr char kInspectionsDb[] = "inspections";
inline constexpr char kConversionsDb[] = "conversions";

// The error for a damaged (or missing) entry `key` of database `db`.
Error DamagedEntry(std::string_view db, std::string_view key);

std::string EncodeSubscription(const SubscriptionRecord& record);
Result<SubscriptionRecord> DecodeSubscription(std::string_view key, std::string_view json);

// The list's facts; its signed bytes are stored apart (kListBytesDb).
std::string EncodeList(const AcceptedList& list);
Result<AcceptedList> DecodeList(std::string_view key, std::string_view json);

// A split's facts and SignedData; its signed part is stored apart
// (kListSplitPartDb), and DecodeSplit leaves it empty.
std::string EncodeSplit(const SmimeSplit& split);
Result<SmimeSplit> DecodeSplit(std::string_view key, std::string_view json);

std::string EncodeHistory(const HistoryEntry& entry);
Result<HistoryEntry> DecodeHistory(std::string_view key, std::string_view json);

std::string EncodeAttempt(const AttemptRecord& attempt);
Result<AttemptRecord> DecodeAttempt(std::string_view key, std::string_view json);

std::string EncodeSeen(const SeenImage& seen);
Result<SeenImage> DecodeSeen(std::string_view key, std::string_view json);

// "accepted" or "refused" (kNone is stored as no entry).
// REQUIRES: choice != AdminChoice::kNone.
std::string EncodeChoice(AdminChoice choice);
Result<AdminChoice> DecodeChoice(std::string_view key, std::string_view value);

std::string EncodeCached(const CachedImage& cached);
Result<CachedImage> DecodeCached(std::string_view key, std::string_view json);
// The summary of a "cached" record, without building its event variables
// (which are still parsed, so that a damaged record is refused): a cache run
// reads every record (~75,000 for a list at the size cap) and acts on few.
Result<CachedSummary> DecodeCachedSummary(std::string_view key, std::string_view json);

std::string EncodeInspection(const InspectionRecord& inspection);
Result<InspectionRecord> DecodeInspection(std::string_view key, std::string_view json);

std::string EncodeConversion(const ConversionRecord& conversion);
Result<ConversionRecord> DecodeConversion(std::string_view key, std::string_view json);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_STATE_RECORDS_H_
