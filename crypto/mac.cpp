#include "crypto/mac.hpp"

#include <openssl/evp.h>

#include <memory>

#include "crypto/wipe.hpp"

namespace sscard::crypto {
namespace {

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct CipherFree {
    void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using Cipher = std::unique_ptr<EVP_CIPHER, CipherFree>;

Error cryptoError(std::string what) {
    return makeError(ErrorCode::internal, std::move(what));
}

// One pass of an OpenSSL cipher without padding. `name` is an EVP name from the default provider.
Expected<Bytes, Error> run(const char* name, ByteView key, ByteView iv, ByteView data,
                           bool encrypt) {
    Cipher cipher(EVP_CIPHER_fetch(nullptr, name, nullptr));
    if (!cipher) return unexpected(cryptoError(std::string("OpenSSL has no cipher ") + name));
    const auto keyLength = static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher.get()));
    const auto block = static_cast<std::size_t>(EVP_CIPHER_get_block_size(cipher.get()));
    if (key.size() != keyLength) {
        return unexpected(cryptoError(std::string(name) + ": key must be " +
                                      std::to_string(keyLength) + " bytes"));
    }
    if (data.size() % block != 0) {
        return unexpected(cryptoError(std::string(name) + ": data is not whole blocks"));
    }
    const auto ivLength = static_cast<std::size_t>(EVP_CIPHER_get_iv_length(cipher.get()));
    Bytes zeroIv(ivLength, 0);
    if (ivLength != 0 && !iv.empty() && iv.size() != ivLength) {
        return unexpected(cryptoError(std::string(name) + ": IV must be one block"));
    }
    const unsigned char* ivp = ivLength == 0 ? nullptr : (iv.empty() ? zeroIv.data() : iv.data());
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher.get(), key.data(), ivp, encrypt ? 1 : 0,
                                   nullptr) != 1) {
        return unexpected(cryptoError(std::string(name) + ": init failed"));
    }
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    Bytes out(data.size() + block);
    int n = 0;
    int tail = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data(), &n, data.data(), static_cast<int>(data.size())) !=
            1 ||
        EVP_CipherFinal_ex(ctx.get(), out.data() + n, &tail) != 1) {
        wipe(out);
        return unexpected(cryptoError(std::string(name) + ": operation failed"));
    }
    out.resize(static_cast<std::size_t>(n + tail));
    return out;
}

const char* ecbName(CardCipher c) {
    return c == CardCipher::des3 ? "DES-EDE-ECB" : "SM4-ECB";
}

// K‖K: two-key 3DES with equal halves is single DES.
SecretBytes doubled(ByteView key8) {
    Bytes k(key8.begin(), key8.end());
    k.insert(k.end(), key8.begin(), key8.end());
    return SecretBytes(std::move(k));
}

Bytes lastBlock(const Bytes& data, std::size_t block) {
    return Bytes(data.end() - static_cast<std::ptrdiff_t>(block), data.end());
}

bool isDigits(std::string_view s) {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

std::size_t blockSize(CardCipher cipher) {
    return cipher == CardCipher::des3 ? 8 : 16;
}

std::string_view cipherName(CardCipher cipher) {
    return cipher == CardCipher::des3 ? "3des" : "sm4";
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        wipe(bytes_);
        bytes_ = std::move(other.bytes_);
        other.bytes_.clear();
    }
    return *this;
}

SecretBytes::~SecretBytes() {
    wipe(bytes_);
}

Bytes padMethod2(ByteView data, std::size_t block) {
    Bytes out(data.begin(), data.end());
    out.push_back(0x80);
    while (out.size() % block != 0) out.push_back(0x00);
    return out;
}

Expected<SecretBytes, Error> encryptEcb(CardCipher cipher, ByteView key, ByteView data) {
    auto r = run(ecbName(cipher), key, {}, data, true);
    if (!r) return unexpected(std::move(r).error());
    return SecretBytes(std::move(*r));
}

Expected<SecretBytes, Error> decryptEcb(CardCipher cipher, ByteView key, ByteView data) {
    auto r = run(ecbName(cipher), key, {}, data, false);
    if (!r) return unexpected(std::move(r).error());
    return SecretBytes(std::move(*r));
}

Expected<Bytes, Error> desEncryptEcb(ByteView key8, ByteView data) {
    if (key8.size() != 8) return unexpected(cryptoError("DES: key must be 8 bytes"));
    SecretBytes k = doubled(key8);
    return run("DES-EDE-ECB", k.view(), {}, data, true);
}

Expected<Bytes, Error> macAlg1Des(ByteView key8, ByteView padded, ByteView iv) {
    if (key8.size() != 8) return unexpected(cryptoError("DES MAC: key must be 8 bytes"));
    if (padded.empty()) return unexpected(cryptoError("DES MAC: no data"));
    SecretBytes k = doubled(key8);
    auto r = run("DES-EDE-CBC", k.view(), iv, padded, true);
    if (!r) return unexpected(std::move(r).error());
    return lastBlock(*r, 8);
}

Expected<Bytes, Error> macAlg1Des3(ByteView key16, ByteView padded, ByteView iv) {
    if (padded.empty()) return unexpected(cryptoError("3DES MAC: no data"));
    auto r = run("DES-EDE-CBC", key16, iv, padded, true);
    if (!r) return unexpected(std::move(r).error());
    return lastBlock(*r, 8);
}

Expected<Bytes, Error> macAlg3(ByteView key16, ByteView padded, ByteView iv) {
    if (key16.size() != 16) return unexpected(cryptoError("retail MAC: key must be 16 bytes"));
    auto h = macAlg1Des(key16.first(8), padded, iv);
    if (!h) return h;
    // Output transformation of algorithm 3: D(K2), then E(K1), on the single-DES CBC result.
    SecretBytes k2 = doubled(key16.subspan(8, 8));
    auto d = run("DES-EDE-ECB", k2.view(), {}, *h, false);
    if (!d) return d;
    SecretBytes k1 = doubled(key16.first(8));
    return run("DES-EDE-ECB", k1.view(), {}, *d, true);
}

Expected<Bytes, Error> macSm4Cbc(ByteView key16, ByteView padded, ByteView iv) {
    if (padded.empty()) return unexpected(cryptoError("SM4 MAC: no data"));
    auto r = run("SM4-CBC", key16, iv, padded, true);
    if (!r) return unexpected(std::move(r).error());
    return lastBlock(*r, 16);
}

Bytes foldQuarters(ByteView block16) {
    Bytes out(4, 0);
    for (std::size_t i = 0; i < block16.size() && i < 16; ++i) out[i % 4] ^= block16[i];
    return out;
}

Expected<Bytes, Error> cardMac(CardCipher cipher, ByteView key, ByteView message,
                               DesMacVariant variant) {
    Bytes padded = padMethod2(message, blockSize(cipher));
    if (cipher == CardCipher::sm4) {
        auto block = macSm4Cbc(key, padded);
        if (!block) return block;
        return foldQuarters(*block);
    }
    auto full = variant == DesMacVariant::retail ? macAlg3(key, padded) : macAlg1Des3(key, padded);
    if (!full) return full;
    return Bytes(full->begin(), full->begin() + 4);
}

Expected<SecretBytes, Error> sessionKey(CardCipher cipher, ByteView cardKey, ByteView challenge) {
    if (challenge.empty() || challenge.size() > 16) {
        return unexpected(cryptoError("session key: challenge must be 1..16 bytes"));
    }
    Bytes input(challenge.begin(), challenge.end());
    input.resize(16, 0x00);
    auto r = encryptEcb(cipher, cardKey, input);
    wipe(input);
    return r;
}

Expected<Bytes, Error> authCryptogram(CardCipher cipher, ByteView key, ByteView challenge) {
    const std::size_t block = blockSize(cipher);
    if (challenge.empty() || challenge.size() > block) {
        return unexpected(cryptoError("cryptogram: challenge longer than a block"));
    }
    Bytes input(challenge.begin(), challenge.end());
    input.resize(block, 0x00);
    auto r = encryptEcb(cipher, key, input);
    if (!r) return unexpected(std::move(r).error());
    return Bytes(r->data(), r->data() + 8);
}

Expected<SecretBytes, Error> plainPinBlock(std::string_view digits, std::size_t block) {
    if (digits.size() < 4 || digits.size() > 16 || !isDigits(digits)) {
        return unexpected(cryptoError("PIN block: the PIN must be 4..16 digits"));
    }
    Bytes out;
    out.reserve(32);
    out.push_back(static_cast<std::uint8_t>(digits.size()));
    for (std::size_t i = 0; i < digits.size(); i += 2) {
        const auto hi = static_cast<std::uint8_t>(digits[i] - '0');
        const auto lo =
            i + 1 < digits.size() ? static_cast<std::uint8_t>(digits[i + 1] - '0') : 0x0F;
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    out.push_back(0x80);
    while (out.size() % block != 0) out.push_back(0x00);
    return SecretBytes(std::move(out));
}

Expected<Bytes, Error> encryptPinBlock(CardCipher cipher, ByteView sessionKey,
                                       std::string_view digits) {
    auto plain = plainPinBlock(digits, blockSize(cipher));
    if (!plain) return unexpected(std::move(plain).error());
    auto r = encryptEcb(cipher, sessionKey, plain->view());
    if (!r) return unexpected(std::move(r).error());
    return Bytes(r->data(), r->data() + r->size());
}

Expected<SecretBytes, Error> diversify(CardCipher cipher, ByteView parentKey, ByteView factor8) {
    if (factor8.size() != 8)
        return unexpected(cryptoError("diversification factor must be 8 bytes"));
    Bytes input(factor8.begin(), factor8.end());
    for (auto b : factor8) input.push_back(static_cast<std::uint8_t>(~b));
    // DES: E(factor) ‖ E(~factor) is ECB over the two blocks; SM4: E(factor ‖ ~factor) is one
    // block. Both are ECB encryption of the same 16 bytes.
    auto r = encryptEcb(cipher, parentKey, input);
    wipe(input);
    return r;
}

Expected<DiversificationFactors, Error> diversificationFactors(std::string_view cardId,
                                                               ByteView historicalBytes) {
    if (cardId.size() < 6 || !isDigits(cardId.substr(0, 6))) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "the card identifier does not start with a 6-digit region"));
    }
    if (historicalBytes.size() < 13) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "the ATR has fewer than 13 historical bytes: no card factor"));
    }
    DiversificationFactors f;
    auto ascii = [](std::string_view s) { return Bytes(s.begin(), s.end()); };
    f.province = ascii(std::string(cardId.substr(0, 2)) + "0000sh");
    f.city = ascii(std::string(cardId.substr(0, 6)) + "sx");
    f.card = Bytes(historicalBytes.begin() + 5, historicalBytes.begin() + 13);
    return f;
}

Expected<SecretBytes, Error> deriveCardKey(CardCipher cipher, ByteView key, int levels,
                                           const DiversificationFactors& factors) {
    if (levels < 0 || levels > 3) return unexpected(cryptoError("diversification levels: 0..3"));
    const Bytes* chain[] = {&factors.province, &factors.city, &factors.card};
    SecretBytes current = SecretBytes::copyOf(key);
    for (int i = 3 - levels; i < 3; ++i) {
        auto next = diversify(cipher, current.view(), *chain[i]);
        if (!next) return next;
        current = std::move(*next);
    }
    return current;
}

}  // namespace sscard::crypto
