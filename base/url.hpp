// What messages may say about a URL, and whether it is plain http.
#pragma once

#include <string>
#include <string_view>

namespace sscard::http {

// The URL with any user:password@ between the scheme and the host replaced by "***@", for
// messages, logs and status: credentials in a configured URL never leave the process otherwise.
std::string redactUrl(std::string_view url);

// True for a URL whose scheme is plain http:// (case-insensitive).
bool isPlainHttp(std::string_view url);

}  // namespace sscard::http
