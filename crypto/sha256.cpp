#include "crypto/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace sscard::crypto {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    impl_->ctx = EVP_MD_CTX_new();
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256: OpenSSL initialisation failed");
    }
}

Sha256::~Sha256() {
    if (impl_) EVP_MD_CTX_free(impl_->ctx);
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size == 0) return;
    if (EVP_DigestUpdate(impl_->ctx, data, size) != 1) {
        throw std::runtime_error("SHA-256: update failed");
    }
}

void Sha256::update(ByteView data) {
    update(data.data(), data.size());
}

Sha256Digest Sha256::finish() {
    Sha256Digest out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != out.size() ||
        EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256: final failed");
    }
    return out;
}

Sha256Digest sha256(ByteView data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

std::string toLowerHex(ByteView bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0F]);
    }
    return out;
}

std::string sha256Hex(ByteView data) {
    auto d = sha256(data);
    return toLowerHex(d);
}

}  // namespace sscard::crypto
