#include "daemon/diag.hpp"

#include <cstdio>

#include "apdu/outcome.hpp"
#include "apdu/ssse/application.hpp"
#include "apdu/ssse/psam.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "apdu/status_word.hpp"
#include "apdu/trace.hpp"
#include "daemon/card_json.hpp"
#include "daemon/key_config.hpp"

namespace sscard::daemon {

namespace {

void printWarnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::fprintf(stderr, "sscardd: warning: %s\n", w.c_str());
}

const char* cardTypeName(const std::optional<std::string>& type) {
    if (!type) return "";
    if (*type == "1") return " (preschool)";
    if (*type == "2") return " (student)";
    if (*type == "3") return " (adult)";
    if (*type == "4") return " (elderly)";
    return "";
}

std::string orDash(const std::optional<std::string>& v) {
    return v ? *v : "-";
}
std::string orDash(const std::optional<ssse::Date>& v) {
    return v ? v->iso() : "-";
}

void printCardText(const std::string& reader, apdu::Interface iface, ByteView atr,
                   const ssse::CardInfo& c, const ssse::HolderInfo* h) {
    std::printf("Reader        %s (%s)\n", reader.c_str(), apdu::interfaceName(iface));
    std::printf("ATR           %s\n", toHex(atr).c_str());
    std::printf("Card ID       %s\n", orDash(c.card_id).c_str());
    std::printf("Region        %s\n", orDash(c.region).c_str());
    std::printf("Card number   %s%s\n", orDash(c.card_number).c_str(),
                c.card_number
                    ? (c.card_number_valid ? " (check character OK)" : " (check character WRONG)")
                    : "");
    std::printf("Card type     %s%s\n", orDash(c.card_type).c_str(), cardTypeName(c.card_type));
    std::printf("Spec version  %s (generation %d)\n", orDash(c.spec_version).c_str(), c.generation);
    std::printf("Issuer        %s\n", orDash(c.issuer_id).c_str());
    std::printf("Issued on     %s\n", orDash(c.issued_on).c_str());
    std::printf("Expires on    %s\n", orDash(c.expires_on).c_str());
    if (h != nullptr) {
        std::printf("SSN           %s\n", orDash(h->ssn).c_str());
        std::printf("Name          %s\n", orDash(h->name).c_str());
        std::printf("Sex           %s\n", orDash(h->sex).c_str());
        std::printf("Ethnicity     %s\n", orDash(h->ethnicity).c_str());
        std::printf("Birthplace    %s\n", orDash(h->birthplace).c_str());
        std::printf("Birth date    %s\n", orDash(h->birth_date).c_str());
    }
    std::string refused;
    for (const auto& f : c.protected_fields) refused += (refused.empty() ? "" : ", ") + f;
    if (h != nullptr)
        for (const auto& f : h->protected_fields)
            refused += (refused.empty() ? "holder." : ", holder.") + f;
    if (!refused.empty())
        std::printf("Protected     %s (the card needs the issuer's read key: [keys])\n",
                    refused.c_str());
}

void traceToStderr(std::string_view line) {
    std::fprintf(stderr, "apdu %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace

int diagReaders(ReaderDirectory& readers, const DiagOptions& options) {
    std::vector<std::string> warnings;
    auto list = readers.listReaders(&warnings);
    printWarnings(warnings);
    if (!list) return options.out.fail(list.error());
    if (options.out.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& r : *list) arr.push_back(readerJson(r));
        options.out.printJson(nlohmann::json{{"readers", arr}});
        return 0;
    }
    if (list->empty()) {
        std::printf("no readers\n");
        return 0;
    }
    for (const auto& r : *list) {
        std::printf("%-32s %-12s %-6s %s\n", r.name.c_str(), apdu::interfaceName(r.interface),
                    r.cardPresent ? "card" : "empty", r.cardPresent ? toHex(r.atr).c_str() : "");
    }
    return 0;
}

Expected<std::unique_ptr<apdu::CardConnection>, Error> connectChosen(ReaderDirectory& readers,
                                                                     const DiagOptions& options) {
    std::vector<std::string> warnings;
    auto list = readers.listReaders(&warnings);
    printWarnings(warnings);
    if (!list) return unexpected(list.error());
    auto chosen = chooseReader(*list, options.reader, options.prefer);
    if (!chosen) return unexpected(chosen.error());
    auto connection = readers.connect(chosen->name);
    if (!connection) return unexpected(connection.error());
    if (options.trace) (*connection)->setTracer(traceToStderr);
    return connection;
}

namespace {

// The configured issuer keys for a holder read: the PSAM connected when first needed, or the lab
// key file loaded (refused unless allow_software_keys).
Expected<void, Error> useDiagKeys(ReaderDirectory& readers, const KeysConfig& keys,
                                  const ssse::ReadKeys::KeyUse& fn) {
    if (keys.source == KeySourceKind::file) {
        auto source = loadSoftwareKeys(keys, [](std::string_view w) {
            std::fprintf(stderr, "warning: %.*s\n", static_cast<int>(w.size()), w.data());
        });
        if (!source) return unexpected(source.error());
        return fn(**source);
    }
    auto psam = readers.connect(keys.psam_reader);
    if (!psam) {
        Error e = psam.error();
        e.message = "the PSAM ([keys] psam_reader \"" + keys.psam_reader + "\"): " + e.message;
        if (e.code == ErrorCode::no_reader || e.code == ErrorCode::no_card) e.reason = "no_psam";
        return unexpected(std::move(e));
    }
    ssse::PsamKeySource source(**psam, psamOptions(keys));
    return fn(source);
}

}  // namespace

int diagRead(ReaderDirectory& readers, const DiagOptions& options) {
    auto connection = connectChosen(readers, options);
    if (!connection) return options.out.fail(connection.error());
    auto& card = **connection;
    ssse::ReadStrategyCache cache;
    std::optional<ssse::ReadKeys> keys;
    if (options.keys.source != KeySourceKind::none) {
        keys = ssse::ReadKeys{[&readers, &options](const ssse::ReadKeys::KeyUse& fn) {
                                  return useDiagKeys(readers, options.keys, fn);
                              },
                              authKeyIds(options.keys)};
    }
    auto result = ssse::readCard(card, cache, options.holder, keys ? &*keys : nullptr);
    if (!result) return options.out.fail(result.error());
    const ssse::HolderInfo* holder = result->holder ? &*result->holder : nullptr;
    if (options.out.json) {
        options.out.printJson(
            cardReadJson(card.readerName(), card.interface(), card.atr(), result->card, holder));
    } else {
        printCardText(card.readerName(), card.interface(), card.atr(), result->card, holder);
    }
    return 0;
}

int diagApdu(ReaderDirectory& readers, const DiagOptions& options,
             const std::vector<std::string>& apdus, bool t0Fixups) {
    std::vector<Bytes> commands;
    for (const auto& text : apdus) {
        auto bytes = fromHex(text);
        if (!bytes || !apdu::CommandApdu::parse(*bytes)) {
            return options.out.fail(
                makeError(ErrorCode::usage,
                          "not a command APDU: \"" + text +
                              "\" (hex bytes CLA INS P1 P2 [Lc data] [Le], e.g. 00A4040000)"));
        }
        commands.push_back(std::move(*bytes));
    }
    auto connection = connectChosen(readers, options);
    if (!connection) return options.out.fail(connection.error());
    auto& card = **connection;
    auto tx = card.begin();
    if (!tx) return options.out.fail(apdu::fromTransport(tx.error(), "starting a transaction"));
    nlohmann::json exchanges = nlohmann::json::array();
    for (const auto& command : commands) {
        auto response = t0Fixups ? tx->transmit(*apdu::CommandApdu::parse(command))
                                 : tx->transmitVerbatim(command);
        if (!response) {
            return options.out.fail(apdu::fromTransport(response.error(), "sending an APDU"));
        }
        Bytes raw = response->encode();
        std::string meaning = apdu::describe(response->sw());
        if (options.out.json) {
            exchanges.push_back({{"command", apdu::formatCommandForTrace(command)},
                                 {"response", toHex(raw)},
                                 {"sw", toHex(Bytes{response->sw1, response->sw2})},
                                 {"meaning", meaning}});
        } else {
            std::printf("> %s\n< %s\n  %02X%02X: %s\n",
                        apdu::formatCommandForTrace(command).c_str(), toHex(raw, " ").c_str(),
                        response->sw1, response->sw2, meaning.c_str());
        }
    }
    if (options.out.json) {
        options.out.printJson(
            {{"reader", card.readerName()}, {"atr", toHex(card.atr())}, {"exchanges", exchanges}});
    }
    return 0;
}

}  // namespace sscard::daemon
