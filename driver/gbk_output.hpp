// Writing text into a caller's buffer as GBK, never past SSCARD_DRIVER_OUT_SIZE bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sscard::driver {

// UTF-8 to GBK; a character GBK cannot hold (or invalid UTF-8) becomes '?'.
std::string toGbk(std::string_view utf8);

// Copies `gbk` into out[0..capacity) with a terminating NUL, cut on a character boundary when it
// does not fit (a GBK lead byte is never left without its trail byte). Nothing is written when
// out is null or capacity is 0. Returns the bytes written before the NUL.
std::size_t copyOut(std::string_view gbk, char* out, std::size_t capacity);

// toGbk + copyOut with the library's buffer size.
void writeOut(std::string_view utf8, char* out);

}  // namespace sscard::driver
