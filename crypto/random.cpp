#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <climits>
#include <mutex>

#include "crypto/wipe.hpp"

namespace sscard::crypto {
namespace {

std::mutex g_source_mu;
RandomSource g_source;  // empty: RAND_bytes

bool fromOpenSsl(std::uint8_t* out, std::size_t n) {
    while (n > 0) {
        int chunk = n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        if (RAND_bytes(out, chunk) != 1) return false;
        out += chunk;
        n -= static_cast<std::size_t>(chunk);
    }
    return true;
}

}  // namespace

Expected<Bytes, Error> randomBytes(std::size_t n) {
    Bytes out(n);
    bool ok = false;
    {
        std::lock_guard lk(g_source_mu);
        ok = g_source ? g_source(out.data(), n) : fromOpenSsl(out.data(), n);
    }
    if (!ok) {
        wipe(out);
        return unexpected(
            makeError(ErrorCode::internal, "the random source failed; nothing was sent or stored"));
    }
    return out;
}

void setRandomSourceForTesting(RandomSource source) {
    std::lock_guard lk(g_source_mu);
    g_source = std::move(source);
}

}  // namespace sscard::crypto
