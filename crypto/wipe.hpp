// Wiping secrets (PINs, keys) so that they do not linger in freed memory or core files.
#pragma once

#include <cstddef>
#include <string>

#include "base/bytes.hpp"

namespace sscard::crypto {

void wipe(void* data, std::size_t size) noexcept;
void wipe(Bytes& bytes) noexcept;       // wipes the whole capacity, then clears
void wipe(std::string& text) noexcept;  // wipes the whole capacity, then clears

}  // namespace sscard::crypto
