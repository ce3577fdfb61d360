// The JSON Schemas of schemas/, compiled into the binary by embed.cmake.
#ifndef VMC_SCHEMAS_EMBEDDED_SCHEMAS_H_
#define VMC_SCHEMAS_EMBEDDED_SCHEMAS_H_

#include <string_view>

namespace vmc {

// Returns the text of schemas/<name> ("imagelist.schema.json"), or an empty
// view for an unknown name. The text lives for the whole program.
std::string_view EmbeddedSchema(std::string_view name);

}  // namespace vmc

#endif  // VMC_SCHEMAS_EMBEDDED_SCHEMAS_H_
