#include <doctest/doctest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/random.hpp"
#include "daemon/outbox/outbox.hpp"
#include "test/unit/outbox/helpers.hpp"

using namespace sscard;
using namespace sscard::outbox;
using namespace sscard::outbox::test;
using nlohmann::json;

namespace {

const CardRef kCard{"330300D15600000599110145FFFFFFFF", "330300", "B7K334774"};

std::unique_ptr<Outbox> openOutbox(const std::filesystem::path& db,
                                   const std::string& terminal = "kiosk-7") {
    OutboxOptions o;
    o.terminal_id = terminal;
    auto r = Outbox::open(db, o);
    if (!r) FAIL("open: " << r.error().message);
    return std::move(*r);
}

std::string enqueueOk(Outbox& o, std::string_view type, const json& extra = nullptr) {
    auto r = o.enqueue(type, kCard, extra);
    if (!r) FAIL("enqueue: " << r.error().message);
    return *r;
}

std::vector<std::string> pendingIds(Outbox& o) {
    auto p = o.pending(1'000'000);
    REQUIRE(p);
    std::vector<std::string> ids;
    for (const auto& e : *p) ids.push_back(e.event_id);
    return ids;
}

// Reads the outbox table with a plain SQLite connection (what a technician would see).
std::vector<std::string> rawIds(const std::filesystem::path& db) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, "SELECT event_id FROM outbox ORDER BY seq", -1, &s, nullptr) ==
            SQLITE_OK);
    std::vector<std::string> ids;
    while (sqlite3_step(s) == SQLITE_ROW) {
        ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return ids;
}

}  // namespace

TEST_CASE("UUID v4 event ids: format, version and variant, no repeats") {
    static const std::regex kUuid(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {
        auto made = newUuidV4();
        REQUIRE(made);
        std::string id = *made;
        CHECK(std::regex_match(id, kUuid));
        seen.insert(id);
    }
    CHECK(seen.size() == 2000);
}

TEST_CASE("a failing random source: no event id, and enqueue stores nothing") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    crypto::setRandomSourceForTesting([](std::uint8_t*, std::size_t) { return false; });
    auto id = newUuidV4();
    auto stored = o->enqueue("card.activated", CardRef{}, nullptr);
    crypto::setRandomSourceForTesting({});
    REQUIRE_FALSE(id);
    CHECK(id.error().code == ErrorCode::internal);
    REQUIRE_FALSE(stored);
    CHECK(stored.error().message.find("random") != std::string::npos);
    auto n = o->count();
    REQUIRE(n);
    CHECK(*n == 0);
}

TEST_CASE("RFC 3339 UTC with milliseconds") {
    using std::chrono::milliseconds;
    CHECK(rfc3339(TimePoint(milliseconds(0))) == "1970-01-01T00:00:00.000Z");
    CHECK(rfc3339(TimePoint(milliseconds(1'795'952'756'123))) == "2026-11-29T11:45:56.123Z");
    CHECK(rfc3339(TimePoint(milliseconds(-1))) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("an event is the contract's JSON") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    std::string id =
        enqueueOk(*o, "card.activated", json{{"reader", "R1"}, {"pin_source", "pinpad"}});
    auto p = o->pending(10);
    REQUIRE(p);
    REQUIRE(p->size() == 1);
    const PendingEvent& e = p->front();
    CHECK(e.event_id == id);
    CHECK(e.type == "card.activated");
    CHECK(e.attempts == 0);
    CHECK(e.next_attempt_at == TimePoint{});
    CHECK(e.last_error.empty());

    json body = json::parse(e.body);
    CHECK(body["event_id"] == id);
    CHECK(body["type"] == "card.activated");
    CHECK(body["terminal_id"] == "kiosk-7");
    CHECK(body["card"] == json{{"card_id", kCard.card_id},
                               {"region", kCard.region},
                               {"card_number", kCard.card_number}});
    CHECK(body["reader"] == "R1");
    CHECK(body["pin_source"] == "pinpad");
    CHECK(std::regex_match(body["at"].get<std::string>(),
                           std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)")));
    CHECK(body["at"] == rfc3339(e.created_at));
    CHECK(body.size() == 7);
    // The stored body starts with the contract's fields, in the contract's order.
    CHECK(e.body.rfind("{\"event_id\":\"" + id + "\",\"type\":", 0) == 0);
}

TEST_CASE("empty card fields and an empty terminal id are null") {
    TempDir dir;
    auto o = openOutbox(dir.db(), "");
    auto r = o->enqueue("card.checked", CardRef{"", "330300", "B7K334774"});
    REQUIRE(r);
    json body = json::parse(o->pending(1)->front().body);
    CHECK(body["terminal_id"].is_null());
    CHECK(body["card"]["card_id"].is_null());
    CHECK(body["card"]["region"] == "330300");
}

TEST_CASE("pending is oldest first, markDelivered deletes, markAttemptFailed records") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(enqueueOk(*o, "card.checked", json{{"i", i}}));
    CHECK(pendingIds(*o) == ids);
    CHECK(*o->count() == 5);

    auto limited = o->pending(2);
    REQUIRE(limited);
    REQUIRE(limited->size() == 2);
    CHECK(limited->at(0).event_id == ids[0]);
    CHECK(limited->at(1).event_id == ids[1]);
    CHECK(limited->at(0).seq < limited->at(1).seq);

    CHECK(*o->markDelivered(ids[1]) == true);
    CHECK(*o->markDelivered(ids[1]) == false);  // already gone
    CHECK(*o->markDelivered("no-such-event") == false);
    CHECK(pendingIds(*o) == std::vector<std::string>{ids[0], ids[2], ids[3], ids[4]});

    TimePoint later = now() + std::chrono::minutes(5);
    CHECK(*o->markAttemptFailed(ids[0], "HTTP 503: busy", later) == true);
    CHECK(*o->markAttemptFailed(ids[0], std::string(2000, 'x'), later) == true);
    CHECK(*o->markAttemptFailed("no-such-event", "x", later) == false);
    auto head = o->pending(1)->front();
    CHECK(head.event_id == ids[0]);  // still first: order is enqueue order, not retry time
    CHECK(head.attempts == 2);
    CHECK(head.last_error.size() == 503);  // cut to 500 bytes + "..."
    CHECK(head.next_attempt_at == later);

    // due(): the failed event waits, the others are due now, in order.
    auto due = o->due(now(), 10);
    REQUIRE(due);
    REQUIRE(due->size() == 3);
    CHECK(due->at(0).event_id == ids[2]);
    CHECK(due->at(2).event_id == ids[4]);
    CHECK(o->due(later, 10)->size() == 4);
    CHECK(**o->nextAttemptAt() == TimePoint{});

    for (const auto& id : {ids[2], ids[3], ids[4]}) CHECK(*o->markDelivered(id));
    CHECK(**o->nextAttemptAt() == later);
    CHECK(*o->markDelivered(ids[0]));
    CHECK(*o->count() == 0);
    CHECK_FALSE(o->nextAttemptAt()->has_value());
}

TEST_CASE("events survive closing and reopening the database") {
    TempDir dir;
    std::vector<std::string> ids;
    {
        auto o = openOutbox(dir.db());
        for (int i = 0; i < 20; ++i) ids.push_back(enqueueOk(*o, "card.checked"));
        CHECK(*o->markAttemptFailed(ids[3], "connection refused", now()));
    }
    auto o = openOutbox(dir.db());
    CHECK(pendingIds(*o) == ids);
    CHECK(o->pending(10)->at(3).attempts == 1);
    CHECK(o->integrityCheck());
    CHECK(rawIds(dir.db()) == ids);
}

TEST_CASE("the outbox runs WAL with synchronous=FULL, durable=false is NORMAL") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    auto m = o->storageMode();
    REQUIRE(m);
    CHECK(m->first == "wal");
    CHECK(m->second == 2);

    OutboxOptions opt;
    opt.durable = false;
    auto fast = Outbox::open(dir.path / "bench.db", opt);
    REQUIRE(fast);
    CHECK((*fast)->storageMode()->second == 1);
}

TEST_CASE("isPinLikeKey") {
    for (const char* k : {"pin", "PIN", "old_pin", "new_pin", "initial_pin", "newPin", "oldpin",
                          "new-pin", "Initial PIN", "holder_pin", "pin_block", "PinBlock", "puk",
                          "new_puk", "pin_code", "pincode"}) {
        CAPTURE(k);
        CHECK(isPinLikeKey(k));
    }
    for (const char* k : {"pin_source", "pin_tries", "tries_left", "reader", "card", "decision",
                          "pinpad", "spinner", "", "type"}) {
        CAPTURE(k);
        CHECK_FALSE(isPinLikeKey(k));
    }
}

TEST_CASE("a PIN is never stored: PIN-like fields are refused at any depth") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    const json refused[] = {
        json{{"pin", "123456"}},
        json{{"old_pin", "123456"}},
        json{{"new_pin", "802413"}},
        json{{"initial_pin", "123456"}},
        json{{"reader", "R1"}, {"flow", {{"newPin", "802413"}}}},
        json{{"steps", json::array({json{{"ok", true}}, json{{"PIN", "1"}}})}},
    };
    for (const json& extra : refused) {
        CAPTURE(extra.dump());
        auto r = o->enqueue("card.activated", kCard, extra);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::internal);
        CHECK(r.error().message.find("PIN") != std::string::npos);
        // The message names the field, never its value.
        CHECK(r.error().message.find("123456") == std::string::npos);
        CHECK(r.error().message.find("802413") == std::string::npos);
    }
    CHECK(*o->count() == 0);
}

TEST_CASE("other bad events are refused and store nothing") {
    TempDir dir;
    auto o = openOutbox(dir.db());
    CHECK_FALSE(o->enqueue("", kCard));
    CHECK_FALSE(o->enqueue("Card.Activated", kCard));
    CHECK_FALSE(o->enqueue("card activated", kCard));
    CHECK_FALSE(o->enqueue(std::string(65, 'a'), kCard));
    CHECK_FALSE(o->enqueue("card.activated", kCard, json::array({1, 2})));
    CHECK_FALSE(o->enqueue("card.activated", kCard, json("text")));
    for (const char* reserved : {"event_id", "type", "at", "terminal_id", "card"}) {
        CAPTURE(reserved);
        CHECK_FALSE(o->enqueue("card.activated", kCard, json{{reserved, "x"}}));
    }
    CHECK_FALSE(o->enqueue("card.activated", kCard, json{{"blob", std::string(70'000, 'x')}}));
    CHECK(*o->count() == 0);
    // Invalid UTF-8 from a card does not throw: it is replaced.
    auto r = o->enqueue("card.checked", CardRef{"", "33\xff", "B7K"});
    REQUIRE(r);
    CHECK(json::parse(o->pending(1)->front().body)["card"]["region"] == "33\xEF\xBF\xBD");
}

TEST_CASE("concurrent enqueues from threads and a second connection lose nothing") {
    TempDir dir;
    auto a = openOutbox(dir.db());
    auto b = openOutbox(dir.db());
    std::atomic<int> wakes{0};
    a->setEnqueueListener([&wakes] { ++wakes; });
    std::vector<std::vector<std::string>> got(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            Outbox& o = t % 2 == 0 ? *a : *b;
            for (int i = 0; i < 25; ++i) {
                auto r = o.enqueue("card.checked", kCard, json{{"t", t}, {"i", i}});
                if (r) got[static_cast<std::size_t>(t)].push_back(*r);
            }
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> all;
    for (const auto& g : got) {
        CHECK(g.size() == 25);
        all.insert(g.begin(), g.end());
    }
    CHECK(all.size() == 100);
    auto ids = pendingIds(*a);
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == all);
    CHECK(wakes == 50);  // the listener of `a` only, once per enqueue through `a`
    a->setEnqueueListener(nullptr);
    enqueueOk(*a, "card.checked");
    CHECK(wakes == 50);
}

TEST_CASE("a killed process leaves every returned enqueue on disk and the file intact") {
    // Kills a writer at different points of its loop. (SIGKILL, not a power cut: a power cut is
    // what synchronous=FULL is for, and cannot be simulated here.)
    for (int killAfter : {1, 7, 40, 120}) {
        CAPTURE(killAfter);
        TempDir dir;
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            OutboxOptions opt;
            opt.terminal_id = "crash";
            auto o = Outbox::open(dir.db(), opt);
            if (!o) ::_exit(3);
            for (int i = 0;; ++i) {
                auto r = (*o)->enqueue("card.checked", kCard, json{{"i", i}});
                if (!r) ::_exit(4);
                std::string line = *r + "\n";
                if (::write(fds[1], line.data(), line.size()) !=
                    static_cast<ssize_t>(line.size())) {
                    ::_exit(5);
                }
            }
        }
        ::close(fds[1]);
        std::vector<std::string> returned;
        std::string buf;
        bool killed = false;
        char chunk[4096];
        for (;;) {
            ssize_t n = ::read(fds[0], chunk, sizeof chunk);
            if (n <= 0) break;
            buf.append(chunk, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = buf.find('\n')) != std::string::npos) {
                returned.push_back(buf.substr(0, nl));
                buf.erase(0, nl + 1);
            }
            if (!killed && static_cast<int>(returned.size()) >= killAfter) {
                ::kill(pid, SIGKILL);
                killed = true;
            }
        }
        ::close(fds[0]);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);
        REQUIRE(static_cast<int>(returned.size()) >= killAfter);

        auto o = openOutbox(dir.db());
        CHECK(o->integrityCheck());
        auto ids = pendingIds(*o);
        // Every enqueue that returned is there, in order; at most one more (committed, killed
        // before it reached the pipe).
        REQUIRE(ids.size() >= returned.size());
        CHECK(ids.size() <= returned.size() + 1);
        CHECK(std::equal(returned.begin(), returned.end(), ids.begin()));
        auto all = o->pending(1'000'000);
        REQUIRE(all);
        for (const auto& e : *all) {
            CHECK(json::accept(e.body));
        }
    }
}

TEST_CASE("a process that exits without closing leaves every event") {
    TempDir dir;
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto o = Outbox::open(dir.db(), {});
        if (!o) ::_exit(3);
        for (int i = 0; i < 50; ++i) {
            if (!(*o)->enqueue("card.checked", kCard)) ::_exit(4);
        }
        ::_exit(0);  // no destructors, no checkpoint
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    auto o = openOutbox(dir.db());
    CHECK(o->integrityCheck());
    CHECK(*o->count() == 50);
}

TEST_CASE("open fails cleanly on an unusable path") {
    auto r = Outbox::open("/nonexistent-dir-sscard/outbox.db");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::internal);
    CHECK(r.error().message.find("/nonexistent-dir-sscard/outbox.db") != std::string::npos);
}

TEST_CASE("a file that is not a database is an error, not a crash") {
    TempDir dir;
    {
        std::ofstream f(dir.db(), std::ios::binary);
        f << std::string(8192, 'x');
    }
    auto r = Outbox::open(dir.db());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::internal);
    CHECK(r.error().message.find("not a database") != std::string::npos);
}

TEST_CASE("max_events: card.checked dropped oldest first - other events kept beyond the bound") {
    TempDir dir;
    OutboxOptions o;
    o.max_events = 5;
    auto box = Outbox::open(dir.db(), o);
    REQUIRE(box);
    Outbox& b = **box;
    std::vector<std::string> checks;
    for (int i = 0; i < 8; ++i) checks.push_back(enqueueOk(b, "card.checked"));
    CHECK(*b.count() == 5);
    CHECK(b.boundStats().dropped == 3);
    auto left = b.pending(10);
    REQUIRE(left);
    REQUIRE(left->size() == 5);
    CHECK(left->front().event_id == checks[3]);  // the three oldest went
    CHECK(left->back().event_id == checks[7]);

    // A PIN event is never dropped: stored beyond the bound, and counted.
    std::string pin = enqueueOk(b, "pin.changed");
    CHECK(*b.count() == 6);
    CHECK(b.boundStats().over_bound == 1);
    // The next check makes room again from the checks, never from the PIN event.
    enqueueOk(b, "card.checked");
    CHECK(*b.count() == 5);
    CHECK(b.boundStats().dropped == 5);
    REQUIRE(b.markDelivered(pin));
    CHECK(*b.count() == 4);
}

TEST_CASE("max_events: with nothing left to drop, a check is not stored and is counted") {
    TempDir dir;
    OutboxOptions o;
    o.max_events = 2;
    auto box = Outbox::open(dir.db(), o);
    REQUIRE(box);
    Outbox& b = **box;
    enqueueOk(b, "card.activated");
    enqueueOk(b, "pin.changed");
    auto refused = b.enqueue("card.checked", kCard, json{{"reader", "r"}});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::busy);
    CHECK(*b.count() == 2);
    CHECK(b.boundStats().dropped == 1);
    CHECK(b.boundStats().max_events == 2);
}
