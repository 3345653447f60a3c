#include "daemon/service/card_reading.hpp"

#include "daemon/card_json.hpp"
#include "daemon/key_config.hpp"

namespace sscard::daemon {

std::optional<ssse::ReadKeys> readKeysFor(const Config& config, KeyAccess& keys) {
    if (!keys.configured()) return std::nullopt;
    return ssse::ReadKeys{[&keys](const ssse::ReadKeys::KeyUse& fn) { return keys.use(fn); },
                          authKeyIds(config.keys)};
}

Expected<nlohmann::json, Error> CardReading::read(const std::optional<std::string>& reader,
                                                  bool holder) {
    auto held = desk_.hold(reader);
    if (!held) return unexpected(held.error());
    apdu::CardConnection& card = held->card();
    auto keys = readKeysFor(config_, keys_);
    auto result = ssse::readCard(card, readStrategy_, holder, keys ? &*keys : nullptr);
    if (!result) return unexpected(result.error());
    return cardReadJson(card.readerName(), card.interface(), card.atr(), result->card,
                        result->holder ? &*result->holder : nullptr);
}

}  // namespace sscard::daemon
