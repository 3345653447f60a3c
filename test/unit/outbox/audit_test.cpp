#include <doctest/doctest.h>

#include <sqlite3.h>

#include <set>
#include <string>
#include <vector>

#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"
#include "test/unit/outbox/helpers.hpp"

// GCC 12 at -O3 reports a false -Wmaybe-uninitialized inside std::string's short-string buffer for
// a record whose fields are assigned one by one (below); it would fail the Release build with
// warnings as errors.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

using namespace sscard;
using namespace sscard::outbox;
using namespace sscard::outbox::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<AuditLog> openAudit(const std::filesystem::path& db, AuditOptions o = {}) {
    auto r = AuditLog::open(db, o);
    if (!r) FAIL("open: " << r.error().message);
    return std::move(*r);
}

AuditRecord checked(TimePoint at, const std::string& decision = "allow") {
    AuditRecord r;
    r.at = at;
    r.kind = "card.checked";
    r.reader = "Virtual PCD 00 00";
    r.card = CardRef{"330300D15600000599110145FFFFFFFF", "330300", "B7K334774"};
    r.decision = decision;
    r.reason = decision == "allow" ? "ok" : "frozen";
    r.list_version = 42;
    r.list_age_s = 310;
    return r;
}

std::vector<std::int64_t> ids(AuditLog& a) {
    std::vector<std::int64_t> out;
    auto r = a.recent(10'000'000);
    REQUIRE(r);
    for (const auto& e : *r) out.push_back(e.id);
    return out;
}

std::set<std::string> columns(const std::filesystem::path& db, const char* table) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    std::string sql = std::string("SELECT name FROM pragma_table_info('") + table + "')";
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::set<std::string> out;
    while (sqlite3_step(s) == SQLITE_ROW) {
        out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

}  // namespace

TEST_CASE("audit entries round-trip, newest first") {
    TempDir dir;
    auto a = openAudit(dir.db());
    TimePoint t = now();
    AuditRecord first = checked(t - 2s, "deny");
    first.event_id = newUuidV4().value();
    auto id1 = a->record(first);
    REQUIRE(id1);
    AuditRecord second;
    second.kind = "card.removed";
    second.reader = "R2";
    auto id2 = a->record(second);
    REQUIRE(id2);
    CHECK(*id2 > *id1);

    auto r = a->recent(10);
    REQUIRE(r);
    REQUIRE(r->size() == 2);
    CHECK(r->at(0).id == *id2);
    CHECK(r->at(0).record.kind == "card.removed");
    CHECK(r->at(0).record.at != TimePoint{});  // defaulted to now
    CHECK(r->at(0).record.card == CardRef{});
    CHECK_FALSE(r->at(0).record.list_version.has_value());
    CHECK(r->at(1).id == *id1);
    CHECK(r->at(1).record == first);
    CHECK(*a->count() == 2);
    CHECK(a->integrityCheck());
}

TEST_CASE("the audit table has no place for personal data or a PIN") {
    TempDir dir;
    auto a = openAudit(dir.db());
    auto cols = columns(dir.db(), "audit");
    CHECK(cols == std::set<std::string>{"id", "at", "kind", "reader", "card_id", "region",
                                        "card_number", "decision", "reason", "list_version",
                                        "list_age_s", "code", "event_id"});
    for (const auto& c : cols) CHECK_FALSE(isPinLikeKey(c));
}

TEST_CASE("bad kinds are refused, long text is cut") {
    TempDir dir;
    auto a = openAudit(dir.db());
    AuditRecord r = checked(now());
    r.kind = "";
    CHECK_FALSE(a->record(r));
    r.kind = "Card Checked";
    CHECK_FALSE(a->record(r));
    r.kind = "card.checked";
    r.reader = std::string(1000, 'r');
    REQUIRE(a->record(r));
    CHECK(a->recent(1)->front().record.reader.size() == 256);
}

TEST_CASE("retention: entries older than the retention are pruned") {
    TempDir dir;
    AuditOptions o;
    o.retention = 90 * 24h;
    o.prune_every = 1'000'000;  // only explicit pruning here
    auto a = openAudit(dir.db(), o);
    TimePoint t = now();
    for (int i = 0; i < 30; ++i) REQUIRE(a->record(checked(t - (100 * 24h) + i * 1h)));  // old
    for (int i = 0; i < 10; ++i) REQUIRE(a->record(checked(t - (10 * 24h) + i * 1h)));   // recent
    CHECK(*a->count() == 40);
    auto n = a->prune(t);
    REQUIRE(n);
    CHECK(*n == 30);
    CHECK(*a->count() == 10);
    auto left = a->recent(100);
    REQUIRE(left);
    for (const auto& e : *left) CHECK(e.record.at >= t - 90 * 24h);
    CHECK(*a->prune(t) == 0);
}

TEST_CASE("max_entries keeps the newest, in batches") {
    TempDir dir;
    AuditOptions o;
    o.retention = 0ms;  // no age limit
    o.max_entries = 100;
    o.prune_batch = 40;
    o.prune_every = 1'000'000;
    auto a = openAudit(dir.db(), o);
    TimePoint t = now();
    std::vector<std::int64_t> all;
    for (int i = 0; i < 250; ++i) all.push_back(*a->record(checked(t)));

    // One step deletes one batch at most: pruning never holds the database for long.
    CHECK(*a->pruneStep(t) == 40);
    CHECK(*a->count() == 210);
    CHECK(*a->prune(t) == 110);
    CHECK(*a->count() == 100);
    auto kept = ids(*a);
    CHECK(kept.front() == all.back());
    CHECK(kept.back() == all[150]);
}

TEST_CASE("record() prunes a batch every prune_every entries") {
    TempDir dir;
    AuditOptions o;
    o.max_entries = 50;
    o.prune_batch = 20;
    o.prune_every = 10;
    auto a = openAudit(dir.db(), o);
    for (int i = 0; i < 500; ++i) {
        REQUIRE(a->record(checked(now())));
        REQUIRE(*a->count() <= 50 + 10);
    }
}

TEST_CASE("age and count limits together, an old backlog goes first") {
    TempDir dir;
    AuditOptions o;
    o.retention = 24h;
    o.max_entries = 20;
    o.prune_batch = 7;
    o.prune_every = 1'000'000;
    auto a = openAudit(dir.db(), o);
    TimePoint t = now();
    for (int i = 0; i < 15; ++i) REQUIRE(a->record(checked(t - 48h)));
    for (int i = 0; i < 30; ++i) REQUIRE(a->record(checked(t - 1h)));
    CHECK(*a->prune(t) == 25);
    CHECK(*a->count() == 20);
    auto left = a->recent(100);
    REQUIRE(left);
    for (const auto& e : *left) CHECK(e.record.at == t - 1h);
}

TEST_CASE("the audit log and the outbox share one file") {
    TempDir dir;
    auto a = openAudit(dir.db());
    auto ob = Outbox::open(dir.db(), {});
    REQUIRE(ob);
    auto id = (*ob)->enqueue("card.checked", CardRef{"", "330300", "B7K334774"});
    REQUIRE(id);
    AuditRecord r = checked(now());
    r.event_id = *id;
    REQUIRE(a->record(r));
    CHECK(*(*ob)->count() == 1);
    CHECK(*a->count() == 1);
    CHECK(a->recent(1)->front().record.event_id == *id);
    CHECK((*ob)->integrityCheck());
    a.reset();
    auto again = openAudit(dir.db());
    CHECK(*again->count() == 1);
}

TEST_CASE("audit options from the configuration") {
    AuditConfig c;
    c.retention = 7 * 24h;
    c.max_entries = 1234;
    AuditOptions o = auditOptions(c);
    CHECK(o.retention == 7 * 24h);
    CHECK(o.max_entries == 1234);
    CHECK_FALSE(o.durable);
}

TEST_CASE("AuditClock: a wall clock set forward does not run ahead - set back, it is followed") {
    TimePoint wall = now();
    std::chrono::milliseconds boot{1'000'000};
    AuditClock clock([&] { return wall; }, [&] { return boot; });
    TimePoint start = wall;
    CHECK(clock.now() == start);
    boot += 1h;
    wall += 1h;
    CHECK(clock.now() == start + 1h);
    wall += 24h * 3650;  // someone set the clock ten years ahead
    CHECK(clock.now() == start + 1h);
    boot += 2h;
    CHECK(clock.now() == start + 3h);
    wall = start - 24h;  // set back: prune less, never more
    CHECK(clock.now() == start - 24h);
}

TEST_CASE("pruning by the AuditClock keeps the log when the wall clock jumps ahead") {
    TempDir dir;
    TimePoint wall = now();
    std::chrono::milliseconds boot{5'000};
    auto clock = std::make_shared<AuditClock>([&] { return wall; }, [&] { return boot; });
    AuditOptions o;
    o.retention = 90 * 24h;
    o.prune_every = 1;  // record() prunes too, by the same clock
    o.clock = clock;
    auto a = openAudit(dir.db(), o);
    for (int i = 0; i < 20; ++i) REQUIRE(a->record(checked(wall - 24h + i * 1min)));
    wall += 24h * 365;  // the wall clock jumps a year ahead
    boot += 1h;
    REQUIRE(a->record(checked(wall)));  // an entry stamped by the wrong clock ("the future")
    auto pruned = a->prune(clock->now());
    REQUIRE(pruned);
    CHECK(*pruned == 0);
    CHECK(*a->count() == 21);
    // By the wall clock alone, every entry of the last day would have gone.
    CHECK(*a->prune(wall) == 20);
    CHECK(*a->count() == 1);
}
