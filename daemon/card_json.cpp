#include "daemon/card_json.hpp"

namespace sscard::daemon {

namespace {

template <class T>
nlohmann::json orNull(const std::optional<T>& value) {
    if (!value) return nullptr;
    return *value;
}

nlohmann::json dateOrNull(const std::optional<ssse::Date>& date) {
    if (!date) return nullptr;
    return date->iso();
}

}  // namespace

nlohmann::json cardJson(const ssse::CardInfo& card) {
    return nlohmann::json{
        {"card_id", orNull(card.card_id)},         {"region", orNull(card.region)},
        {"card_number", orNull(card.card_number)}, {"card_number_valid", card.card_number_valid},
        {"card_type", orNull(card.card_type)},     {"spec_version", orNull(card.spec_version)},
        {"generation", card.generation},           {"issuer_id", orNull(card.issuer_id)},
        {"issued_on", dateOrNull(card.issued_on)}, {"expires_on", dateOrNull(card.expires_on)},
        {"protected", card.protected_fields},
    };
}

nlohmann::json holderJson(const ssse::HolderInfo& holder) {
    return nlohmann::json{
        {"ssn", orNull(holder.ssn)},
        {"name", orNull(holder.name)},
        {"sex", orNull(holder.sex)},
        {"ethnicity", orNull(holder.ethnicity)},
        {"birthplace", orNull(holder.birthplace)},
        {"birth_date", dateOrNull(holder.birth_date)},
    };
}

nlohmann::json cardReadJson(const std::string& reader, apdu::Interface interface, ByteView atr,
                            const ssse::CardInfo& card, const ssse::HolderInfo* holder) {
    nlohmann::json j{
        {"reader", reader},
        {"interface", apdu::interfaceName(interface)},
        {"atr", toHex(atr)},
        {"card", cardJson(card)},
    };
    if (holder != nullptr) {
        j["holder"] = holderJson(*holder);
        // One list for the client to check: the holder's refused fields as "holder.<name>".
        for (const auto& name : holder->protected_fields)
            j["card"]["protected"].push_back("holder." + name);
    }
    return j;
}

nlohmann::json readerJson(const apdu::ReaderInfo& reader) {
    return nlohmann::json{
        {"name", reader.name},
        {"interface", apdu::interfaceName(reader.interface)},
        {"card_present", reader.cardPresent},
        {"atr", reader.cardPresent ? nlohmann::json(toHex(reader.atr)) : nlohmann::json(nullptr)},
    };
}

}  // namespace sscard::daemon
