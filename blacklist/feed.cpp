#include "blacklist/feed.hpp"

#include "blacklist/entry.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/sha256.hpp"

namespace sscard::blacklist {
namespace {

using nlohmann::json;

Error rejected(const std::string& what) {
    return makeError(ErrorCode::feed_rejected, what);
}

bool isSha256Hex(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

json refJson(const FileRef& r) {
    return {{"name", r.name()}, {"sha256", r.sha256}, {"length", r.length}};
}

Expected<FileRef, Error> parseRef(const json& j, const char* what) {
    if (!j.is_object()) return unexpected(rejected(std::string(what) + ": not an object"));
    auto name = j.find("name");
    auto sha = j.find("sha256");
    auto len = j.find("length");
    if (name == j.end() || sha == j.end() || len == j.end() || !name->is_string() ||
        !sha->is_string() || !len->is_number_unsigned()) {
        return unexpected(rejected(std::string(what) + ": needs name, sha256, length"));
    }
    FileRef r;
    r.sha256 = sha->get<std::string>();
    r.length = len->get<std::uint64_t>();
    if (!isSha256Hex(r.sha256) || name->get<std::string>() != r.name() || r.length == 0 ||
        r.length > (1ULL << 40)) {
        return unexpected(rejected(std::string(what) + ": bad name, hash or length"));
    }
    return r;
}

Expected<std::int64_t, Error> getVersion(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) {
        return unexpected(rejected(std::string("missing or bad ") + key));
    }
    auto v = it->get<std::uint64_t>();
    if (v == 0 || v > static_cast<std::uint64_t>(kMaxVersion)) {
        return unexpected(rejected(std::string(key) + " out of range"));
    }
    return static_cast<std::int64_t>(v);
}

Expected<std::int64_t, Error> getTime(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return unexpected(rejected(std::string("missing or bad ") + key));
    }
    auto t = parseTimestamp(it->get<std::string>());
    if (!t) return unexpected(rejected(std::string("bad time in ") + key));
    return *t;
}

bool checkHeader(const json& s, std::string_view type) {
    auto t = s.find("type");
    auto sp = s.find("spec");
    return t != s.end() && t->is_string() && t->get<std::string>() == type && sp != s.end() &&
           sp->is_number_unsigned() && sp->get<std::uint64_t>() == 1;
}

}  // namespace

std::string keyId(ByteView public_key) {
    return crypto::sha256Hex(public_key);
}

nlohmann::json toSignedJson(const TopFile& t) {
    return {{"type", "timestamp"},
            {"spec", 1},
            {"version", t.version},
            {"issued", formatTimestamp(t.issued)},
            {"expires", formatTimestamp(t.expires)},
            {"manifest", refJson(t.manifest)}};
}

nlohmann::json toSignedJson(const Manifest& m) {
    json deltas = json::array();
    for (const auto& d : m.deltas) {
        json j = refJson(d.file);
        j["from"] = d.from;
        deltas.push_back(j);
    }
    json hist = json::array();
    for (const auto& h : m.history)
        hist.push_back({{"version", h.version}, {"snapshot", h.snapshot}});
    return {{"type", "manifest"},   {"spec", 1},
            {"version", m.version}, {"issued", formatTimestamp(m.issued)},
            {"count", m.count},     {"snapshot", refJson(m.snapshot)},
            {"deltas", deltas},     {"history", hist}};
}

Expected<std::string, Error> signDocument(const nlohmann::json& signed_part,
                                          const std::vector<SigningKey>& keys) {
    std::string canonical = signed_part.dump();
    ByteView msg(reinterpret_cast<const std::uint8_t*>(canonical.data()), canonical.size());
    json sigs = json::array();
    for (const auto& k : keys) {
        auto sig = crypto::ed25519Sign(k.secret, msg);
        if (!sig) return unexpected(sig.error());
        sigs.push_back({{"keyid", keyId(k.public_key)}, {"sig", crypto::toLowerHex(*sig)}});
    }
    json env = {{"signed", signed_part}, {"signatures", sigs}};
    return env.dump(1) + "\n";
}

Expected<nlohmann::json, Error> parseEnvelope(std::string_view text, std::string_view type) {
    json env = json::parse(text.begin(), text.end(), nullptr, false);
    if (env.is_discarded() || !env.is_object()) return unexpected(rejected("not JSON"));
    auto s = env.find("signed");
    auto sigs = env.find("signatures");
    if (s == env.end() || !s->is_object() || sigs == env.end() || !sigs->is_array()) {
        return unexpected(rejected("not a signed document"));
    }
    if (!checkHeader(*s, type)) {
        return unexpected(rejected("not a " + std::string(type) + " document of spec 1"));
    }
    return env;
}

Expected<Verified, Error> verifyDocument(std::string_view text, const std::vector<TrustedKey>& keys,
                                         std::string_view type) {
    auto env = parseEnvelope(text, type);
    if (!env) return unexpected(env.error());
    const json& s = (*env)["signed"];
    std::string canonical = s.dump();
    ByteView msg(reinterpret_cast<const std::uint8_t*>(canonical.data()), canonical.size());
    Verified v;
    for (const auto& sig : (*env)["signatures"]) {
        if (!sig.is_object()) continue;
        auto kid = sig.find("keyid");
        auto sv = sig.find("sig");
        if (kid == sig.end() || sv == sig.end() || !kid->is_string() || !sv->is_string()) continue;
        auto bytes = fromHex(sv->get<std::string>());
        if (!bytes) continue;
        for (const auto& k : keys) {
            if (k.id != kid->get<std::string>()) continue;
            if (crypto::ed25519Verify(k.public_key, msg, *bytes)) {
                bool seen = false;
                for (const auto& id : v.key_ids) seen = seen || id == k.id;
                if (!seen) v.key_ids.push_back(k.id);
            }
        }
    }
    if (v.key_ids.empty()) {
        return unexpected(rejected(std::string(type) + ": no valid signature by a trusted key"));
    }
    v.signed_part = s;
    return v;
}

Expected<TopFile, Error> parseTopFile(const nlohmann::json& s) {
    if (!s.is_object() || !checkHeader(s, "timestamp"))
        return unexpected(rejected("not a top file"));
    TopFile t;
    auto v = getVersion(s, "version");
    if (!v) return unexpected(v.error());
    t.version = *v;
    auto is = getTime(s, "issued");
    if (!is) return unexpected(is.error());
    t.issued = *is;
    auto ex = getTime(s, "expires");
    if (!ex) return unexpected(ex.error());
    t.expires = *ex;
    auto m = s.find("manifest");
    if (m == s.end()) return unexpected(rejected("top file names no manifest"));
    auto ref = parseRef(*m, "manifest");
    if (!ref) return unexpected(ref.error());
    t.manifest = *ref;
    return t;
}

Expected<Manifest, Error> parseManifest(const nlohmann::json& s) {
    if (!s.is_object() || !checkHeader(s, "manifest"))
        return unexpected(rejected("not a manifest"));
    Manifest m;
    auto v = getVersion(s, "version");
    if (!v) return unexpected(v.error());
    m.version = *v;
    auto is = getTime(s, "issued");
    if (!is) return unexpected(is.error());
    m.issued = *is;
    auto c = s.find("count");
    if (c == s.end() || !c->is_number_unsigned()) return unexpected(rejected("bad count"));
    m.count = c->get<std::uint64_t>();
    auto sn = s.find("snapshot");
    if (sn == s.end()) return unexpected(rejected("manifest names no snapshot"));
    auto ref = parseRef(*sn, "snapshot");
    if (!ref) return unexpected(ref.error());
    m.snapshot = *ref;
    auto ds = s.find("deltas");
    if (ds != s.end()) {
        if (!ds->is_array()) return unexpected(rejected("bad deltas"));
        for (const auto& d : *ds) {
            auto r = parseRef(d, "delta");
            if (!r) return unexpected(r.error());
            auto f = getVersion(d, "from");
            if (!f) return unexpected(f.error());
            if (*f >= m.version) return unexpected(rejected("delta from a version not below"));
            m.deltas.push_back({*f, *r});
        }
    }
    auto hs = s.find("history");
    if (hs != s.end()) {
        if (!hs->is_array()) return unexpected(rejected("bad history"));
        for (const auto& h : *hs) {
            if (!h.is_object()) return unexpected(rejected("bad history"));
            auto hv = getVersion(h, "version");
            auto hsn = h.find("snapshot");
            if (!hv || hsn == h.end() || !hsn->is_string() ||
                !isSha256Hex(hsn->get<std::string>())) {
                return unexpected(rejected("bad history"));
            }
            m.history.push_back({*hv, hsn->get<std::string>()});
        }
    }
    return m;
}

}  // namespace sscard::blacklist
