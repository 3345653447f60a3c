#include "crypto/hmac.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace sscard::crypto {

Expected<Bytes, Error> hmacSha256(ByteView key, std::string_view message) {
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
             &len) == nullptr) {
        return unexpected(makeError(ErrorCode::internal, "HMAC-SHA256 failed"));
    }
    out.resize(len);
    return out;
}

}  // namespace sscard::crypto
