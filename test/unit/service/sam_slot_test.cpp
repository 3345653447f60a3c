// The SAM slot holder (daemon/service/sam_slot.hpp) on a fake connector: one connection kept for
// every use, replaced when the PSAM was pulled, a clear error without a PSAM, busy while in use.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "daemon/service/sam_slot.hpp"

using namespace sscard;
using namespace sscard::daemon;

namespace {

// A PSAM connection that works until its card is pulled (`alive` false).
class FakePsam final : public apdu::CardConnection {
  public:
    explicit FakePsam(std::shared_ptr<std::atomic<bool>> alive) : alive_(std::move(alive)) {}
    const std::string& readerName() const override { return reader_; }
    const Bytes& atr() const override { return atr_; }
    apdu::Protocol protocol() const override { return apdu::Protocol::t1; }
    apdu::Interface interface() const override { return apdu::Interface::contact; }

  protected:
    Expected<void, apdu::TransportError> beginTransaction() override {
        if (*alive_) return {};
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "pulled"});
    }
    void endTransaction() noexcept override {}
    Expected<Bytes, apdu::TransportError> transmitRaw(ByteView) override {
        return Bytes{0x90, 0x00};
    }

  private:
    std::shared_ptr<std::atomic<bool>> alive_;
    std::string reader_ = "SAM Reader 00 00";
    Bytes atr_ = {0x3B, 0x00};
};

// The slot's PSAM: present or not; each connection dies when the PSAM is pulled.
struct FakeSlot {
    bool present = true;
    int connects = 0;
    std::shared_ptr<std::atomic<bool>> current;

    SamSlot::Connector connector() {
        return [this]() -> Expected<std::unique_ptr<apdu::CardConnection>, Error> {
            ++connects;
            if (!present) return unexpected(makeError(ErrorCode::no_card, "no PSAM"));
            current = std::make_shared<std::atomic<bool>>(true);
            return std::unique_ptr<apdu::CardConnection>(new FakePsam(current));
        };
    }
    void pull() {
        present = false;
        if (current) *current = false;
    }
};

Expected<void, Error> ok(apdu::CardConnection&) {
    return {};
}

}  // namespace

TEST_CASE("sam slot: one connection serves every use") {
    FakeSlot psam;
    SamSlot slot("SAM Reader 00 00", psam.connector());
    slot.keepHeld();
    CHECK(slot.held());
    int ran = 0;
    for (int i = 0; i < 3; ++i) {
        auto r = slot.use([&](apdu::CardConnection&) -> Expected<void, Error> {
            ++ran;
            return {};
        });
        CHECK(r.has_value());
    }
    slot.keepHeld();  // still alive: nothing new
    CHECK(ran == 3);
    CHECK(psam.connects == 1);
}

TEST_CASE("sam slot: pulled, it is a clear error, and reinserted, it is held again") {
    FakeSlot psam;
    SamSlot slot("SAM Reader 00 00", psam.connector());
    slot.keepHeld();
    psam.pull();
    bool ran = false;
    auto r = slot.use([&](apdu::CardConnection&) -> Expected<void, Error> {
        ran = true;
        return {};
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::no_card);
    CHECK(r.error().message.find("psam_reader \"SAM Reader 00 00\"") != std::string::npos);
    CHECK_FALSE(ran);
    CHECK_FALSE(slot.held());

    psam.present = true;  // reinserted: the reader event (or the tick) takes it again
    slot.keepHeld();
    CHECK(slot.held());
    CHECK(slot.use(ok).has_value());
}

TEST_CASE("sam slot: a connection that died unseen is replaced at the next use") {
    FakeSlot psam;
    SamSlot slot("SAM Reader 00 00", psam.connector());
    slot.keepHeld();
    *psam.current = false;  // pulled and put back between two uses, no event seen
    CHECK(slot.use(ok).has_value());
    CHECK(psam.connects == 2);
}

TEST_CASE("sam slot: release drops the connection, and a use waiting too long is busy") {
    FakeSlot psam;
    SamSlot slot("SAM Reader 00 00", psam.connector(), std::chrono::milliseconds(50));
    slot.keepHeld();
    slot.release();
    CHECK_FALSE(slot.held());

    std::atomic<bool> inside{false};
    std::atomic<bool> leave{false};
    std::thread first([&] {
        (void)slot.use([&](apdu::CardConnection&) -> Expected<void, Error> {
            inside = true;
            while (!leave) std::this_thread::yield();
            return {};
        });
    });
    while (!inside) std::this_thread::yield();
    auto second = slot.use(ok);
    slot.keepHeld();  // does not wait behind the use
    leave = true;
    first.join();
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code == ErrorCode::busy);
}
