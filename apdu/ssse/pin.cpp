#include "apdu/ssse/pin.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>

#include "apdu/command.hpp"
#include "apdu/ssse/application.hpp"
#include "apdu/ssse/errors.hpp"
#include "apdu/status_word.hpp"
#include "apdu/tlv.hpp"
#include "crypto/wipe.hpp"

namespace sscard::ssse {

namespace {

using crypto::CardCipher;
using crypto::SecretBytes;

bool allDigits(std::string_view s) {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::string swHex(std::uint16_t sw) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", sw);
    return hex;
}

// A command whose data is secret: the Bytes holding it are wiped when it goes out of scope.
struct SecretCommand {
    apdu::CommandApdu apdu;
    ~SecretCommand() { crypto::wipe(apdu.data); }
};

Expected<apdu::ResponseApdu, Error> send(apdu::Transaction& tx, const apdu::CommandApdu& command,
                                         std::string_view step) {
    auto r = tx.transmit(command);
    if (!r) return unexpected(fromTransport(r.error(), step));
    return std::move(*r);
}

// Where the PIN stands after a failed PIN-changing command (Error::pin_state). A transport failure
// while the command was under way is "unknown": the card may have acted on it before it left.
constexpr const char* kPinUnchanged = "unchanged";
constexpr const char* kPinUnknown = "unknown";

Error withPinState(Error e, const char* state) {
    e.pin_state = state;
    return e;
}

Expected<void, Error> unchangedOnError(Expected<void, Error> r) {
    if (r) return r;
    return unexpected(withPinState(std::move(r).error(), kPinUnchanged));
}

// The outcome of a PIN-checking command (VERIFY, CHANGE PIN, pinpad).
Expected<void, Error> pinOutcome(std::uint16_t sw, std::string_view step) {
    if (sw == 0x9000) return {};
    if ((sw & 0xFFF0) == 0x63C0) {
        const int left = sw & 0x0F;
        if (left == 0) {
            Error e = makeError(ErrorCode::pin_blocked,
                                "wrong PIN; that was the last try: the PIN is now blocked");
            e.tries_left = 0;
            return unexpected(std::move(e));
        }
        Error e =
            makeError(ErrorCode::pin_wrong, "wrong PIN; " + std::to_string(left) + " tries left");
        e.tries_left = left;
        return unexpected(std::move(e));
    }
    if (sw == 0x6983) {
        Error e = makeError(ErrorCode::pin_blocked,
                            "the PIN is blocked (6983): the issuer must reset or unblock it");
        e.tries_left = 0;
        return unexpected(std::move(e));
    }
    if (sw == 0x6400)
        return unexpected(makeError(ErrorCode::card_error, "pinpad: PIN entry timed out"));
    if (sw == 0x6401)
        return unexpected(makeError(ErrorCode::card_error, "pinpad: PIN entry cancelled"));
    if (sw == 0x6402) {
        return unexpected(makeError(ErrorCode::card_error, "pinpad: the new PIN entries differ"));
    }
    if (sw == 0x6403) {
        return unexpected(makeError(ErrorCode::card_error, "pinpad: PIN of the wrong length"));
    }
    if (sw == 0x6A88) {
        return unexpected(
            makeError(ErrorCode::card_error, std::string(step) + ": the card has no PIN (6A88)"));
    }
    return unexpected(fromStatusWord(sw, step));
}

Bytes randomBytes(std::size_t n) {
    Bytes out(n);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
        // Freshness of the terminal random is not relied upon by the card; fall back to zeros.
        std::fill(out.begin(), out.end(), 0);
    }
    return out;
}

Expected<Bytes, Error> getChallenge(apdu::Transaction& tx, std::size_t length) {
    apdu::CommandApdu cmd{.cla = 0x00, .ins = 0x84, .p1 = 0, .p2 = 0, .data = {}, .le = length};
    auto r = send(tx, cmd, "GET CHALLENGE");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok() || r->data.size() != length) {
        return unexpected(
            r->ok() ? makeError(ErrorCode::card_error, "GET CHALLENGE: answer of the wrong length")
                    : fromStatusWord(r->sw(), "GET CHALLENGE"));
    }
    return std::move(r->data);
}

Error authRefused(std::uint16_t sw, std::string_view purpose) {
    std::string what = "EXTERNAL AUTHENTICATE with the " + std::string(purpose) + " key";
    if (sw == 0x6300 || (sw & 0xFFF0) == 0x63C0) {
        return makeError(
            ErrorCode::card_error,
            what + " failed (" + swHex(sw) + "): the key source's key does not match this card");
    }
    if (sw == 0x6A88 || sw == 0x6A83) {
        return makeError(ErrorCode::card_error, what + ": the card has no such key (" + swHex(sw) +
                                                    "); check the configured key id");
    }
    if (sw == 0x6983) {
        return makeError(ErrorCode::card_error, what + ": the key is locked on the card (6983)");
    }
    return fromStatusWord(sw, what);
}

// GET CHALLENGE + EXTERNAL AUTHENTICATE with the PUK key.
Expected<void, Error> authenticatePuk(apdu::Transaction& tx, KeySource& keys,
                                      const CardKeyContext& card, const IssuerKeyIds& ids) {
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unexpected(std::move(challenge).error());
    auto cryptogram = keys.authCryptogram(KeyPurpose::puk, card, *challenge);
    if (!cryptogram) return unexpected(std::move(cryptogram).error());
    if (cryptogram->size() != 8) {
        return unexpected(
            makeError(ErrorCode::internal, "the key source's cryptogram is not 8 bytes"));
    }
    apdu::CommandApdu cmd{.cla = 0x00,
                          .ins = 0x82,
                          .p1 = 0x00,
                          .p2 = ids.puk,
                          .data = concat(*cryptogram, randomBytes(8)),
                          .le = std::nullopt};
    auto r = send(tx, cmd, "EXTERNAL AUTHENTICATE");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok()) return unexpected(authRefused(r->sw(), "PUK"));
    return {};
}

Error secureMessagingRefused(std::uint16_t sw, std::string_view step) {
    if (sw == 0x6988) {
        return makeError(ErrorCode::card_error,
                         std::string(step) + ": the card rejected the MAC (6988)");
    }
    if (sw == 0x6982 || sw == 0x6985) {
        return makeError(ErrorCode::card_error,
                         std::string(step) + ": security conditions not satisfied (" + swHex(sw) +
                             "): the PUK authentication did not hold");
    }
    return fromStatusWord(sw, step);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SecretPin

Expected<SecretPin, Error> SecretPin::take(std::string& digits) {
    SecretPin pin;
    pin.digits_ = digits;  // a copy of the right capacity; the source is wiped right after
    crypto::wipe(digits);
    if (pin.digits_.size() < 4 || pin.digits_.size() > 16 || !allDigits(pin.digits_)) {
        return unexpected(makeError(ErrorCode::usage, "a PIN is 4 to 16 decimal digits"));
    }
    return pin;
}

Expected<SecretPin, Error> SecretPin::fromDigits(std::string_view digits) {
    std::string copy(digits);
    return take(copy);
}

SecretPin::SecretPin(SecretPin&& other) noexcept : digits_(std::move(other.digits_)) {
    crypto::wipe(other.digits_);
}

SecretPin& SecretPin::operator=(SecretPin&& other) noexcept {
    if (this != &other) {
        crypto::wipe(digits_);
        digits_ = std::move(other.digits_);
        crypto::wipe(other.digits_);
    }
    return *this;
}

SecretPin::~SecretPin() {
    crypto::wipe(digits_);
}

crypto::SecretBytes SecretPin::bcd() const {
    Bytes out;
    out.reserve(8);
    for (std::size_t i = 0; i < digits_.size(); i += 2) {
        const auto hi = static_cast<std::uint8_t>(digits_[i] - '0');
        const auto lo =
            i + 1 < digits_.size() ? static_cast<std::uint8_t>(digits_[i + 1] - '0') : 0x0F;
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return SecretBytes(std::move(out));
}

bool SecretPin::sameAs(const SecretPin& other) const {
    return digits_ == other.digits_;
}

// ---------------------------------------------------------------------------------------------
// Policy

std::string_view weaknessName(PinWeakness w) {
    switch (w) {
        case PinWeakness::length:
            return "length";
        case PinWeakness::initial_pin:
            return "initial_pin";
        case PinWeakness::repeated_digit:
            return "repeated_digit";
        case PinWeakness::sequence:
            return "sequence";
        case PinWeakness::birth_date:
            return "birth_date";
    }
    return "unknown";
}

std::optional<PinWeakness> findWeakness(const PinPolicy& policy, const SecretPin& pin,
                                        const PinPolicyContext& context) {
    std::string_view d = pin.revealDigits();
    if (d.size() < policy.minLength || d.size() > policy.maxLength) return PinWeakness::length;
    for (const auto& initial : policy.initialPins) {
        if (d == initial) return PinWeakness::initial_pin;
    }
    if (context.currentInitialPin != nullptr && context.currentInitialPin->sameAs(pin)) {
        return PinWeakness::initial_pin;
    }
    if (d.find_first_not_of(d[0]) == std::string_view::npos) return PinWeakness::repeated_digit;
    bool up = true;
    bool down = true;
    for (std::size_t i = 1; i < d.size(); ++i) {
        const int prev = d[i - 1] - '0';
        const int cur = d[i] - '0';
        if (cur != (prev + 1) % 10) up = false;
        if (cur != (prev + 9) % 10) down = false;
    }
    if (up || down) return PinWeakness::sequence;
    if (context.birthDate) {
        const Date& b = *context.birthDate;
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04d%02d%02d", b.year % 10000, b.month % 100, b.day % 100);
        const std::string full = buf;  // YYYYMMDD
        const std::string yy = full.substr(2, 2);
        const std::string mm = full.substr(4, 2);
        const std::string dd = full.substr(6, 2);
        const std::string forms[] = {full, yy + mm + dd, mm + dd + yy, dd + mm + yy};
        bool weak = full.find(d) != std::string::npos;
        for (const auto& f : forms) {
            if (d.find(f) != std::string_view::npos) weak = true;
        }
        if (weak) return PinWeakness::birth_date;
    }
    return std::nullopt;
}

Expected<void, Error> checkNewPin(const PinPolicy& policy, const SecretPin& pin,
                                  const PinPolicyContext& context) {
    auto w = findWeakness(policy, pin, context);
    if (!w) return {};
    std::string why;
    switch (*w) {
        case PinWeakness::length:
            why = policy.minLength == policy.maxLength
                      ? "the PIN must have " + std::to_string(policy.minLength) + " digits"
                      : "the PIN must have " + std::to_string(policy.minLength) + " to " +
                            std::to_string(policy.maxLength) + " digits";
            break;
        case PinWeakness::initial_pin:
            why = "the new PIN may not be the initial PIN";
            break;
        case PinWeakness::repeated_digit:
            why = "the PIN may not repeat one digit";
            break;
        case PinWeakness::sequence:
            why = "the PIN may not be an ascending or descending run of digits";
            break;
        case PinWeakness::birth_date:
            why = "the PIN may not contain the holder's birth date";
            break;
    }
    return unexpected(
        makeError(ErrorCode::pin_weak, why + " (" + std::string(weaknessName(*w)) + ")"));
}

// ---------------------------------------------------------------------------------------------
// Holder PIN commands

Expected<void, Error> verifyPin(apdu::Transaction& tx, const SecretPin& pin) {
    auto bcd = pin.bcd();
    SecretCommand cmd{{.cla = 0x00,
                       .ins = 0x20,
                       .p1 = 0x00,
                       .p2 = 0x00,
                       .data = Bytes(bcd.data(), bcd.data() + bcd.size()),
                       .le = std::nullopt}};
    auto r = send(tx, cmd.apdu, "VERIFY");
    if (!r) return unexpected(std::move(r).error());
    return pinOutcome(r->sw(), "VERIFY");
}

Expected<std::optional<int>, Error> pinTriesLeft(apdu::Transaction& tx) {
    apdu::CommandApdu cmd{
        .cla = 0x00, .ins = 0x20, .p1 = 0x00, .p2 = 0x00, .data = {}, .le = std::nullopt};
    auto r = send(tx, cmd, "VERIFY (retry counter)");
    if (!r) return unexpected(std::move(r).error());
    const std::uint16_t sw = r->sw();
    if ((sw & 0xFFF0) == 0x63C0) return std::optional<int>(sw & 0x0F);
    if (sw == 0x6983) return std::optional<int>(0);
    if (sw == 0x9000) return std::optional<int>{};
    auto outcome = pinOutcome(sw, "VERIFY (retry counter)");
    return unexpected(outcome.error());
}

Expected<void, Error> changePin(apdu::Transaction& tx, const SecretPin& oldPin,
                                const SecretPin& newPin) {
    auto oldBcd = oldPin.bcd();
    auto newBcd = newPin.bcd();
    SecretCommand cmd{
        {.cla = 0x80, .ins = 0x5E, .p1 = 0x01, .p2 = 0x00, .data = {}, .le = std::nullopt}};
    cmd.apdu.data.reserve(oldBcd.size() + 1 + newBcd.size());
    cmd.apdu.data.insert(cmd.apdu.data.end(), oldBcd.data(), oldBcd.data() + oldBcd.size());
    cmd.apdu.data.push_back(0xFF);
    cmd.apdu.data.insert(cmd.apdu.data.end(), newBcd.data(), newBcd.data() + newBcd.size());
    auto r = send(tx, cmd.apdu, "CHANGE PIN");
    if (!r) return unexpected(withPinState(std::move(r).error(), kPinUnknown));
    if (r->sw() == 0x6A80) {
        return unexpected(withPinState(
            makeError(ErrorCode::card_error, "CHANGE PIN: the card refused the PIN format (6A80)"),
            kPinUnchanged));
    }
    return unchangedOnError(pinOutcome(r->sw(), "CHANGE PIN"));
}

// ---------------------------------------------------------------------------------------------
// Keys

std::string_view purposeName(KeyPurpose p) {
    switch (p) {
        case KeyPurpose::puk:
            return "puk";
        case KeyPurpose::read:
            return "read";
        case KeyPurpose::update:
            return "update";
        case KeyPurpose::maintenance:
            return "maintenance";
    }
    return "unknown";
}

std::optional<Bytes> atrHistoricalBytes(ByteView atr) {
    if (atr.size() < 2) return std::nullopt;
    std::size_t pos = 1;
    const std::size_t k = atr[1] & 0x0F;
    std::uint8_t y = atr[1] >> 4;
    ++pos;
    while (true) {
        const int present = ((y & 1) != 0) + ((y & 2) != 0) + ((y & 4) != 0);
        pos += static_cast<std::size_t>(present);
        if ((y & 8) == 0) break;
        if (pos >= atr.size()) return std::nullopt;
        y = atr[pos] >> 4;
        ++pos;
    }
    if (pos + k > atr.size()) return std::nullopt;
    return Bytes(atr.begin() + static_cast<std::ptrdiff_t>(pos),
                 atr.begin() + static_cast<std::ptrdiff_t>(pos + k));
}

Expected<crypto::CardCipher, Error> cipherFromFci(ByteView fci, std::string_view cardId) {
    std::optional<std::uint8_t> algorithm;
    if (auto objects = apdu::parseBerTlv(fci)) {
        if (const auto* tmpl = apdu::findBerTlv(*objects, 0x9F0C)) {
            // 9F0C is primitive by its tag bits; its value holds 86 01 xx.
            if (auto inner = apdu::parseBerTlv(tmpl->value)) {
                if (const auto* a = apdu::findBerTlv(*inner, 0x86); a && a->value.size() == 1) {
                    algorithm = a->value[0];
                }
            }
        }
    }
    if (!algorithm) algorithm = cardId.substr(0, 2) == "11" ? 0x02 : 0x01;
    switch (*algorithm) {
        case 0x01:
            return CardCipher::des3;
        case 0x03:
            return CardCipher::sm4;
        case 0x02:
            return unexpected(
                makeError(ErrorCode::card_error,
                          "the card uses SSF33, which this terminal does not support"));
        default:
            return unexpected(makeError(
                ErrorCode::card_error,
                "the card names an unknown algorithm " + toHex(Bytes{*algorithm}) + " in its FCI"));
    }
}

Expected<crypto::CardCipher, Error> readCardCipher(apdu::Transaction& tx, std::string_view cardId) {
    auto r = send(tx, apdu::selectByName(kSsseDfName, 256), "selecting the application (FCI)");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok()) return unexpected(fromStatusWord(r->sw(), "selecting the application (FCI)"));
    return cipherFromFci(r->data, cardId);
}

Expected<CardKeyContext, Error> cardKeyContext(CardCipher cipher, std::string_view cardId,
                                               ByteView atr) {
    auto historical = atrHistoricalBytes(atr);
    if (!historical) {
        return unexpected(makeError(ErrorCode::card_error, "the card's ATR is malformed"));
    }
    auto factors = crypto::diversificationFactors(cardId, *historical);
    if (!factors) return unexpected(std::move(factors).error());
    return CardKeyContext{cipher, std::string(cardId), std::move(*factors)};
}

namespace {

Expected<CardCipher, Error> parseCipher(std::string_view s) {
    if (s == "3des" || s == "des") return CardCipher::des3;
    if (s == "sm4") return CardCipher::sm4;
    return unexpected(makeError(ErrorCode::config, "unknown cipher '" + std::string(s) + "'"));
}

Expected<KeyPurpose, Error> parsePurpose(std::string_view s) {
    for (auto p :
         {KeyPurpose::puk, KeyPurpose::read, KeyPurpose::update, KeyPurpose::maintenance}) {
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

// ---------------------------------------------------------------------------------------------
// PSAM

namespace {

Expected<apdu::ResponseApdu, Error> psamSend(apdu::Transaction& tx, const apdu::CommandApdu& cmd,
                                             std::string_view step) {
    auto r = tx.transmit(cmd);
    if (!r) {
        Error e = fromTransport(r.error(), std::string("PSAM: ") + std::string(step));
        if (e.code == ErrorCode::card_removed) {
            e.code = ErrorCode::card_error;
            e.message = "the PSAM left its reader: " + e.message;
        }
        return unexpected(std::move(e));
    }
    if (!r->ok()) {
        std::string why = "PSAM: " + std::string(step) + " answered " + swHex(r->sw()) + " (" +
                          apdu::describe(r->sw()) + ")";
        if (r->sw() == 0x6A82 || r->sw() == 0x6A88 || r->sw() == 0x6A83) {
            why += ": the PSAM lacks this application or key";
        }
        return unexpected(makeError(ErrorCode::card_error, why));
    }
    return std::move(*r);
}

}  // namespace

class PsamSession final : public KeySession {
  public:
    PsamSession(PsamKeySource& source, KeyPurpose purpose, CardKeyContext card, Bytes challenge)
        : source_(source),
          purpose_(purpose),
          card_(std::move(card)),
          challenge_(std::move(challenge)) {}

    Expected<Bytes, Error> encryptPinBlock(const SecretPin& pin) override {
        auto plain = crypto::plainPinBlock(pin.revealDigits(), crypto::blockSize(card_.cipher));
        if (!plain) return unexpected(std::move(plain).error());
        SecretCommand cmd{{.cla = 0x80,
                           .ins = 0xFA,
                           .p1 = 0x00,
                           .p2 = 0x00,
                           .data = Bytes(plain->data(), plain->data() + plain->size()),
                           .le = std::nullopt}};
        return run(cmd.apdu, plain->size(), "encrypting the PIN block (80 FA)");
    }

    Expected<Bytes, Error> mac(ByteView message) override {
        apdu::CommandApdu cmd{.cla = 0x80,
                              .ins = 0xFA,
                              .p1 = 0x05,
                              .p2 = 0x00,
                              .data = crypto::padMethod2(message, crypto::blockSize(card_.cipher)),
                              .le = std::nullopt};
        return run(cmd, 4, "computing the MAC (80 FA)");
    }

  private:
    // Each use re-derives the session key in its own PSAM transaction: another program may have
    // used the PSAM in between.
    Expected<Bytes, Error> run(const apdu::CommandApdu& cmd, std::size_t expected,
                               std::string_view step) {
        auto tx = source_.psam_.begin();
        if (!tx) return unexpected(fromTransport(tx.error(), "PSAM: starting a transaction"));
        if (auto p = source_.prepare(*tx, purpose_, card_, challenge_); !p) {
            return unexpected(p.error());
        }
        auto r = psamSend(*tx, cmd, step);
        if (!r) return unexpected(std::move(r).error());
        if (r->data.size() != expected) {
            return unexpected(makeError(ErrorCode::card_error, "PSAM: " + std::string(step) +
                                                                   ": answer of the wrong length"));
        }
        return std::move(r->data);
    }

    PsamKeySource& source_;
    KeyPurpose purpose_;
    CardKeyContext card_;
    Bytes challenge_;
};

Expected<void, Error> PsamKeySource::prepare(apdu::Transaction& tx, KeyPurpose purpose,
                                             const CardKeyContext& card, ByteView sessionFactor) {
    auto keyIt = options_.keys.find(purpose);
    if (keyIt == options_.keys.end()) {
        return unexpected(makeError(
            ErrorCode::config,
            "no PSAM key configured for the " + std::string(purposeName(purpose)) + " key"));
    }
    if (options_.levels < 0 || options_.levels > 3) {
        return unexpected(makeError(ErrorCode::config, "PSAM levels must be 0..3"));
    }
    auto select = apdu::selectByName(options_.aid);
    if (auto r = psamSend(tx, select, "SELECT of the PSAM application"); !r) {
        return unexpected(std::move(r).error());
    }
    auto idBytes = fromHex(card.cardId.substr(0, 2));
    if (!idBytes || idBytes->size() != 1) {
        return unexpected(makeError(ErrorCode::card_error, "the card identifier is not hex"));
    }
    apdu::CommandApdu init{
        .cla = 0xBF, .ins = 0xEC, .p1 = 0x00, .p2 = 0x00, .data = *idBytes, .le = std::nullopt};
    if (auto r = psamSend(tx, init, "initialising (BF EC)"); !r) return unexpected(r.error());
    Bytes data;
    const Bytes* chain[] = {&card.factors.province, &card.factors.city, &card.factors.card};
    for (int i = 3 - options_.levels; i < 3; ++i) {
        data.insert(data.end(), chain[i]->begin(), chain[i]->end());
    }
    data.insert(data.end(), sessionFactor.begin(), sessionFactor.end());
    apdu::CommandApdu derive{.cla = 0xBF,
                             .ins = 0xDE,
                             .p1 = keyIt->second.usage,
                             .p2 = keyIt->second.keyId,
                             .data = std::move(data),
                             .le = std::nullopt};
    if (auto r = psamSend(tx, derive, "deriving the key (BF DE)"); !r) return unexpected(r.error());
    return {};
}

Expected<Bytes, Error> PsamKeySource::authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                                     ByteView challenge) {
    const std::size_t block = crypto::blockSize(card.cipher);
    if (challenge.empty() || challenge.size() > block) {
        return unexpected(makeError(ErrorCode::internal, "challenge longer than a block"));
    }
    auto tx = psam_.begin();
    if (!tx) return unexpected(fromTransport(tx.error(), "PSAM: starting a transaction"));
    if (auto p = prepare(*tx, purpose, card, {}); !p) return unexpected(p.error());
    Bytes input(challenge.begin(), challenge.end());
    input.resize(block, 0x00);
    apdu::CommandApdu cmd{
        .cla = 0x80, .ins = 0xFA, .p1 = 0x00, .p2 = 0x00, .data = input, .le = std::nullopt};
    auto r = psamSend(*tx, cmd, "encrypting the challenge (80 FA)");
    if (!r) return unexpected(std::move(r).error());
    if (r->data.size() != block) {
        return unexpected(makeError(ErrorCode::card_error, "PSAM: cryptogram of the wrong length"));
    }
    return Bytes(r->data.begin(), r->data.begin() + 8);
}

Expected<std::unique_ptr<KeySession>, Error> PsamKeySource::openSession(KeyPurpose purpose,
                                                                        const CardKeyContext& card,
                                                                        ByteView challenge) {
    if (options_.keys.find(purpose) == options_.keys.end()) {
        return unexpected(makeError(
            ErrorCode::config,
            "no PSAM key configured for the " + std::string(purposeName(purpose)) + " key"));
    }
    return std::unique_ptr<KeySession>(
        new PsamSession(*this, purpose, card, Bytes(challenge.begin(), challenge.end())));
}

// ---------------------------------------------------------------------------------------------
// Issuer operations

Expected<void, Error> resetPin(apdu::Transaction& tx, const SecretPin& newPin, KeySource& keys,
                               const CardKeyContext& card, const IssuerKeyIds& ids) {
    auto unchanged = [](Error e) { return unexpected(withPinState(std::move(e), kPinUnchanged)); };
    if (auto a = authenticatePuk(tx, keys, card, ids); !a) return unchanged(std::move(a).error());
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unchanged(std::move(challenge).error());
    auto session = keys.openSession(KeyPurpose::puk, card, *challenge);
    if (!session) return unchanged(std::move(session).error());
    auto block = (*session)->encryptPinBlock(newPin);
    if (!block) return unchanged(std::move(block).error());
    SecretCommand cmd{{.cla = 0x84,
                       .ins = 0x24,
                       .p1 = 0x00,
                       .p2 = 0x01,
                       .data = std::move(*block),
                       .le = std::nullopt}};
    const auto lc = static_cast<std::uint8_t>(cmd.apdu.data.size() + 4);
    Bytes macInput = {0x84, 0x24, 0x00, 0x01, lc};
    macInput.insert(macInput.end(), cmd.apdu.data.begin(), cmd.apdu.data.end());
    auto mac = (*session)->mac(macInput);
    crypto::wipe(macInput);
    if (!mac) return unchanged(std::move(mac).error());
    cmd.apdu.data.insert(cmd.apdu.data.end(), mac->begin(), mac->end());
    auto r = send(tx, cmd.apdu, "PIN reset (84 24 00 01)");
    if (!r) return unexpected(withPinState(std::move(r).error(), kPinUnknown));
    if (!r->ok()) return unchanged(secureMessagingRefused(r->sw(), "PIN reset (84 24 00 01)"));
    return {};
}

Expected<void, Error> unblockPin(apdu::Transaction& tx, KeySource& keys, const CardKeyContext& card,
                                 const IssuerKeyIds& ids) {
    if (auto a = authenticatePuk(tx, keys, card, ids); !a) return a;
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unexpected(std::move(challenge).error());
    auto session = keys.openSession(KeyPurpose::puk, card, *challenge);
    if (!session) return unexpected(std::move(session).error());
    auto mac = (*session)->mac(Bytes{0x84, 0x24, 0x00, 0x00, 0x04});
    if (!mac) return unexpected(std::move(mac).error());
    apdu::CommandApdu cmd{.cla = 0x84,
                          .ins = 0x24,
                          .p1 = 0x00,
                          .p2 = 0x00,
                          .data = std::move(*mac),
                          .le = std::nullopt};
    auto r = send(tx, cmd, "PIN unblock (84 24 00 00)");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok()) return unexpected(secureMessagingRefused(r->sw(), "PIN unblock (84 24 00 00)"));
    return {};
}

// ---------------------------------------------------------------------------------------------
// Pinpad

std::map<std::uint8_t, std::uint32_t> parseFeatures(ByteView tlv) {
    std::map<std::uint8_t, std::uint32_t> out;
    std::size_t pos = 0;
    while (pos + 2 <= tlv.size()) {
        const std::uint8_t tag = tlv[pos];
        const std::uint8_t len = tlv[pos + 1];
        if (len != 4 || pos + 2 + 4 > tlv.size()) break;
        std::uint32_t code = 0;
        for (std::size_t i = 0; i < 4; ++i) code = (code << 8) | tlv[pos + 2 + i];
        out[tag] = code;
        pos += 6;
    }
    return out;
}

namespace {

void putLe16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void putLe32(Bytes& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}

std::size_t pinBlockBytes(const PinpadParams& p) {
    return (p.maxDigits + 1) / 2;
}

// bmFormatString: system units bytes (bit 7), PIN position 0 (bits 6..3), left justified (bit 2),
// BCD (bits 1..0 = 01).
constexpr std::uint8_t kFormatBcdBytes = 0x81;

}  // namespace

Bytes buildVerifyPinStructure(const PinpadParams& params) {
    const std::size_t n = pinBlockBytes(params);
    Bytes apdu = {0x00, 0x20, 0x00, 0x00, static_cast<std::uint8_t>(n)};
    apdu.insert(apdu.end(), n, 0xFF);
    Bytes s;
    s.push_back(params.timeoutSeconds);                // bTimerOut
    s.push_back(params.timeoutSeconds);                // bTimerOut2
    s.push_back(kFormatBcdBytes);                      // bmFormatString
    s.push_back(static_cast<std::uint8_t>(n & 0x0F));  // bmPINBlockString: no length field, n bytes
    s.push_back(0x00);                                 // bmPINLengthFormat
    putLe16(s, static_cast<std::uint16_t>((params.minDigits << 8) | params.maxDigits));
    s.push_back(0x02);  // bEntryValidationCondition: validation key
    s.push_back(0x01);  // bNumberMessage
    putLe16(s, params.langId);
    s.push_back(0x00);                      // bMsgIndex
    s.insert(s.end(), {0x00, 0x00, 0x00});  // bTeoPrologue
    putLe32(s, static_cast<std::uint32_t>(apdu.size()));
    s.insert(s.end(), apdu.begin(), apdu.end());
    return s;
}

Bytes buildModifyPinStructure(const PinpadParams& params) {
    const std::size_t n = pinBlockBytes(params);
    Bytes apdu = {0x80, 0x5E, 0x01, 0x00, static_cast<std::uint8_t>(2 * n + 1)};
    apdu.insert(apdu.end(), n, 0xFF);
    apdu.push_back(0xFF);  // the separator
    apdu.insert(apdu.end(), n, 0xFF);
    Bytes s;
    s.push_back(params.timeoutSeconds);
    s.push_back(params.timeoutSeconds);
    s.push_back(kFormatBcdBytes);
    s.push_back(static_cast<std::uint8_t>(n & 0x0F));
    s.push_back(0x00);                              // bmPINLengthFormat
    s.push_back(0x00);                              // bInsertionOffsetOld (bytes)
    s.push_back(static_cast<std::uint8_t>(n + 1));  // bInsertionOffsetNew
    putLe16(s, static_cast<std::uint16_t>((params.minDigits << 8) | params.maxDigits));
    s.push_back(0x03);  // bConfirmPIN: confirm the new PIN, ask for the current one
    s.push_back(0x02);  // bEntryValidationCondition
    s.push_back(0x03);  // bNumberMessage
    putLe16(s, params.langId);
    s.push_back(0x00);  // bMsgIndex1
    s.push_back(0x01);  // bMsgIndex2
    s.push_back(0x02);  // bMsgIndex3
    s.insert(s.end(), {0x00, 0x00, 0x00});
    putLe32(s, static_cast<std::uint32_t>(apdu.size()));
    s.insert(s.end(), apdu.begin(), apdu.end());
    return s;
}

Expected<std::optional<PinpadFeatures>, Error> pinpadFeatures(apdu::CardConnection& connection) {
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&connection);
    if (pad == nullptr) return std::optional<PinpadFeatures>{};
    auto r = pad->control(apdu::kIoctlGetFeatureRequest, {});
    if (!r) {
        // Readers without part 10 support refuse the control code: no pinpad.
        if (r.error().kind == apdu::TransportErrorKind::card_removed ||
            r.error().kind == apdu::TransportErrorKind::reader_gone ||
            r.error().kind == apdu::TransportErrorKind::no_service) {
            return unexpected(fromTransport(r.error(), "asking the reader for its features"));
        }
        return std::optional<PinpadFeatures>{};
    }
    auto features = parseFeatures(*r);
    auto verify = features.find(kFeatureVerifyPinDirect);
    if (verify == features.end()) return std::optional<PinpadFeatures>{};
    PinpadFeatures f;
    f.verifyPinDirect = verify->second;
    if (auto m = features.find(kFeatureModifyPinDirect); m != features.end()) {
        f.modifyPinDirect = m->second;
    }
    return std::optional<PinpadFeatures>(f);
}

namespace {

// changesPin: MODIFY, whose failures say where the PIN stands (Error::pin_state); VERIFY's do not.
Expected<void, Error> pinpadCommand(apdu::Transaction& tx, std::uint32_t code, const Bytes& input,
                                    std::string_view step, bool changesPin) {
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&tx.connection());
    if (pad == nullptr || code == 0) {
        return unexpected(makeError(ErrorCode::not_allowed,
                                    "this reader has no pinpad for " + std::string(step)));
    }
    auto r = pad->control(code, input);
    if (!r) {
        Error e = fromTransport(r.error(), step);
        // A MODIFY may have been carried out before the reader lost the card.
        return unexpected(changesPin ? withPinState(std::move(e), kPinUnknown) : std::move(e));
    }
    if (r->size() != 2) {
        return unexpected(makeError(ErrorCode::card_error,
                                    std::string(step) + ": the pinpad answered " +
                                        std::to_string(r->size()) + " bytes instead of SW1 SW2"));
    }
    auto outcome = pinOutcome(static_cast<std::uint16_t>(((*r)[0] << 8) | (*r)[1]), step);
    return changesPin ? unchangedOnError(std::move(outcome)) : outcome;
}

}  // namespace

Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params) {
    return pinpadCommand(tx, features.verifyPinDirect, buildVerifyPinStructure(params),
                         "VERIFY on the pinpad", false);
}

Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params) {
    return pinpadCommand(tx, features.modifyPinDirect, buildModifyPinStructure(params),
                         "CHANGE PIN on the pinpad", true);
}

}  // namespace sscard::ssse
