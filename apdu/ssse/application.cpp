#include "apdu/ssse/application.hpp"

#include <algorithm>
#include <map>

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/card_number.hpp"
#include "apdu/ssse/fields.hpp"
#include "apdu/tlv.hpp"

namespace sscard::ssse {

const Bytes kSsseDfName = {0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9,
                           0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF};

namespace {

constexpr std::uint8_t kSfiEf05 = 0x05;
constexpr std::uint8_t kSfiEf06 = 0x06;

// EF05 tags 01..07 (docs/card.md#ef05-card-management-data).
constexpr RecordField kEf05Fields[] = {{0x01, 16}, {0x02, 1}, {0x03, 4}, {0x04, 12},
                                       {0x05, 4},  {0x06, 4}, {0x07, 9}};
// EF06 on 2nd/3rd generation cards; 1st generation has no name extension (4E).
constexpr RecordField kEf06Fields[] = {{0x08, 18}, {0x09, 30}, {0x4E, 20}, {0x0A, 1},
                                       {0x0B, 1},  {0x0C, 3},  {0x0D, 4}};
constexpr RecordField kEf06FieldsFirstGeneration[] = {{0x08, 18}, {0x09, 30}, {0x0A, 1},
                                                      {0x0B, 1},  {0x0C, 3},  {0x0D, 4}};

// JSON names of the fields, for protected_fields.
std::string_view fieldName(std::uint8_t tag) {
    switch (tag) {
        case 0x01:
            return "card_id";
        case 0x02:
            return "card_type";
        case 0x03:
            return "spec_version";
        case 0x04:
            return "issuer_id";
        case 0x05:
            return "issued_on";
        case 0x06:
            return "expires_on";
        case 0x07:
            return "card_number";
        case 0x08:
            return "ssn";
        case 0x09:
        case 0x4E:
            return "name";
        case 0x0A:
            return "sex";
        case 0x0B:
            return "ethnicity";
        case 0x0C:
            return "birthplace";
        case 0x0D:
            return "birth_date";
        default:
            return "unknown";
    }
}

std::vector<std::string> protectedNames(std::span<const RecordField> fields,
                                        const std::set<std::uint8_t>& tags) {
    std::vector<std::string> out;
    for (const auto& spec : fields) {
        if (tags.count(spec.tag) == 0) continue;
        std::string name(fieldName(spec.tag));
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    }
    return out;
}

bool isMultiReadRefusal(std::uint16_t sw) {
    return sw == 0x6A86 || sw == 0x6A81 || sw == 0x6D00 || sw == 0x6B00;
}

bool isSecurityRefusal(std::uint16_t sw) {
    return sw == 0x6982 || sw == 0x6985 || sw == 0x6988;
}

bool isRecordMissing(std::uint16_t sw) {
    return sw == 0x6A83 || sw == 0x6A82;
}

bool isSuccess(const apdu::ResponseApdu& r) {
    return r.ok() || r.sw1 == 0x61;
}

using FieldMap = std::map<std::uint8_t, Bytes>;

ByteView field(const FieldMap& fields, std::uint8_t tag) {
    auto it = fields.find(tag);
    if (it == fields.end()) return {};
    return it->second;
}

}  // namespace

namespace {
std::string cacheKey(const Bytes& atr, std::uint8_t sfi) {
    std::string key(atr.begin(), atr.end());
    key.push_back(static_cast<char>(sfi));
    return key;
}
}  // namespace

bool ReadStrategyCache::multiReadAllowed(const Bytes& atr, std::uint8_t sfi,
                                         bool authenticated) const {
    std::lock_guard lock(mutex_);
    auto it = refused_.find(cacheKey(atr, sfi));
    if (it == refused_.end()) return true;
    return it->second == Refusal::protected_ && authenticated;
}

void ReadStrategyCache::markMultiReadRefused(const Bytes& atr, std::uint8_t sfi, Refusal why) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = refused_.emplace(cacheKey(atr, sfi), why);
    if (!inserted && why == Refusal::unsupported) it->second = why;
}

// Transport failures are remembered so that readCard() can tell a reset (restart the sequence)
// from other failures after they have been turned into contract errors.
class TransmitGuard {
  public:
    explicit TransmitGuard(bool& resetSeen) : resetSeen_(resetSeen) {}
    Expected<apdu::ResponseApdu, Error> operator()(apdu::Transaction& tx,
                                                   const apdu::CommandApdu& command,
                                                   std::string_view step,
                                                   apdu::TransmitOptions options = {}) {
        auto r = tx.transmit(command, options);
        if (!r) {
            if (r.error().kind == apdu::TransportErrorKind::card_reset) resetSeen_ = true;
            return unexpected(apdu::fromTransport(r.error(), step));
        }
        return std::move(*r);
    }

  private:
    bool& resetSeen_;
};

Expected<void, Error> SsseApplication::select() {
    TransmitGuard transmit(resetSeen_);
    authenticated_ = false;
    ef05_ = {};
    // Le 00 asks for the FCI on T=1; on T=0 the card answers 61xx and the FCI is not fetched,
    // because reading the card does not need it (saves one APDU).
    auto r = transmit(tx_, apdu::selectByName(kSsseDfName, 256), "selecting the application",
                      apdu::TransmitOptions{.fetchResponse = false, .fixLe = true});
    if (!r) return unexpected(r.error());
    if (isSuccess(*r)) return {};
    std::uint16_t sw = r->sw();
    if (sw == 0x9303) {
        Error e = makeError(ErrorCode::card_error,
                            "the social security application on this card is permanently "
                            "blocked (SELECT answered 9303)");
        e.sw = sw;
        return unexpected(std::move(e));
    }
    if (r->sw1 == 0x6A || r->sw1 == 0x6D || r->sw1 == 0x6E || r->sw1 == 0x6B || sw == 0x6700 ||
        sw == 0x6999) {
        return unexpected(makeError(ErrorCode::not_ssse_card,
                                    "not a social security card: SELECT of the SSSE application "
                                    "answered " +
                                        toHex(Bytes{r->sw1, r->sw2})));
    }
    return unexpected(apdu::fromStatusWord(sw, "selecting the social security application"));
}

Expected<Bytes, Error> SsseApplication::selectWithFci() {
    TransmitGuard transmit(resetSeen_);
    authenticated_ = false;
    ef05_ = {};
    auto r = transmit(tx_, apdu::selectByName(kSsseDfName, 256),
                      "selecting the application (with its FCI)");
    if (!r) return unexpected(r.error());
    if (r->ok()) return std::move(r->data);
    if (r->sw1 == 0x6A || r->sw1 == 0x6D || r->sw1 == 0x6E) {
        return unexpected(makeError(ErrorCode::not_ssse_card,
                                    "not a social security card: SELECT of the SSSE application "
                                    "answered " +
                                        toHex(Bytes{r->sw1, r->sw2})));
    }
    return unexpected(apdu::fromStatusWord(r->sw(), "selecting the social security application"));
}

Expected<std::optional<Bytes>, Error> SsseApplication::readOneByTag(
    std::uint8_t sfi, std::uint8_t tag, std::size_t length, std::string_view what, bool& refused) {
    TransmitGuard transmit(resetSeen_);
    refused = false;
    auto cmd = apdu::readRecord(tag, static_cast<std::uint8_t>(sfi << 3), length + 2);
    auto r = transmit(tx_, cmd, what);
    if (!r) return unexpected(r.error());
    if (isRecordMissing(r->sw())) return std::optional<Bytes>{};
    if (isSecurityRefusal(r->sw())) {
        refused = true;
        return std::optional<Bytes>{};
    }
    if (!r->ok()) return unexpected(apdu::fromStatusWord(r->sw(), what));
    auto tlv = apdu::parseSimpleTlv(r->data);
    if (!tlv) {
        return unexpected(makeError(ErrorCode::card_error,
                                    std::string(what) + ": malformed record: " + tlv.error()));
    }
    for (auto& item : *tlv) {
        if (item.tag == tag) return std::optional<Bytes>{std::move(item.value)};
    }
    return unexpected(makeError(
        ErrorCode::card_error,
        std::string(what) + ": record " + toHex(Bytes{tag}) + " came back without its tag"));
}

Expected<void, Error> SsseApplication::readRecords(
    std::uint8_t sfi, std::span<const RecordField> fields, std::string_view what, FileRecords& into,
    std::optional<std::span<const std::uint8_t>> wanted) {
    TransmitGuard transmit(resetSeen_);
    if (authenticated_) into.protectedTags.clear();  // readable now
    auto missing = [&](const RecordField& spec) {
        return into.fields.count(spec.tag) == 0 && into.protectedTags.count(spec.tag) == 0;
    };
    auto isWanted = [&](std::uint8_t tag) {
        return !wanted || std::find(wanted->begin(), wanted->end(), tag) != wanted->end();
    };
    std::size_t expectedLength = 0;
    std::size_t toRead = 0;
    for (const auto& spec : fields) {
        expectedLength += spec.length + 2;
        if (missing(spec) && isWanted(spec.tag)) ++toRead;
    }
    if (toRead == 0) return {};
    const Bytes& atr = tx_.connection().atr();
    if (toRead > 1 && cache_.multiReadAllowed(atr, sfi, authenticated_)) {
        auto cmd = apdu::readRecord(0x01, static_cast<std::uint8_t>((sfi << 3) | 0x05),
                                    expectedLength <= 256 ? expectedLength : 256);
        auto r = transmit(tx_, cmd, what);
        if (!r) return unexpected(r.error());
        if (r->ok()) {
            auto tlv = apdu::parseSimpleTlv(r->data);
            if (!tlv) {
                return unexpected(
                    makeError(ErrorCode::card_error,
                              std::string(what) + ": malformed records: " + tlv.error()));
            }
            for (auto& item : *tlv) into.fields.insert_or_assign(item.tag, std::move(item.value));
        } else if (isMultiReadRefusal(r->sw())) {
            cache_.markMultiReadRefused(atr, sfi, ReadStrategyCache::Refusal::unsupported);
        } else if (isSecurityRefusal(r->sw())) {
            // One protected record refuses the whole range: read the others one by one.
            cache_.markMultiReadRefused(atr, sfi, ReadStrategyCache::Refusal::protected_);
        } else if (!isRecordMissing(r->sw())) {
            return unexpected(apdu::fromStatusWord(r->sw(), what));
        }
    }
    for (const auto& spec : fields) {
        if (!missing(spec) || !isWanted(spec.tag)) continue;
        bool refused = false;
        auto one = readOneByTag(sfi, spec.tag, spec.length, what, refused);
        if (!one) return unexpected(one.error());
        if (refused) into.protectedTags.insert(spec.tag);
        if (*one) into.fields.emplace(spec.tag, std::move(**one));
    }
    return {};
}

Expected<CardInfo, Error> SsseApplication::readCardInfo() {
    return readCardInfo(std::span<const std::uint8_t>{});
}

Expected<CardInfo, Error> SsseApplication::readCardInfo(std::span<const std::uint8_t> tags) {
    std::optional<std::span<const std::uint8_t>> wanted;
    if (!tags.empty()) wanted = tags;
    if (auto r = readRecords(kSfiEf05, kEf05Fields, "reading EF05 (card data)", ef05_, wanted); !r)
        return unexpected(r.error());
    const FieldMap& f = ef05_.fields;

    CardInfo info;
    info.card_id = decodeHex(field(f, 0x01));
    if (info.card_id && info.card_id->size() >= 6) {
        std::string region = info.card_id->substr(0, 6);
        bool digits = region.find_first_not_of("0123456789") == std::string::npos;
        if (digits) info.region = region;
    }
    info.card_type = decodeAn(field(f, 0x02));
    info.spec_version = decodeAn(field(f, 0x03));
    info.generation = generationFromSpecVersion(info.spec_version);
    info.issuer_id = decodeHex(field(f, 0x04));
    info.issued_on = decodeDate(field(f, 0x05));
    info.expires_on = decodeDate(field(f, 0x06));
    if (auto number = decodeAn(field(f, 0x07))) {
        info.card_number = number->substr(0, 9);
        info.card_number_valid = isValidCardNumber(*info.card_number);
    }
    info.protected_fields = protectedNames(kEf05Fields, ef05_.protectedTags);
    if (!info.card_id && !info.card_number && ef05_.protectedTags.empty() && tags.empty()) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "EF05 holds neither a card identifier nor a card number"));
    }
    if (!info.card_id && !info.card_number && !ef05_.protectedTags.empty()) {
        return unexpected(makeError(ErrorCode::read_key_required,
                                    "the card protects both its identifier and its number: "
                                    "nothing identifies it without the issuer's read key"));
    }
    return info;
}

Expected<HolderInfo, Error> SsseApplication::readHolder(int generation) {
    std::span<const RecordField> fields = kEf06Fields;
    if (generation < 2) fields = kEf06FieldsFirstGeneration;
    FileRecords records;
    if (auto r = readRecords(kSfiEf06, fields, "reading EF06 (holder data)", records, std::nullopt);
        !r)
        return unexpected(r.error());
    const FieldMap& f = records.fields;
    HolderInfo h;
    h.protected_fields = protectedNames(fields, records.protectedTags);
    h.ssn = decodeAn(field(f, 0x08));
    auto name = decodeGbk(field(f, 0x09));
    auto extension = decodeGbk(field(f, 0x4E));
    if (name || extension) h.name = name.value_or("") + extension.value_or("");
    h.sex = decodeAn(field(f, 0x0A));
    h.ethnicity = decodeCnDigits(field(f, 0x0B));
    h.birthplace = decodeCnDigits(field(f, 0x0C));
    h.birth_date = decodeDate(field(f, 0x0D));
    return h;
}

Expected<CardReadResult, Error> readCard(apdu::CardConnection& connection, ReadStrategyCache& cache,
                                         bool withHolder, const ReadKeys* keys) {
    for (int attempt = 0;; ++attempt) {
        auto tx = connection.begin();
        if (!tx) {
            if (tx.error().kind == apdu::TransportErrorKind::card_reset && attempt == 0) continue;
            return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
        }
        SsseApplication app(*tx, cache);
        auto run = [&]() -> Expected<CardReadResult, Error> {
            // The FCI names the card's algorithm, which the keys need.
            const bool mayAuthenticate = withHolder && keys != nullptr;
            Bytes fci;
            if (mayAuthenticate) {
                auto selected = app.selectWithFci();
                if (!selected) return unexpected(selected.error());
                fci = std::move(*selected);
            } else if (auto s = app.select(); !s) {
                return unexpected(s.error());
            }
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            CardReadResult result{std::move(*info), std::nullopt, false};
            if (!withHolder) return result;
            if (mayAuthenticate && result.card.generation >= 3 && result.card.card_id) {
                auto cipher = cipherFromFci(fci, *result.card.card_id);
                if (!cipher) return unexpected(cipher.error());
                auto context = cardKeyContext(*cipher, *result.card.card_id, connection.atr());
                if (!context) return unexpected(context.error());
                // The read key's authentication must not outlive this read (another program could
                // read the holder data on it): the transaction ends with a card reset.
                connection.resetWhenTransactionEnds();
                auto authenticated = keys->use([&](KeySource& source) {
                    return authenticateWithKeys(*tx, source, *context, keys->ids);
                });
                if (!authenticated) return unexpected(authenticated.error());
                result.authenticated = true;
                app.setAuthenticated();
                if (!result.card.protected_fields.empty()) {
                    auto again = app.readCardInfo();
                    if (!again) return unexpected(again.error());
                    result.card = std::move(*again);
                }
            }
            auto holder = app.readHolder(result.card.generation);
            if (!holder) return unexpected(holder.error());
            result.holder = std::move(*holder);
            return result;
        };
        auto result = run();
        if (!result && app.resetSeen() && attempt == 0) continue;
        return result;
    }
}

Expected<void, Error> verifyChip(apdu::CardConnection& connection, std::string_view cardId,
                                 const ReadKeys& keys) {
    auto tx = connection.begin();
    if (!tx) return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
    ReadStrategyCache unused;
    SsseApplication app(*tx, unused);
    auto fci = app.selectWithFci();
    if (!fci) return unexpected(fci.error());
    auto cipher = cipherFromFci(*fci, cardId);
    if (!cipher) return unexpected(cipher.error());
    auto context = cardKeyContext(*cipher, cardId, connection.atr());
    if (!context) return unexpected(context.error());
    return keys.use(
        [&](KeySource& source) { return verifyChipWithKeys(*tx, source, *context, keys.ids); });
}

}  // namespace sscard::ssse
