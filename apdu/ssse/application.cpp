#include "apdu/ssse/application.hpp"

#include <map>

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
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

bool ReadStrategyCache::multiReadRefused(const Bytes& atr) const {
    std::lock_guard lock(mutex_);
    return refused_.count(std::string(atr.begin(), atr.end())) != 0;
}

void ReadStrategyCache::markMultiReadRefused(const Bytes& atr) {
    std::lock_guard lock(mutex_);
    refused_.emplace(atr.begin(), atr.end());
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

Expected<std::optional<Bytes>, Error> SsseApplication::readOneByTag(std::uint8_t sfi,
                                                                    std::uint8_t tag,
                                                                    std::size_t length,
                                                                    std::string_view what) {
    TransmitGuard transmit(resetSeen_);
    auto cmd = apdu::readRecord(tag, static_cast<std::uint8_t>(sfi << 3), length + 2);
    auto r = transmit(tx_, cmd, what);
    if (!r) return unexpected(r.error());
    if (isRecordMissing(r->sw())) return std::optional<Bytes>{};
    if (isSecurityRefusal(r->sw())) {
        return unexpected(
            makeError(ErrorCode::read_key_required, std::string(what) +
                                                        ": the card requires the issuer's read key "
                                                        "(answered " +
                                                        toHex(Bytes{r->sw1, r->sw2}) + ")"));
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

Expected<std::vector<std::pair<std::uint8_t, Bytes>>, Error> SsseApplication::readRecords(
    std::uint8_t sfi, std::span<const RecordField> fields, std::string_view what) {
    TransmitGuard transmit(resetSeen_);
    std::size_t expectedLength = 0;
    for (const auto& spec : fields) expectedLength += spec.length + 2;
    FieldMap found;
    const Bytes& atr = tx_.connection().atr();
    if (!cache_.multiReadRefused(atr)) {
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
            for (auto& item : *tlv) found.emplace(item.tag, std::move(item.value));
        } else if (isMultiReadRefusal(r->sw())) {
            cache_.markMultiReadRefused(atr);
        } else if (isSecurityRefusal(r->sw())) {
            return unexpected(makeError(ErrorCode::read_key_required,
                                        std::string(what) +
                                            ": the card requires the issuer's read key (answered " +
                                            toHex(Bytes{r->sw1, r->sw2}) + ")"));
        } else if (!isRecordMissing(r->sw())) {
            return unexpected(apdu::fromStatusWord(r->sw(), what));
        }
    }
    std::vector<std::pair<std::uint8_t, Bytes>> out;
    for (const auto& spec : fields) {
        auto it = found.find(spec.tag);
        if (it != found.end()) {
            out.emplace_back(spec.tag, std::move(it->second));
            continue;
        }
        auto one = readOneByTag(sfi, spec.tag, spec.length, what);
        if (!one) return unexpected(one.error());
        if (*one) out.emplace_back(spec.tag, std::move(**one));
    }
    return out;
}

Expected<CardInfo, Error> SsseApplication::readCardInfo() {
    auto records = readRecords(kSfiEf05, kEf05Fields, "reading EF05 (card data)");
    if (!records) return unexpected(records.error());
    FieldMap f(records->begin(), records->end());

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
    if (!info.card_id && !info.card_number) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "EF05 holds neither a card identifier nor a card number"));
    }
    return info;
}

Expected<HolderInfo, Error> SsseApplication::readHolder(int generation) {
    std::span<const RecordField> fields = kEf06Fields;
    if (generation < 2) fields = kEf06FieldsFirstGeneration;
    auto records = readRecords(kSfiEf06, fields, "reading EF06 (holder data)");
    if (!records) {
        Error e = records.error();
        if (e.code == ErrorCode::read_key_required && generation >= 3) {
            e.message =
                "holder data (EF06) on this 3rd-generation card can only be read after external "
                "authentication with the issuer's read key RKSSSE, which this terminal does not "
                "have; the card data (EF05) is readable without it";
        }
        return unexpected(std::move(e));
    }
    FieldMap f(records->begin(), records->end());
    HolderInfo h;
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
                                         bool withHolder) {
    for (int attempt = 0;; ++attempt) {
        auto tx = connection.begin();
        if (!tx) {
            if (tx.error().kind == apdu::TransportErrorKind::card_reset && attempt == 0) continue;
            return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
        }
        SsseApplication app(*tx, cache);
        auto run = [&]() -> Expected<CardReadResult, Error> {
            if (auto s = app.select(); !s) return unexpected(s.error());
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            CardReadResult result{std::move(*info), std::nullopt};
            if (withHolder) {
                auto holder = app.readHolder(result.card.generation);
                if (!holder) return unexpected(holder.error());
                result.holder = std::move(*holder);
            }
            return result;
        };
        auto result = run();
        if (!result && app.resetSeen() && attempt == 0) continue;
        return result;
    }
}

}  // namespace sscard::ssse
