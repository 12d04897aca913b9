// Writing small JSON texts straight into a string, for answers and records written at
// delivery rates (no document built for a handful of members).
#pragma once

#include <string>
#include <string_view>

namespace gitsyncd {

// Appends `s` as a JSON string literal, escaped as Boost.JSON's serializer does ('"', '\\',
// control characters; other bytes as they are).
void AppendJsonString(std::string& out, std::string_view s);

// Appends `"key":"value"`, preceded by a comma unless `out` ends with '{' or '['.
void AppendJsonMember(std::string& out, std::string_view key, std::string_view value);

}  // namespace gitsyncd
