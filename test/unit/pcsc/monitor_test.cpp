#include <doctest/doctest.h>

#include <chrono>

#include "apdu/pcsc/monitor.hpp"

using namespace sscard::apdu::pcsc;
using std::chrono::milliseconds;

namespace {

constexpr DWORD counter(DWORD n) {
    return n << 16;
}

}  // namespace

TEST_CASE("card insertion and removal are PRESENT rising and falling") {
    CHECK(classifyChange(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT | counter(1)) ==
          CardChange::inserted);
    CHECK(classifyChange(SCARD_STATE_PRESENT | counter(1), SCARD_STATE_EMPTY | counter(2)) ==
          CardChange::removed);
    CHECK(classifyChange(SCARD_STATE_EMPTY | counter(2), SCARD_STATE_EMPTY | counter(2)) ==
          CardChange::none);
    // INUSE/EXCLUSIVE flipping on a present card is not a card event.
    CHECK(classifyChange(SCARD_STATE_PRESENT | counter(1),
                         SCARD_STATE_PRESENT | SCARD_STATE_INUSE | counter(1)) == CardChange::none);
    // A mute card is still a card.
    CHECK(classifyChange(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT | SCARD_STATE_MUTE) ==
          CardChange::inserted);
}

TEST_CASE("the event counter reveals a card swapped between two calls") {
    CHECK(classifyChange(SCARD_STATE_PRESENT | counter(1), SCARD_STATE_PRESENT | counter(3)) ==
          CardChange::removed_and_inserted);
    // Inserted and removed again between two calls: nothing to report.
    CHECK(classifyChange(SCARD_STATE_EMPTY | counter(2), SCARD_STATE_EMPTY | counter(4)) ==
          CardChange::none);
}

TEST_CASE("UNKNOWN or IGNORE rising means the reader is gone") {
    CHECK(classifyChange(SCARD_STATE_PRESENT, SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE) ==
          CardChange::reader_gone);
    CHECK(classifyChange(SCARD_STATE_EMPTY, SCARD_STATE_IGNORE) == CardChange::reader_gone);
}

TEST_CASE("event type names") {
    CHECK(std::string(eventName(ReaderEvent::reader_added)) == "reader.added");
    CHECK(std::string(eventName(ReaderEvent::card_inserted)) == "card.inserted");
    CHECK(std::string(eventName(ReaderEvent::Type::service_restored)) == "service.restored");
}

TEST_CASE("a stop requested before run returns at once") {
    Monitor monitor;
    monitor.requestStop();
    std::atomic<bool> stop{false};
    int events = 0;
    monitor.run(stop, [&](const ReaderEvent&) { ++events; });
    CHECK(events == 0);
}
