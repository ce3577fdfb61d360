// The deterministic JSON writer of image lists (ImageList::Write): the same
// value always gives the same bytes, so that a list can be compared, signed
// and diffed as text.
//
// Keys are sorted by their bytes at every level, indentation is 4 spaces,
// every character beyond ASCII is written as a \u escape (7-bit text
// survives S/MIME text mode), and the text ends with a newline. Numbers and
// strings are written as RapidJSON holds them, so an integer stays an
// integer and AppDB's digit strings stay strings.
//
// Thread-safety: a pure function.
#ifndef VMC_COMMON_JSON_WRITER_H_
#define VMC_COMMON_JSON_WRITER_H_

#include <rapidjson/document.h>

#include <string>

namespace vmc {

// REQUIRES: every string of `value` is UTF-8 (the writer stops at the first
// that is not; common/json_reader.h refuses such text), and `value` nests
// no deeper than the reader allows (the writer recurses).
std::string WriteDeterministicJson(const rapidjson::Value& value);

}  // namespace vmc

#endif  // VMC_COMMON_JSON_WRITER_H_
