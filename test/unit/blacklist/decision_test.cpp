#include <doctest/doctest.h>

#include "blacklist/decision.hpp"

using namespace sscard::blacklist;

namespace {

std::int64_t t(const char* iso) {
    return *parseTimestamp(iso);
}

const std::int64_t kNow = t("2026-11-24T12:00:00Z");

ListMeta freshList() {
    ListMeta m;
    m.version = 42;
    m.expires = kNow + 3600;
    m.feed_time = kNow - 600;
    m.fetched = kNow - 310;
    m.checked = kNow - 310;
    return m;
}

CardFacts card() {
    return {"330300D15600000599110145FFFFFFFF", "330300", "B7K334774", "2030-10-01"};
}

Entry entry(State s) {
    Entry e;
    e.region = "330300";
    e.card_number = "B7K334774";
    e.card_id = "330300D15600000599110145FFFFFFFF";
    e.state = s;
    e.effective_at = kNow - 86400;
    if (s == State::temp_frozen) e.expires_at = kNow + 86400;
    return e;
}

constexpr std::int64_t kGrace = 24 * 3600;

}  // namespace

TEST_CASE("each state denies with its reason - absent card is allowed") {
    for (auto [s, r] :
         {std::pair{State::temp_frozen, Reason::temp_frozen},
          std::pair{State::frozen, Reason::frozen}, std::pair{State::replaced, Reason::replaced},
          std::pair{State::cancelled, Reason::cancelled}}) {
        auto d = decide(card(), {entry(s)}, freshList(), kNow, kGrace, StalePolicy::deny);
        CHECK_FALSE(d.allow);
        CHECK(d.reason == r);
        REQUIRE(d.entry);
        auto j = toJson(d);
        CHECK(j["decision"] == "deny");
        CHECK(j["reason"] == std::string(reasonName(r)));
        CHECK(j["list"]["version"] == 42);
        CHECK(j["list"]["age_s"] == 310);
        CHECK(j["list"]["stale"] == false);
        CHECK(j["entry"]["state"] == std::string(stateName(s)));
    }
    auto d = decide(card(), {}, freshList(), kNow, kGrace, StalePolicy::deny);
    CHECK(d.allow);
    CHECK(d.reason == Reason::ok);
    CHECK_FALSE(toJson(d).contains("entry"));
}

TEST_CASE("a temp freeze past its expiry no longer denies - even on the same list") {
    Entry e = entry(State::temp_frozen);
    e.expires_at = kNow - 1;
    auto d = decide(card(), {e}, freshList(), kNow, kGrace, StalePolicy::deny);
    CHECK(d.allow);
    CHECK(d.reason == Reason::ok);
    CHECK(d.entry);  // still reported as the entry that matched
}

TEST_CASE("clock rollback: now is never before the newest verified feed time") {
    Entry e = entry(State::temp_frozen);
    e.expires_at = kNow - 60;  // expired before the feed time...
    ListMeta m = freshList();
    m.feed_time = kNow;
    // the terminal clock was turned back a day: the temp freeze still counts as expired
    auto d = decide(card(), {e}, m, kNow - 86400, kGrace, StalePolicy::deny);
    CHECK(d.allow);
    // and a freeze not yet effective by the (rolled back) clock but effective by the feed time
    Entry f = entry(State::frozen);
    f.effective_at = kNow - 10;
    d = decide(card(), {f}, m, kNow - 86400, kGrace, StalePolicy::deny);
    CHECK_FALSE(d.allow);
    CHECK(d.reason == Reason::frozen);
}

TEST_CASE("an entry whose effective_at is in the future does not deny yet") {
    Entry e = entry(State::frozen);
    e.effective_at = kNow + 3600;
    auto d = decide(card(), {e}, freshList(), kNow, kGrace, StalePolicy::deny);
    CHECK(d.allow);
}

TEST_CASE("a region+number entry matches - the first denying match decides") {
    Entry byNumber = entry(State::cancelled);
    byNumber.card_id.reset();
    Entry expired = entry(State::temp_frozen);
    expired.expires_at = kNow - 1;
    auto d = decide(card(), {expired, byNumber}, freshList(), kNow, kGrace, StalePolicy::deny);
    CHECK_FALSE(d.allow);
    CHECK(d.reason == Reason::cancelled);
    CHECK(toJson(d)["entry"]["card_id"].is_null());
}

TEST_CASE("stale list: policy deny refuses - policy allow decides and flags") {
    ListMeta m = freshList();
    m.expires = kNow - kGrace - 1;
    auto d = decide(card(), {}, m, kNow, kGrace, StalePolicy::deny);
    CHECK_FALSE(d.allow);
    CHECK(d.reason == Reason::list_stale);
    CHECK(d.list->stale);
    d = decide(card(), {}, m, kNow, kGrace, StalePolicy::allow);
    CHECK(d.allow);
    CHECK(d.reason == Reason::ok);
    CHECK(toJson(d)["list"]["stale"] == true);
    // within grace: not stale
    m.expires = kNow - kGrace + 1;
    CHECK(decide(card(), {}, m, kNow, kGrace, StalePolicy::deny).allow);
    // a stale list that names the card still denies with the entry's reason
    m.expires = kNow - kGrace - 1;
    d = decide(card(), {entry(State::frozen)}, m, kNow, kGrace, StalePolicy::allow);
    CHECK(d.reason == Reason::frozen);
}

TEST_CASE("no list: policy deny -> no_list deny - allow -> no_list allow") {
    auto d = decide(card(), {}, std::nullopt, kNow, kGrace, StalePolicy::deny);
    CHECK_FALSE(d.allow);
    CHECK(d.reason == Reason::no_list);
    CHECK(toJson(d)["list"]["version"] == 0);
    CHECK(toJson(d)["list"]["age_s"].is_null());
    CHECK(toJson(d)["list"]["stale"] == true);
    ListMeta empty;
    d = decide(card(), {}, empty, kNow, kGrace, StalePolicy::allow);
    CHECK(d.allow);
    CHECK(d.reason == Reason::no_list);
}

TEST_CASE("card expiry: deny card_expired after the expiry day (UTC+8) - entries come first") {
    CardFacts c = card();
    c.expires_on = "2026-11-24";
    CHECK(decide(c, {}, freshList(), t("2026-11-24T15:59:59Z"), kGrace, StalePolicy::deny).allow);
    auto d = decide(c, {}, freshList(), t("2026-11-24T16:00:00Z"), kGrace, StalePolicy::deny);
    CHECK(d.reason == Reason::card_expired);
    d = decide(c, {entry(State::replaced)}, freshList(), t("2026-11-25T16:00:00Z"), kGrace,
               StalePolicy::deny);
    CHECK(d.reason == Reason::replaced);
    ListMeta m = freshList();
    m.expires = kNow - 10 * kGrace;
    c.expires_on = "2020-10-01";
    CHECK(decide(c, {}, m, kNow, kGrace, StalePolicy::deny).reason == Reason::card_expired);
}

TEST_CASE("identified_by names the fields the list was searched with") {
    CardFacts c = card();
    CHECK(identifiedBy(c) == "card_id+card_number");
    c.card_number.clear();
    CHECK(identifiedBy(c) == "card_id");
    c = card();
    c.card_id.reset();
    CHECK(identifiedBy(c) == "card_number");
    auto j = toJson(decide(card(), {}, freshList(), kNow, kGrace, StalePolicy::deny));
    CHECK(j["identified_by"] == "card_id+card_number");
}

TEST_CASE("an unreadable number never allows silently where number-only entries could match") {
    CardFacts c = card();
    c.card_number.clear();
    DecisionRules deny{kGrace, StalePolicy::deny, UnreadableNumberPolicy::deny};
    DecisionRules allow{kGrace, StalePolicy::deny, UnreadableNumberPolicy::allow};

    SUBCASE("no number-only entries in the region: the card id rules everything out") {
        auto d = decide(c, {}, freshList(), kNow, deny, ListFacts{false});
        CHECK(d.allow);
        CHECK(d.reason == Reason::ok);
        CHECK(d.identified_by == "card_id");
    }
    SUBCASE("such entries exist: deny by default, allow flagged when configured") {
        auto d = decide(c, {}, freshList(), kNow, deny, ListFacts{true});
        CHECK_FALSE(d.allow);
        CHECK(d.reason == Reason::number_unreadable);
        CHECK(toJson(d)["reason"] == "number_unreadable");
        d = decide(c, {}, freshList(), kNow, allow, ListFacts{true});
        CHECK(d.allow);
        CHECK(d.reason == Reason::number_unreadable);
    }
    SUBCASE("a card_id entry that denies still decides first") {
        auto d = decide(c, {entry(State::frozen)}, freshList(), kNow, allow, ListFacts{true});
        CHECK_FALSE(d.allow);
        CHECK(d.reason == Reason::frozen);
    }
    SUBCASE("a readable number is never subject to the rule") {
        auto d = decide(card(), {}, freshList(), kNow, deny, ListFacts{true});
        CHECK(d.allow);
        CHECK(d.reason == Reason::ok);
    }
}
