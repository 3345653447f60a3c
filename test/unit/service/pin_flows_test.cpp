// The PIN flows' rules (daemon/service/pin_flows.hpp) on a fake card (fake_ssse_card.hpp) with a
// real outbox and audit log in SQLite: the attempt limit, old_card, the list check, the new-PIN
// policy before any PIN command, pin_state, and resume after an "unknown" outcome.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/pin_attempts.hpp"
#include "daemon/service/pin_flows.hpp"
#include "test/unit/service/fake_ssse_card.hpp"

using namespace sscard;
using namespace sscard::daemon;
using sscard::test::FakeCardState;
using sscard::test::FakeReaderProvider;

namespace {

ssse::SecretPin pin(std::string_view digits) {
    auto p = ssse::SecretPin::fromDigits(digits);
    REQUIRE(p.has_value());
    return std::move(*p);
}

struct Bench {
    std::filesystem::path dir;
    Config config = defaultConfig();
    std::shared_ptr<FakeCardState> card = std::make_shared<FakeCardState>();
    std::unique_ptr<CardDesk> desk;
    ssse::ReadStrategyCache strategy;
    std::unique_ptr<ListAccess> list;
    std::unique_ptr<outbox::Outbox> box;
    std::unique_ptr<outbox::AuditLog> audit;
    std::unique_ptr<outbox::UnknownActivations> unknown;
    std::unique_ptr<EventRecorder> events;
    std::unique_ptr<PinAttemptLimiter> attempts;
    std::unique_ptr<PinFlows> flows;

    // With no list file, stale_policy "allow" lets every card through; "deny" refuses all.
    explicit Bench(StalePolicy policy = StalePolicy::allow, int busyTimeoutMs = 5000) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sscard-flows-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
        config.list.stale_policy = policy;
        ReaderDirectory readers;
        readers.add(std::make_unique<FakeReaderProvider>(card));
        desk = std::make_unique<CardDesk>(std::move(readers), CardDeskOptions{});
        list = std::make_unique<ListAccess>(dir / "list.db");
        auto b = outbox::Outbox::open(dir / "outbox.db", {"T1", busyTimeoutMs});
        REQUIRE(b.has_value());
        box = std::move(*b);
        auto a = outbox::AuditLog::open(dir / "outbox.db", {});
        REQUIRE(a.has_value());
        audit = std::move(*a);
        auto u = outbox::UnknownActivations::open(dir / "outbox.db");
        REQUIRE(u.has_value());
        unknown = std::move(*u);
        events = std::make_unique<EventRecorder>(box.get(), audit.get());
        attempts = std::make_unique<PinAttemptLimiter>(config.pin.attempts_per_minute);
        flows = std::make_unique<PinFlows>(config, *desk, strategy, *list, *events, *attempts,
                                           unknown.get());
    }
    ~Bench() {
        events->stop();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    ActivationRequest activation(std::string_view initial, std::string_view chosen) {
        ActivationRequest r;
        r.initialPin = pin(initial);
        r.newPin = pin(chosen);
        return r;
    }
    std::int64_t queued() {
        auto n = box->count();
        REQUIRE(n.has_value());
        return *n;
    }
    std::vector<outbox::AuditEntry> audited() {
        events->stop();  // flush the writer
        auto entries = audit->recent(100);
        REQUIRE(entries.has_value());
        return *entries;
    }
};

}  // namespace

TEST_CASE("attempt limiter: N attempts per reader in a minute, then none until the window moves") {
    auto now = PinAttemptLimiter::Clock::now();
    PinAttemptLimiter limiter(3, [&] { return now; });
    CHECK(limiter.tryAttempt("A"));
    CHECK(limiter.tryAttempt("A"));
    CHECK(limiter.tryAttempt("A"));
    CHECK_FALSE(limiter.tryAttempt("A"));
    CHECK(limiter.tryAttempt("B"));  // per reader
    now += std::chrono::seconds(59);
    CHECK_FALSE(limiter.tryAttempt("A"));
    now += std::chrono::seconds(2);
    CHECK(limiter.tryAttempt("A"));
}

TEST_CASE("verify: a wrong PIN is ok=false with tries left, and the attempt limit gives busy") {
    Bench bench;
    VerifyRequest wrong;
    wrong.pin = pin("000000");
    auto first = bench.flows->verify(wrong);
    REQUIRE(first.has_value());
    CHECK_FALSE(first->ok);
    CHECK(first->triesLeft == 2);
    VerifyRequest right;
    right.pin = pin("123456");
    auto second = bench.flows->verify(right);
    REQUIRE(second.has_value());
    CHECK(second->ok);
    CHECK(second->triesLeft == 3);
    for (int i = 2; i < bench.config.pin.attempts_per_minute; ++i)
        REQUIRE(bench.flows->verify(right).has_value());
    int verifiesBefore = bench.card->countSent(0x20);
    auto limited = bench.flows->verify(right);
    REQUIRE_FALSE(limited.has_value());
    CHECK(limited.error().code == ErrorCode::busy);
    CHECK(bench.card->countSent(0x20) == verifiesBefore);  // the card never saw it
}

TEST_CASE("verify and change end their transaction with a card reset: no verified state is left") {
    Bench bench;
    VerifyRequest verify;
    verify.pin = pin("123456");
    REQUIRE(bench.flows->verify(verify).has_value());
    CHECK(bench.card->resets == 1);
    ChangeRequest change;
    change.oldPin = pin("123456");
    change.newPin = pin("240817");
    REQUIRE(bench.flows->change(change).has_value());
    CHECK(bench.card->resets == 2);
}

TEST_CASE("change: a weak new PIN is refused before the card is touched, PIN unchanged") {
    Bench bench;
    ChangeRequest r;
    r.oldPin = pin("123456");
    r.newPin = pin("111111");
    auto result = bench.flows->change(r);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::pin_weak);
    CHECK(result.error().pin_state == "unchanged");
    CHECK(bench.card->sent.empty());
    CHECK(bench.card->pin == "123456");
}

TEST_CASE("change: success stores one pin.changed event and says changed") {
    Bench bench;
    ChangeRequest r;
    r.oldPin = pin("123456");
    r.newPin = pin("240817");
    auto result = bench.flows->change(r);
    REQUIRE(result.has_value());
    CHECK_FALSE(result->eventId.empty());
    CHECK(bench.card->pin == "240817");
    CHECK(bench.queued() == 1);
}

TEST_CASE("change: an event that cannot be stored fails the call, saying the PIN changed") {
    Bench bench(StalePolicy::allow, 100);
    // Another connection holds the outbox's write lock: the INSERT of pin.changed fails.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((bench.dir / "outbox.db").c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    ChangeRequest r;
    r.oldPin = pin("123456");
    r.newPin = pin("240817");
    auto result = bench.flows->change(r);
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::internal);
    CHECK(result.error().pin_state == "changed");
    CHECK(result.error().message.find("pin.changed event could not be stored") !=
          std::string::npos);
    CHECK(bench.card->pin == "240817");  // the card did change
    CHECK(bench.queued() == 0);
}

TEST_CASE("activate: old_card naming this very card is a usage error, nothing sent to the PIN") {
    Bench bench;
    auto r = bench.activation("123456", "240817");
    r.oldCard = {{"card_id", bench.card->cardId}};
    auto result = bench.flows->activate(r);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::usage);
    CHECK(result.error().pin_state == "unchanged");
    CHECK(bench.card->countSent(0x20) == 0);
    CHECK(bench.card->countSent(0x5E) == 0);
}

TEST_CASE("activate: a card the list refuses is card_denied and audited, no PIN command sent") {
    Bench bench(StalePolicy::deny);  // no list + deny: every card refused
    auto result = bench.flows->activate(bench.activation("123456", "240817"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::card_denied);
    CHECK(result.error().pin_state == "unchanged");
    CHECK(bench.card->countSent(0x20) == 0);
    CHECK(bench.card->countSent(0x5E) == 0);
    auto rows = bench.audited();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].record.kind == "card.activate_refused");
    CHECK(rows[0].record.code == "card_denied");
    CHECK(bench.queued() == 0);
}

TEST_CASE("activate: the holder's birth date is a weak PIN (EF06 readable), before any try") {
    Bench bench;
    auto result = bench.flows->activate(bench.activation("123456", "810101"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::pin_weak);
    CHECK(bench.card->countSent(0x20) == 0);
    CHECK(bench.card->triesLeft == 3);
}

TEST_CASE(
    "activate: weak PINs count against the attempt limit, so the birth date is no free oracle") {
    Bench bench;
    for (int i = 0; i < bench.config.pin.attempts_per_minute; ++i) {
        auto weak = bench.flows->activate(bench.activation("123456", "810101"));
        REQUIRE_FALSE(weak.has_value());
        CHECK(weak.error().code == ErrorCode::pin_weak);
    }
    auto limited = bench.flows->activate(bench.activation("123456", "240817"));
    REQUIRE_FALSE(limited.has_value());
    CHECK(limited.error().code == ErrorCode::busy);
    CHECK(limited.error().pin_state == "unchanged");
    CHECK(bench.card->countSent(0x20) == 0);
    CHECK(bench.card->pin == "123456");
}

TEST_CASE("activate: pin_weak names the rule only to a caller with the personal-data right") {
    Bench bench;
    auto birthDate = bench.activation("123456", "810101");
    auto repeated = bench.activation("123456", "777777");
    auto hiddenBirth = bench.flows->activate(birthDate);
    auto hiddenRepeated = bench.flows->activate(repeated);
    REQUIRE_FALSE(hiddenBirth.has_value());
    REQUIRE_FALSE(hiddenRepeated.has_value());
    CHECK(hiddenBirth.error().code == ErrorCode::pin_weak);
    CHECK(hiddenBirth.error().pin_state == "unchanged");
    CHECK(hiddenBirth.error().message == hiddenRepeated.error().message);
    CHECK(hiddenBirth.error().message.find("(birth_date)") == std::string::npos);

    birthDate.personalData = true;
    auto named = bench.flows->activate(birthDate);
    REQUIRE_FALSE(named.has_value());
    CHECK(named.error().code == ErrorCode::pin_weak);
    CHECK(named.error().message.find("(birth_date)") != std::string::npos);
}

TEST_CASE("activate: a wrong initial PIN is pin_wrong, unchanged, and counts on the card") {
    Bench bench;
    auto result = bench.flows->activate(bench.activation("654320", "240817"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::pin_wrong);
    CHECK(result.error().tries_left == 2);
    CHECK(result.error().pin_state == "unchanged");
    CHECK(bench.card->pin == "123456");
    CHECK(bench.queued() == 0);
}

TEST_CASE("activate: success changes the PIN and queues card.activated with old_card") {
    Bench bench;
    auto r = bench.activation("123456", "240817");
    r.oldCard = {{"region", "330300"}, {"card_number", "A00000019"}};
    auto result = bench.flows->activate(r);
    REQUIRE(result.has_value());
    CHECK(bench.card->pin == "240817");
    CHECK_FALSE(result->resumed);
    CHECK(result->card.card_id == bench.card->cardId);
    auto pending = bench.box->pending(10);
    REQUIRE(pending.has_value());
    REQUIRE(pending->size() == 1);
    auto body = nlohmann::json::parse((*pending)[0].body);
    CHECK(body["type"] == "card.activated");
    CHECK(body["old_card"]["card_number"] == "A00000019");
    CHECK(body["event_id"] == result->eventId);
}

TEST_CASE("activate: the card leaving during CHANGE PIN is unknown, and resume completes it once") {
    Bench bench;
    bench.card->vanishDuringChangePin = true;
    auto result = bench.flows->activate(bench.activation("123456", "240817"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().pin_state == "unknown");
    CHECK(bench.queued() == 0);

    // Back in the reader: a resume with a PIN the card does not hold is pin_wrong.
    bench.card->present = true;
    bench.card->vanishDuringChangePin = false;
    ActivationRequest wrong;
    wrong.resume = true;
    wrong.newPin = pin("135790");
    auto refused = bench.flows->activate(wrong);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == ErrorCode::pin_wrong);
    CHECK(bench.queued() == 0);

    ActivationRequest resume;
    resume.resume = true;
    resume.newPin = pin("240817");
    auto resumed = bench.flows->activate(resume);
    REQUIRE(resumed.has_value());
    CHECK(resumed->resumed);
    CHECK(bench.queued() == 1);

    // Done: a second resume would forge a second card.activated.
    auto again = bench.flows->activate(resume);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == ErrorCode::not_allowed);
    CHECK(bench.queued() == 1);
}

TEST_CASE("resume: a card whose activation never ended unknown is not_allowed, no PIN sent") {
    Bench bench;
    bench.card->pin = "240817";  // the caller knows the PIN: not enough
    ActivationRequest forged;
    forged.resume = true;
    forged.newPin = pin("240817");
    forged.oldCard = {{"region", "330300"}, {"card_number", "A00000019"}};
    auto result = bench.flows->activate(forged);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::not_allowed);
    CHECK(result.error().pin_state == "unchanged");
    CHECK(bench.card->countSent(0x20) == 0);
    CHECK(bench.queued() == 0);
    auto rows = bench.audited();
    REQUIRE_FALSE(rows.empty());
    CHECK(rows[0].record.kind == "card.activate_refused");
    CHECK(rows[0].record.code == "not_allowed");
}

TEST_CASE("resume: only with the old_card the unknown activation had, which the event carries") {
    Bench bench;
    bench.card->vanishDuringChangePin = true;
    auto start = bench.activation("123456", "240817");
    start.oldCard = {{"region", "330300"}, {"card_number", "A00000019"}};
    auto unknown = bench.flows->activate(start);
    REQUIRE_FALSE(unknown.has_value());
    REQUIRE(unknown.error().pin_state == "unknown");
    bench.card->present = true;
    bench.card->vanishDuringChangePin = false;

    ActivationRequest resume;
    resume.resume = true;
    resume.newPin = pin("240817");
    resume.oldCard = {{"card_id", "330300D15600000599110145FFFFFFF0"}};
    auto other = bench.flows->activate(resume);
    REQUIRE_FALSE(other.has_value());
    CHECK(other.error().code == ErrorCode::usage);
    resume.oldCard = nullptr;
    auto none = bench.flows->activate(resume);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == ErrorCode::usage);
    CHECK(bench.card->countSent(0x20) == 1);  // only the first activation's VERIFY
    CHECK(bench.queued() == 0);

    resume.oldCard = {{"card_number", "A00000019"}, {"region", "330300"}};
    auto resumed = bench.flows->activate(resume);
    REQUIRE(resumed.has_value());
    auto pending = bench.box->pending(10);
    REQUIRE(pending.has_value());
    REQUIRE(pending->size() == 1);
    auto body = nlohmann::json::parse((*pending)[0].body);
    CHECK(body["old_card"]["card_number"] == "A00000019");
    CHECK(body["resumed"] == true);
}

TEST_CASE(
    "unknown activations: kept for the keep period, then no longer found, and forget drops one") {
    Bench bench;
    auto store = outbox::UnknownActivations::open(bench.dir / "unknown.db", std::chrono::hours(1));
    REQUIRE(store.has_value());
    auto& unknown = **store;
    const outbox::TimePoint t0 = outbox::now();
    REQUIRE(unknown.record({"id:A", "{\"card_id\":\"B\"}", t0}).has_value());
    REQUIRE(unknown.record({"id:C", "", t0}).has_value());
    auto found = unknown.find("id:A", t0 + std::chrono::minutes(59));
    REQUIRE(found.has_value());
    REQUIRE(found->has_value());
    CHECK((*found)->old_card == "{\"card_id\":\"B\"}");
    auto expired = unknown.find("id:A", t0 + std::chrono::minutes(61));
    REQUIRE(expired.has_value());
    CHECK_FALSE(expired->has_value());
    REQUIRE(unknown.forget("id:C").has_value());
    auto forgotten = unknown.find("id:C", t0);
    REQUIRE(forgotten.has_value());
    CHECK_FALSE(forgotten->has_value());
}
