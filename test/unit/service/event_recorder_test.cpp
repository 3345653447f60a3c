// The event recorder's bounds: no backend, no queue; a full writer queue drops and counts.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"
#include "daemon/service/event_recorder.hpp"

using namespace sscard;
using namespace sscard::daemon;

namespace {

struct Scratch {
    std::filesystem::path dir;
    Scratch() {
        std::string tmpl = "/tmp/sscard-events-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
    }
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

ssse::CardInfo someCard() {
    ssse::CardInfo c;
    c.card_id = "330300D15600000599110145FFFFFFFF";
    c.region = "330300";
    c.card_number = "B7K334774";
    return c;
}

}  // namespace

TEST_CASE("without a backend nothing is queued - events are audited with an event_id") {
    Scratch s;
    auto box = outbox::Outbox::open(s.dir / "outbox.db");
    REQUIRE(box);
    auto audit = outbox::AuditLog::open(s.dir / "outbox.db");
    REQUIRE(audit);
    {
        EventRecorder events(nullptr, audit->get());  // no backend
        blacklist::Decision d;
        d.allow = true;
        for (int i = 0; i < 50; ++i) events.decision("Reader 0", someCard(), d);
        auto id = events.backendEvent("pin.changed", "Reader 0", someCard(), nullptr);
        REQUIRE(id);
        CHECK(id->size() == 36);
        events.stop();
    }
    CHECK(*(*box)->count() == 0);
    CHECK(*(*audit)->count() == 51);
    auto recent = (*audit)->recent(1);
    REQUIRE(recent);
    CHECK(recent->front().record.kind == "pin.changed");
    CHECK(recent->front().record.event_id.size() == 36);
}

TEST_CASE("with a backend, checks are queued in the outbox") {
    Scratch s;
    auto box = outbox::Outbox::open(s.dir / "outbox.db");
    REQUIRE(box);
    auto audit = outbox::AuditLog::open(s.dir / "outbox.db");
    REQUIRE(audit);
    {
        EventRecorder events(box->get(), audit->get());
        blacklist::Decision d;
        d.allow = true;
        for (int i = 0; i < 5; ++i) events.decision("Reader 0", someCard(), d);
        events.stop();
    }
    CHECK(*(*box)->count() == 5);
}

TEST_CASE("a full writer queue drops writes and counts them") {
    Scratch s;
    auto audit = outbox::AuditLog::open(s.dir / "outbox.db");
    REQUIRE(audit);
    EventRecorder events(nullptr, audit->get(), 4);
    for (int i = 0; i < 5000; ++i) events.audit("card.removed", "Reader 0", nullptr, "");
    auto stats = events.stats();
    CHECK(stats.queued <= 4);
    CHECK(stats.dropped > 0);
    events.stop();
    CHECK(static_cast<std::uint64_t>(*(*audit)->count()) + events.stats().dropped == 5000);
}
