// Ed25519 (RFC 8032) through OpenSSL's EVP_PKEY_ED25519: key generation, signing, verification and
// key files.
//
// Key files are PEM: the private key as PKCS#8 ("-----BEGIN PRIVATE KEY-----", written with mode
// 0600), the public key as SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----"). `openssl pkey`
// reads and writes both, so keys can also be made with `openssl genpkey -algorithm ed25519`.
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::crypto {

inline constexpr std::size_t kEd25519KeySize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;

struct Ed25519KeyPair {
    Bytes secret;      // 32-byte seed (RFC 8032 "secret key"); wipe when done
    Bytes public_key;  // 32 bytes
};

Expected<Ed25519KeyPair, Error> ed25519Generate();
Expected<Bytes, Error> ed25519PublicFromSecret(ByteView secret);
Expected<Bytes, Error> ed25519Sign(ByteView secret, ByteView message);
// False for a bad signature, a malformed key or signature.
bool ed25519Verify(ByteView public_key, ByteView message, ByteView signature);

// PEM text <-> raw keys.
Expected<std::string, Error> ed25519PrivateToPem(ByteView secret);
Expected<std::string, Error> ed25519PublicToPem(ByteView public_key);
Expected<Bytes, Error> ed25519PrivateFromPem(std::string_view pem);
Expected<Bytes, Error> ed25519PublicFromPem(std::string_view pem);

// Files. The private key file is created with mode 0600 (never wider, whatever the umask); existing
// files are not overwritten. Errors carry ErrorCode::config (key files come from configuration or
// the command line) and name the file.
Expected<void, Error> writeEd25519PrivateKey(const std::filesystem::path& path, ByteView secret);
Expected<void, Error> writeEd25519PublicKey(const std::filesystem::path& path, ByteView public_key);
Expected<Bytes, Error> readEd25519PrivateKey(const std::filesystem::path& path);
Expected<Bytes, Error> readEd25519PublicKey(const std::filesystem::path& path);

}  // namespace sscard::crypto
