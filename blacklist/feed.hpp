// The signed metadata of the feed (TUF-shaped; docs/feed.md#feed-files).
//
// A feed directory holds:
//   timestamp.json        the top file: small, re-signed at every publication, short expiry;
//                         fetched with a conditional GET on every poll
//   by-hash/<sha256>      content-addressed files, cacheable forever: the manifest, the snapshot,
//                         the cumulative deltas
//
// Both metadata files are JSON envelopes {"signed": {...}, "signatures": [{"keyid", "sig"}]}; the
// signature (Ed25519, hex) covers the canonical serialisation of "signed" (nlohmann::json::dump():
// sorted keys, no whitespace; only strings, integers and arrays/objects are used). keyid = sha256
// hex of the raw 32-byte public key.
//
//   top      {"type":"timestamp","spec":1,"version":N,"issued":"…Z","expires":"…Z",
//             "manifest":{"name":"by-hash/<h>","sha256":"<h>","length":L}}
//   manifest {"type":"manifest","spec":1,"version":N,"issued":"…Z","count":C,
//             "snapshot":{name,sha256,length},
//             "deltas":[{"from":B,"name","sha256","length"}...],   cumulative, B -> N
//             "history":[{"version":B,"snapshot":"<h>"}...]}      publisher's own bookkeeping
//
// Key rotation: a terminal trusts every key listed in [list] trusted_keys, and a document is
// accepted when signatures by [list] threshold (default 1) distinct trusted keys verify (the
// threshold is applied by the sync, on the key_ids verifyDocument returns). To rotate, the
// publisher signs with the old and the new key (`sscard-feed publish --key old.key --key new.key`)
// while the new public key is rolled out to the terminals' configuration, then drops the old key
// from both. A compromised key is removed from trusted_keys; since versions only come from verified
// metadata, a fast-forward signed with it is undone by re-publishing with a fresh key and a version
// above it — or by resetting the terminal's list (`list.db` removed) after the key is distrusted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::blacklist {

inline constexpr const char* kTopFileName = "timestamp.json";
inline constexpr const char* kByHashDir = "by-hash";
inline constexpr std::int64_t kMaxVersion = 1LL << 53;

struct FileRef {
    std::string sha256;  // lower-case hex; the file is by-hash/<sha256>
    std::uint64_t length = 0;
    std::string name() const { return std::string(kByHashDir) + "/" + sha256; }
};

struct TopFile {
    std::int64_t version = 0;
    std::int64_t issued = 0;
    std::int64_t expires = 0;
    FileRef manifest;
};

struct DeltaRef {
    std::int64_t from = 0;
    FileRef file;
};

struct HistoryRef {
    std::int64_t version = 0;
    std::string snapshot;  // sha256
};

struct Manifest {
    std::int64_t version = 0;
    std::int64_t issued = 0;
    std::uint64_t count = 0;
    FileRef snapshot;
    std::vector<DeltaRef> deltas;
    std::vector<HistoryRef> history;
};

struct SigningKey {
    Bytes secret;
    Bytes public_key;
};
struct TrustedKey {
    std::string id;
    Bytes public_key;
};

std::string keyId(ByteView public_key);

nlohmann::json toSignedJson(const TopFile& t);
nlohmann::json toSignedJson(const Manifest& m);

// The whole file text: envelope with one signature per key.
Expected<std::string, Error> signDocument(const nlohmann::json& signed_part,
                                          const std::vector<SigningKey>& keys);

struct Verified {
    nlohmann::json signed_part;
    std::vector<std::string> key_ids;  // trusted keys whose signature verified
};
// feed_rejected unless the text is a well-formed envelope of the given type with at least one
// valid signature by a trusted key.
Expected<Verified, Error> verifyDocument(std::string_view text, const std::vector<TrustedKey>& keys,
                                         std::string_view type);
// Parsing only (no signature check): used by the publisher for its own files and by the fuzzer.
Expected<nlohmann::json, Error> parseEnvelope(std::string_view text, std::string_view type);

Expected<TopFile, Error> parseTopFile(const nlohmann::json& signed_part);
Expected<Manifest, Error> parseManifest(const nlohmann::json& signed_part);

}  // namespace sscard::blacklist
