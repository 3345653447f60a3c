// Random bytes for the terminal: OpenSSL's CSPRNG (RAND_bytes, seeded from the kernel).
//
// A failing source is an error, never a buffer of zeros or a weaker fallback: every caller turns it
// into a failed operation (an issuer flow stops before EXTERNAL AUTHENTICATE, an event is not
// stored).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::crypto {

// n random bytes; ErrorCode::internal when the source fails.
Expected<Bytes, Error> randomBytes(std::size_t n);

// Tests only: replaces the source for the whole process (false from the function = a failure);
// an empty function restores RAND_bytes.
using RandomSource = std::function<bool(std::uint8_t* out, std::size_t n)>;
void setRandomSourceForTesting(RandomSource source);

}  // namespace sscard::crypto
