#include "daemon/service/card_checker.hpp"

#include <chrono>

#include "daemon/card_json.hpp"
#include "daemon/log.hpp"
#include "daemon/service/card_reading.hpp"

namespace sscard::daemon {

Expected<nlohmann::json, Error> CardChecker::check(const std::optional<std::string>& reader,
                                                   const std::string& origin) {
    using Clock = std::chrono::steady_clock;
    auto held = desk_.hold(reader);
    if (!held) return unexpected(held.error());
    apdu::CardConnection& card = held->card();
    auto t0 = Clock::now();
    auto read = ssse::readCard(card, readStrategy_, false);
    auto t1 = Clock::now();
    if (!read) {
        events_.audit("card.check_failed", card.readerName(), nullptr,
                      std::string(codeName(read.error().code)));
        return unexpected(read.error());
    }
    auto decision = list_.decide(read->card, config_);
    if (!decision) return unexpected(decision.error());
    if (config_.keys.authenticate_cards && read->card.generation >= 3 && read->card.card_id) {
        if (auto keys = readKeysFor(config_, keys_)) {
            auto genuine = ssse::verifyChip(card, *read->card.card_id, *keys);
            if (!genuine && genuine.error().code != ErrorCode::card_not_genuine) {
                events_.audit("card.check_failed", card.readerName(), &read->card,
                              std::string(codeName(genuine.error().code)));
                return unexpected(genuine.error());
            }
            if (!genuine) {
                decision->allow = false;
                decision->reason = blacklist::Reason::card_not_genuine;
            }
        }
    }
    auto t2 = Clock::now();
    events_.decision(card.readerName(), read->card, *decision);
    logInfo(origin + " check in " + card.readerName() + ": card " +
            maskCardNumber(read->card.card_number.value_or("")) + " " +
            (decision->allow ? "allow" : "deny") + " (" +
            std::string(blacklist::reasonName(decision->reason)) + ")");
    auto json = decisionJson(
        cardReadJson(card.readerName(), card.interface(), card.atr(), read->card, nullptr),
        *decision);
    auto ms = [](Clock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count();
    };
    json["timing"] = {
        {"read_ms", ms(t1 - t0)}, {"decide_ms", ms(t2 - t1)}, {"apdus", card.apduCount()}};
    return json;
}

}  // namespace sscard::daemon
