#include "blacklist/decision.hpp"

#include <algorithm>

namespace sscard::blacklist {

std::string_view reasonName(Reason r) {
    switch (r) {
        case Reason::ok:
            return "ok";
        case Reason::temp_frozen:
            return "temp_frozen";
        case Reason::frozen:
            return "frozen";
        case Reason::replaced:
            return "replaced";
        case Reason::cancelled:
            return "cancelled";
        case Reason::card_expired:
            return "card_expired";
        case Reason::list_stale:
            return "list_stale";
        case Reason::no_list:
            return "no_list";
        case Reason::number_unreadable:
            return "number_unreadable";
        case Reason::card_not_genuine:
            return "card_not_genuine";
    }
    return "no_list";
}

std::int64_t effectiveNow(const ListMeta& meta, std::int64_t now) {
    return std::max(now, meta.feed_time);
}

ListState listState(const ListMeta& meta, std::int64_t now, std::int64_t grace_s) {
    std::int64_t t = effectiveNow(meta, now);
    ListState s;
    s.version = meta.version;
    s.age_s = std::max<std::int64_t>(0, t - std::max(meta.checked, meta.fetched));
    s.stale = meta.version == 0 || t > meta.expires + grace_s;
    return s;
}

bool entryDenies(const Entry& e, std::int64_t now) {
    if (now < e.effective_at) return false;
    if (e.state == State::temp_frozen && e.expires_at && now >= *e.expires_at) return false;
    return true;
}

namespace {

Reason reasonOf(State s) {
    switch (s) {
        case State::temp_frozen:
            return Reason::temp_frozen;
        case State::frozen:
            return Reason::frozen;
        case State::replaced:
            return Reason::replaced;
        case State::cancelled:
            return Reason::cancelled;
    }
    return Reason::frozen;
}

// True when the card's expiry date (YYYY-MM-DD, valid through that day in UTC+8) has passed.
bool cardExpired(const std::optional<std::string>& expires_on, std::int64_t now) {
    if (!expires_on || expires_on->size() != 10) return false;
    auto end = parseTimestamp(*expires_on + "T23:59:59+08:00");
    return end && now > *end;
}

}  // namespace

std::string identifiedBy(const CardFacts& card) {
    const bool number = !card.card_number.empty();
    if (card.card_id && number) return "card_id+card_number";
    if (card.card_id) return "card_id";
    return number ? "card_number" : "";
}

Decision decide(const CardFacts& card, const std::vector<Entry>& matches,
                const std::optional<ListMeta>& meta, std::int64_t now, std::int64_t grace_s,
                StalePolicy policy) {
    return decide(card, matches, meta, now, DecisionRules{grace_s, policy, {}}, ListFacts{});
}

Decision decide(const CardFacts& card, const std::vector<Entry>& matches,
                const std::optional<ListMeta>& meta, std::int64_t now, const DecisionRules& rules,
                const ListFacts& listFacts) {
    const std::int64_t grace_s = rules.grace_s;
    const StalePolicy policy = rules.stale;
    Decision d;
    d.identified_by = identifiedBy(card);
    bool have_list = meta && meta->version > 0;
    std::int64_t t = have_list ? effectiveNow(*meta, now) : now;
    if (have_list) d.list = listState(*meta, now, grace_s);
    for (const Entry& e : matches) {
        if (entryDenies(e, t)) {
            d.allow = false;
            d.reason = reasonOf(e.state);
            d.entry = e;
            return d;
        }
    }
    if (!matches.empty()) d.entry = matches.front();
    if (cardExpired(card.expires_on, t)) {
        d.allow = false;
        d.reason = Reason::card_expired;
        return d;
    }
    if (!have_list) {
        d.allow = policy == StalePolicy::allow;
        d.reason = Reason::no_list;
        return d;
    }
    if (d.list->stale && policy == StalePolicy::deny) {
        d.allow = false;
        d.reason = Reason::list_stale;
        return d;
    }
    if (card.card_number.empty() && listFacts.number_only_entries_in_region) {
        d.allow = rules.unreadable_number == UnreadableNumberPolicy::allow;
        d.reason = Reason::number_unreadable;
        return d;
    }
    d.allow = true;
    d.reason = Reason::ok;
    return d;
}

nlohmann::json toJson(const Entry& e) {
    nlohmann::json j;
    j["region"] = e.region;
    j["card_number"] = e.card_number;
    j["card_id"] = e.card_id ? nlohmann::json(*e.card_id) : nlohmann::json(nullptr);
    j["state"] = std::string(stateName(e.state));
    j["effective_at"] = formatTimestamp(e.effective_at);
    j["expires_at"] =
        e.expires_at ? nlohmann::json(formatTimestamp(*e.expires_at)) : nlohmann::json(nullptr);
    j["replaced_by"] = e.replaced_by ? nlohmann::json(*e.replaced_by) : nlohmann::json(nullptr);
    return j;
}

nlohmann::json toJson(const ListState& s) {
    return {{"version", s.version}, {"age_s", s.age_s}, {"stale", s.stale}};
}

nlohmann::json toJson(const Decision& d) {
    nlohmann::json j;
    j["decision"] = d.allow ? "allow" : "deny";
    j["reason"] = std::string(reasonName(d.reason));
    j["identified_by"] = d.identified_by;
    if (d.entry) j["entry"] = toJson(*d.entry);
    if (d.list) {
        j["list"] = toJson(*d.list);
    } else {  // no list: same shape, version 0, no age
        j["list"] = {{"version", 0}, {"age_s", nullptr}, {"stale", true}};
    }
    return j;
}

nlohmann::json statusJson(const ListMeta& m, std::int64_t now, std::int64_t grace_s) {
    auto ts = [](std::int64_t t) {
        return t > 0 ? nlohmann::json(formatTimestamp(t)) : nlohmann::json(nullptr);
    };
    ListState s = listState(m, now, grace_s);
    nlohmann::json j;
    j["version"] = m.version;
    j["entries"] = m.count;
    j["expires"] = ts(m.expires);
    j["feed_time"] = ts(m.feed_time);
    j["fetched"] = ts(m.fetched);
    j["last_sync"] = ts(std::max(m.checked, m.fetched));
    j["age_s"] = m.version > 0 ? nlohmann::json(s.age_s) : nlohmann::json(nullptr);
    j["stale"] = s.stale;
    j["digest"] = m.digest.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.digest);
    j["key_ids"] = m.key_ids;
    return j;
}

}  // namespace sscard::blacklist
