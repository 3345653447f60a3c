#include "apdu/ssse/software_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <vector>

#include "crypto/wipe.hpp"

namespace sscard::ssse {

using crypto::CardCipher;
using crypto::SecretBytes;

namespace {

Expected<CardCipher, Error> parseCipher(std::string_view s) {
    if (s == "3des" || s == "des") return CardCipher::des3;
    if (s == "sm4") return CardCipher::sm4;
    return unexpected(makeError(ErrorCode::config, "unknown cipher '" + std::string(s) + "'"));
}

Expected<KeyPurpose, Error> parsePurpose(std::string_view s) {
    for (auto p : {KeyPurpose::puk, KeyPurpose::read, KeyPurpose::update, KeyPurpose::maintenance,
                   KeyPurpose::internal}) {
        if (purposeName(p) == s) return p;
    }
    return unexpected(makeError(ErrorCode::config, "unknown key purpose '" + std::string(s) + "'"));
}

class SoftwareSession final : public KeySession {
  public:
    SoftwareSession(CardCipher cipher, SecretBytes key) : cipher_(cipher), key_(std::move(key)) {}
    Expected<Bytes, Error> encryptPinBlock(const SecretPin& pin) override {
        return crypto::encryptPinBlock(cipher_, key_.view(), pin.revealDigits());
    }
    Expected<Bytes, Error> mac(ByteView message) override {
        return crypto::cardMac(cipher_, key_.view(), message);
    }
    Expected<Bytes, Error> encrypt(ByteView blocks) override {
        auto out = crypto::encryptEcb(cipher_, key_.view(), blocks);
        if (!out) return unexpected(std::move(out).error());
        return Bytes(out->view().begin(), out->view().end());
    }

  private:
    CardCipher cipher_;
    SecretBytes key_;
};

constexpr std::string_view kSoftwareWarning =
    "SOFTWARE KEY FILE IN USE: issuer keys are held by this terminal in a file. This is for labs "
    "and tests only; production terminals use a PSAM";

}  // namespace

Expected<std::unique_ptr<SoftwareKeySource>, Error> SoftwareKeySource::fromText(
    std::string_view text, SoftwareKeyOptions options) {
    if (!options.enabled) {
        return unexpected(makeError(ErrorCode::config,
                                    "software issuer keys are refused unless explicitly enabled "
                                    "(labs and tests only; use a PSAM)"));
    }
    std::unique_ptr<SoftwareKeySource> source(new SoftwareKeySource(std::move(options)));
    // Parsed in place (string_views into the caller's text): no copies of key digits besides the
    // decoded key itself.
    int lineNo = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++lineNo;
        if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        std::vector<std::string_view> fields;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
            std::size_t j = i;
            while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
            if (j > i) fields.push_back(line.substr(i, j - i));
            i = j;
        }
        if (fields.empty()) continue;
        auto where = "key file line " + std::to_string(lineNo) + ": ";
        if (fields.size() != 4) {
            return unexpected(makeError(ErrorCode::config,
                                        where + "expected <purpose> <cipher> <levels> <key hex>"));
        }
        auto p = parsePurpose(fields[0]);
        auto c = parseCipher(fields[1]);
        if (!p || !c) {
            return unexpected(
                makeError(ErrorCode::config, where + (!p ? p.error().message : c.error().message)));
        }
        const std::string_view levels = fields[2];
        if (levels.size() != 1 || levels[0] < '0' || levels[0] > '3') {
            return unexpected(makeError(ErrorCode::config, where + "levels must be 0..3"));
        }
        auto key = fromHex(fields[3]);
        if (!key || key->size() != 16) {
            if (key) crypto::wipe(*key);
            return unexpected(
                makeError(ErrorCode::config, where + "the key must be 32 hex digits"));
        }
        source->keys_[{*p, *c}] = Entry{levels[0] - '0', SecretBytes(std::move(*key))};
    }
    if (source->keys_.empty()) {
        return unexpected(makeError(ErrorCode::config, "the key file holds no key"));
    }
    if (source->options_.warn) source->options_.warn(kSoftwareWarning);
    return source;
}

Expected<std::unique_ptr<SoftwareKeySource>, Error> SoftwareKeySource::load(
    const std::string& path, SoftwareKeyOptions options) {
    if (!options.enabled) return fromText("", std::move(options));
    // POSIX I/O straight into one buffer of the file's size: no stream buffer or reallocation
    // leaves unwiped copies of the keys behind.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return unexpected(makeError(ErrorCode::config, "cannot read the key file " + path));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 64 * 1024) {
        ::close(fd);
        return unexpected(makeError(
            ErrorCode::config, "the key file " + path + " is not a regular file of <= 64 KiB"));
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        ::close(fd);
        return unexpected(
            makeError(ErrorCode::config,
                      "the key file " + path + " is accessible by group or others: chmod 600 it"));
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    text.resize(got);
    auto r = fromText(text, std::move(options));
    crypto::wipe(text);
    if (!r) {
        Error e = std::move(r).error();
        e.message = path + ": " + e.message;
        return unexpected(std::move(e));
    }
    return r;
}

Expected<SecretBytes, Error> SoftwareKeySource::cardKey(KeyPurpose purpose,
                                                        const CardKeyContext& card) {
    auto it = keys_.find({purpose, card.cipher});
    if (it == keys_.end()) {
        return unexpected(makeError(
            ErrorCode::config, "the key file has no " + std::string(purposeName(purpose)) +
                                   " key for " + std::string(crypto::cipherName(card.cipher))));
    }
    if (options_.warn) options_.warn(kSoftwareWarning);
    return crypto::deriveCardKey(card.cipher, it->second.key.view(), it->second.levels,
                                 card.factors);
}

Expected<Bytes, Error> SoftwareKeySource::authCryptogram(KeyPurpose purpose,
                                                         const CardKeyContext& card,
                                                         ByteView challenge) {
    auto key = cardKey(purpose, card);
    if (!key) return unexpected(std::move(key).error());
    return crypto::authCryptogram(card.cipher, key->view(), challenge);
}

Expected<std::unique_ptr<KeySession>, Error> SoftwareKeySource::openSession(
    KeyPurpose purpose, const CardKeyContext& card, ByteView challenge) {
    auto key = cardKey(purpose, card);
    if (!key) return unexpected(std::move(key).error());
    auto session = crypto::sessionKey(card.cipher, key->view(), challenge);
    if (!session) return unexpected(std::move(session).error());
    return std::unique_ptr<KeySession>(new SoftwareSession(card.cipher, std::move(*session)));
}

}  // namespace sscard::ssse
