#include "daemon/card_check.hpp"

#include <chrono>
#include <system_error>

#include "base/clock.hpp"

namespace sscard::daemon {

blacklist::StalePolicy stalePolicyOf(const Config& config) {
    return config.list.stale_policy == StalePolicy::allow ? blacklist::StalePolicy::allow
                                                          : blacklist::StalePolicy::deny;
}

std::int64_t graceSeconds(const Config& config) {
    return std::chrono::duration_cast<std::chrono::seconds>(config.list.grace).count();
}

std::int64_t unixNow() {
    return unixSecondsNow();
}

blacklist::CardFacts cardFacts(const ssse::CardInfo& card) {
    blacklist::CardFacts facts;
    facts.card_id = card.card_id;
    facts.region = card.region.value_or("");
    facts.card_number = card.card_number.value_or("");
    if (card.expires_on) facts.expires_on = card.expires_on->iso();
    return facts;
}

Expected<blacklist::Store*, Error> ListAccess::store() {
    if (store_) return &*store_;
    std::error_code ec;
    if (!std::filesystem::exists(database_, ec)) return static_cast<blacklist::Store*>(nullptr);
    auto opened = blacklist::Store::open(database_, /*read_only=*/true);
    if (!opened) return unexpected(opened.error());
    store_.emplace(std::move(*opened));
    return &*store_;
}

Expected<std::optional<blacklist::ListMeta>, Error> ListAccess::meta() {
    std::lock_guard lock(mutex_);
    auto s = store();
    if (!s) return unexpected(s.error());
    if (*s == nullptr) return std::optional<blacklist::ListMeta>{};
    auto m = (*s)->status();
    if (!m) return unexpected(m.error());
    if (m->version == 0) return std::optional<blacklist::ListMeta>{};
    return std::optional<blacklist::ListMeta>{*m};
}

Expected<std::vector<blacklist::Entry>, Error> ListAccess::lookup(
    const blacklist::CardFacts& facts) {
    std::lock_guard lock(mutex_);
    auto s = store();
    if (!s) return unexpected(s.error());
    if (*s == nullptr) return std::vector<blacklist::Entry>{};
    return (*s)->lookup(facts);
}

Expected<bool, Error> ListAccess::hasNumberOnlyEntries(const std::string& region) {
    std::lock_guard lock(mutex_);
    auto s = store();
    if (!s) return unexpected(s.error());
    if (*s == nullptr) return false;
    return (*s)->hasNumberOnlyEntries(region);
}

blacklist::DecisionRules decisionRules(const Config& config) {
    blacklist::DecisionRules rules;
    rules.grace_s = graceSeconds(config);
    rules.stale = stalePolicyOf(config);
    rules.unreadable_number = config.list.unreadable_number == UnreadableNumberPolicy::allow
                                  ? blacklist::UnreadableNumberPolicy::allow
                                  : blacklist::UnreadableNumberPolicy::deny;
    return rules;
}

Expected<blacklist::Decision, Error> ListAccess::decide(const ssse::CardInfo& card,
                                                        const Config& config) {
    auto facts = cardFacts(card);
    auto m = meta();
    if (!m) return unexpected(m.error());
    std::vector<blacklist::Entry> matches;
    blacklist::ListFacts listFacts;
    if (*m) {
        auto found = lookup(facts);
        if (!found) return unexpected(found.error());
        matches = std::move(*found);
        if (facts.card_number.empty()) {
            auto any = hasNumberOnlyEntries(facts.region);
            if (!any) return unexpected(any.error());
            listFacts.number_only_entries_in_region = *any;
        }
    }
    return blacklist::decide(facts, matches, *m, unixNow(), decisionRules(config), listFacts);
}

void ListAccess::reset() {
    std::lock_guard lock(mutex_);
    store_.reset();
}

nlohmann::json decisionJson(const nlohmann::json& cardReadJson, const blacklist::Decision& d) {
    nlohmann::json out = cardReadJson;
    out.update(blacklist::toJson(d));
    return out;
}

}  // namespace sscard::daemon
