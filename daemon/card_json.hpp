// The card and holder JSON of the contract (docs/cli.md#card-json).
#pragma once

#include <nlohmann/json.hpp>

#include "apdu/reader.hpp"
#include "apdu/ssse/card_data.hpp"

namespace sscard::daemon {

nlohmann::json cardJson(const ssse::CardInfo& card);
nlohmann::json holderJson(const ssse::HolderInfo& holder);

// {"reader", "interface", "atr", "card", ["holder"]}
nlohmann::json cardReadJson(const std::string& reader, apdu::Interface interface, ByteView atr,
                            const ssse::CardInfo& card, const ssse::HolderInfo* holder);

nlohmann::json readerJson(const apdu::ReaderInfo& reader);

}  // namespace sscard::daemon
