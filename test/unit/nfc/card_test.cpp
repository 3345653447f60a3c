// NfcCard without hardware: a device that was never opened. The size check comes before any use
// of the device, so a 263-byte command is refused even there; anything else finds the device gone.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "apdu/command.hpp"
#include "apdu/nfc/card.hpp"
#include "apdu/nfc/monitor.hpp"
#include "apdu/nfc/provider.hpp"

using namespace sscard;
using namespace sscard::apdu;
using namespace sscard::apdu::nfc;

namespace {

std::shared_ptr<NfcDevice> closedDevice() {
    return std::make_shared<NfcDevice>("pn532_uart:/nonexistent/sscard-test", "NFC 9 (test)");
}

}  // namespace

TEST_CASE("reader names carry the index and the connection string") {
    CHECK(readerNameFor(0, "pn532_uart:/dev/ttyS0") == "NFC 0 (pn532_uart:/dev/ttyS0)");
    CHECK(classifyInterface(readerNameFor(1, "pn532_uart:/x"), {}) == Interface::contactless);
}

TEST_CASE("an NfcCard is contactless with the field card's ATR") {
    FieldCard field;
    field.session = 7;
    field.atr = *fromHex("3B8080010001");
    NfcCard card(closedDevice(), field);
    CHECK(card.protocol() == Protocol::contactless);
    CHECK(card.interface() == Interface::contactless);
    CHECK(card.readerName() == "NFC 9 (test)");
    CHECK(toHex(card.atr()) == "3B8080010001");
}

TEST_CASE("a closed device refuses oversized commands as refused, others as reader_gone") {
    auto device = closedDevice();
    auto big = device->transceive(1, Bytes(263, 0x00));
    REQUIRE_FALSE(big);
    CHECK(big.error().kind == TransportErrorKind::refused);
    auto small = device->transceive(1, *fromHex("00A4040000"));
    REQUIRE_FALSE(small);
    CHECK(small.error().kind == TransportErrorKind::reader_gone);
    auto begin = device->beginTransaction(1);
    REQUIRE_FALSE(begin);
    CHECK(begin.error().kind == TransportErrorKind::reader_gone);
}

TEST_CASE("a transaction on a card whose device is gone fails cleanly") {
    NfcCard card(closedDevice(), FieldCard{});
    auto tx = card.begin();
    REQUIRE_FALSE(tx);
    CHECK(tx.error().kind == TransportErrorKind::reader_gone);
}

TEST_CASE("a provider on a missing device reports reader_gone, not a crash") {
    NfcReaderProvider provider(closedDevice());
    auto list = provider.listReaders();
    REQUIRE_FALSE(list);
    CHECK(list.error().kind == TransportErrorKind::reader_gone);
    CHECK(list.error().message.find("pn532_uart:/nonexistent/sscard-test") != std::string::npos);
    auto conn = provider.connect("NFC 0 (other)");
    REQUIRE_FALSE(conn);
    CHECK(conn.error().kind == TransportErrorKind::reader_gone);
}

TEST_CASE("the monitor of a missing device reports service_lost once and stops promptly") {
    NfcMonitorOptions options;
    options.backoffInitial = std::chrono::milliseconds(20);
    options.backoffMax = std::chrono::milliseconds(40);
    NfcMonitor monitor(closedDevice(), options);
    std::atomic<bool> stop{false};
    std::vector<ReaderEvent> events;
    std::thread runner(
        [&] { monitor.run(stop, [&](const ReaderEvent& e) { events.push_back(e); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto before = std::chrono::steady_clock::now();
    monitor.requestStop();
    runner.join();
    // Generous for a loaded machine; without requestStop() the monitor would wait for ever.
    CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == ReaderEvent::service_lost);
    CHECK(events[0].message.find("pn532_uart:/nonexistent/sscard-test") != std::string::npos);
}
