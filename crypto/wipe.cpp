#include "crypto/wipe.hpp"

#include <openssl/crypto.h>

namespace sscard::crypto {

void wipe(void* data, std::size_t size) noexcept {
    if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

void wipe(Bytes& bytes) noexcept {
    bytes.resize(bytes.capacity());
    wipe(bytes.data(), bytes.size());
    bytes.clear();
}

void wipe(std::string& text) noexcept {
    text.resize(text.capacity());
    wipe(text.data(), text.size());
    text.clear();
}

}  // namespace sscard::crypto
