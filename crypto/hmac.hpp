// HMAC-SHA256 (RFC 2104), for signing backend requests with the terminal's key.
#pragma once

#include <string_view>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::crypto {

// The 32-byte MAC of `message` under `key`; internal error if OpenSSL fails.
Expected<Bytes, Error> hmacSha256(ByteView key, std::string_view message);

}  // namespace sscard::crypto
