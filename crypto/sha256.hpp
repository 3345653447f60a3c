// SHA-256 through OpenSSL's EVP interface: one-shot and incremental (for downloads hashed while
// they stream to disk).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "base/bytes.hpp"

namespace sscard::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data);
// Lower-case hex, as feed file names and manifests use it.
std::string sha256Hex(ByteView data);
std::string toLowerHex(ByteView bytes);

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(ByteView data);
    void update(const void* data, std::size_t size);
    Sha256Digest finish();  // the object is reset afterwards and can hash again

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sscard::crypto
