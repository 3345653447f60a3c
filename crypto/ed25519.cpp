#include "crypto/ed25519.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/errno_text.hpp"
#include "crypto/wipe.hpp"

namespace sscard::crypto {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

Error cryptoError(std::string what) {
    return makeError(ErrorCode::internal, std::move(what));
}

Expected<Pkey, Error> privateKey(ByteView secret) {
    if (secret.size() != kEd25519KeySize) {
        return unexpected(cryptoError("Ed25519 secret key must be 32 bytes"));
    }
    Pkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), secret.size()));
    if (!k) return unexpected(cryptoError("Ed25519: bad secret key"));
    return k;
}

Expected<Bytes, Error> rawPrivate(EVP_PKEY* k) {
    Bytes out(kEd25519KeySize);
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_private_key(k, out.data(), &len) != 1 || len != kEd25519KeySize) {
        return unexpected(cryptoError("Ed25519: cannot extract private key"));
    }
    return out;
}

Expected<Bytes, Error> rawPublic(EVP_PKEY* k) {
    Bytes out(kEd25519KeySize);
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(k, out.data(), &len) != 1 || len != kEd25519KeySize) {
        return unexpected(cryptoError("Ed25519: cannot extract public key"));
    }
    return out;
}

std::string bioText(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

Expected<std::string, Error> readFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return unexpected(makeError(ErrorCode::config, path.string() + ": cannot read key file"));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Expected<void, Error> writeFile(const std::filesystem::path& path, std::string_view text,
                                int mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return unexpected(
            makeError(ErrorCode::config, path.string() + ": cannot create: " + errnoText(errno)));
    }
    // O_CREAT applies the umask; make the mode exact.
    bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
    std::size_t off = 0;
    while (ok && off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            ok = false;
        else
            off += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        return unexpected(makeError(ErrorCode::config, path.string() + ": write failed"));
    }
    return {};
}

}  // namespace

Expected<Ed25519KeyPair, Error> ed25519Generate() {
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
        return unexpected(cryptoError("Ed25519: key generation failed"));
    }
    Pkey k(raw);
    auto sec = rawPrivate(k.get());
    if (!sec) return unexpected(sec.error());
    auto pub = rawPublic(k.get());
    if (!pub) return unexpected(pub.error());
    return Ed25519KeyPair{std::move(*sec), std::move(*pub)};
}

Expected<Bytes, Error> ed25519PublicFromSecret(ByteView secret) {
    auto k = privateKey(secret);
    if (!k) return unexpected(k.error());
    return rawPublic(k->get());
}

Expected<Bytes, Error> ed25519Sign(ByteView secret, ByteView message) {
    auto k = privateKey(secret);
    if (!k) return unexpected(k.error());
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    Bytes sig(kEd25519SignatureSize);
    std::size_t len = sig.size();
    if (!md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, k->get()) != 1 ||
        EVP_DigestSign(md.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
        len != kEd25519SignatureSize) {
        return unexpected(cryptoError("Ed25519: signing failed"));
    }
    return sig;
}

bool ed25519Verify(ByteView public_key, ByteView message, ByteView signature) {
    if (public_key.size() != kEd25519KeySize || signature.size() != kEd25519SignatureSize) {
        return false;
    }
    Pkey k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(),
                                       public_key.size()));
    if (!k) return false;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    if (!md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, k.get()) != 1) {
        return false;
    }
    return EVP_DigestVerify(md.get(), signature.data(), signature.size(), message.data(),
                            message.size()) == 1;
}

Expected<std::string, Error> ed25519PrivateToPem(ByteView secret) {
    auto k = privateKey(secret);
    if (!k) return unexpected(k.error());
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), k->get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return unexpected(cryptoError("Ed25519: cannot encode private key"));
    }
    return bioText(bio.get());
}

Expected<std::string, Error> ed25519PublicToPem(ByteView public_key) {
    if (public_key.size() != kEd25519KeySize) {
        return unexpected(cryptoError("Ed25519 public key must be 32 bytes"));
    }
    Pkey k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(),
                                       public_key.size()));
    Bio bio(BIO_new(BIO_s_mem()));
    if (!k || !bio || PEM_write_bio_PUBKEY(bio.get(), k.get()) != 1) {
        return unexpected(cryptoError("Ed25519: cannot encode public key"));
    }
    return bioText(bio.get());
}

Expected<Bytes, Error> ed25519PrivateFromPem(std::string_view pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Pkey k(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!k || EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519) {
        return unexpected(makeError(ErrorCode::config, "not an Ed25519 private key (PEM PKCS#8)"));
    }
    return rawPrivate(k.get());
}

Expected<Bytes, Error> ed25519PublicFromPem(std::string_view pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Pkey k(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!k || EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519) {
        return unexpected(makeError(ErrorCode::config, "not an Ed25519 public key (PEM SPKI)"));
    }
    return rawPublic(k.get());
}

Expected<void, Error> writeEd25519PrivateKey(const std::filesystem::path& path, ByteView secret) {
    auto pem = ed25519PrivateToPem(secret);
    if (!pem) return unexpected(pem.error());
    auto r = writeFile(path, *pem, 0600);
    wipe(*pem);
    return r;
}

Expected<void, Error> writeEd25519PublicKey(const std::filesystem::path& path,
                                            ByteView public_key) {
    auto pem = ed25519PublicToPem(public_key);
    if (!pem) return unexpected(pem.error());
    return writeFile(path, *pem, 0644);
}

Expected<Bytes, Error> readEd25519PrivateKey(const std::filesystem::path& path) {
    auto text = readFile(path);
    if (!text) return unexpected(text.error());
    auto k = ed25519PrivateFromPem(*text);
    wipe(*text);
    if (!k)
        return unexpected(makeError(ErrorCode::config, path.string() + ": " + k.error().message));
    return k;
}

Expected<Bytes, Error> readEd25519PublicKey(const std::filesystem::path& path) {
    auto text = readFile(path);
    if (!text) return unexpected(text.error());
    auto k = ed25519PublicFromPem(*text);
    if (!k)
        return unexpected(makeError(ErrorCode::config, path.string() + ": " + k.error().message));
    return k;
}

}  // namespace sscard::crypto
