// A fake social security card for the service's unit tests (a fake: the real card path through
// pcscd and the simulator is covered by the integration tests). It answers the APDUs the service's
// flows send: SELECT of the SSSE application, READ RECORD "P1 to last" of EF05/EF06, VERIFY (with
// a retry counter) and CHANGE PIN; and it can leave in the middle of CHANGE PIN after carrying it
// out, the one case where the host cannot know whether the PIN changed.
//
// The card's state lives in a shared FakeCardState, so it survives connections (a card taken out
// and put back) like a real card's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apdu/reader.hpp"
#include "apdu/transport.hpp"

namespace sscard::test {

struct FakeCardState {
    std::string cardId = "330300D15600000599110145FFFFFFFF";
    std::string cardNumber = "B7K334774";
    std::string specVersion = "2.00";
    std::string expires = "20991231";  // YYYYMMDD
    std::string birthDate = "19810101";
    std::string pin = "123456";
    int triesLeft = 3;
    int maxTries = 3;
    bool vanishDuringChangePin = false;  // carries CHANGE PIN out, then is gone
    bool present = true;
    int resets = 0;           // transactions that ended with a card reset (the PIN state gone)
    std::vector<Bytes> sent;  // every command, in order
    int countSent(std::uint8_t ins) const;
};

class FakeSsseCard final : public apdu::CardConnection {
  public:
    FakeSsseCard(std::string reader, std::shared_ptr<FakeCardState> state)
        : reader_(std::move(reader)), state_(std::move(state)) {}

    const std::string& readerName() const override { return reader_; }
    const Bytes& atr() const override { return atr_; }
    apdu::Protocol protocol() const override { return apdu::Protocol::t1; }
    apdu::Interface interface() const override { return apdu::Interface::contact; }

  protected:
    Expected<void, apdu::TransportError> beginTransaction() override;
    void endTransaction() noexcept override {
        if (resetRequested()) ++state_->resets;
    }
    Expected<Bytes, apdu::TransportError> transmitRaw(ByteView command) override;

  private:
    Bytes answer(const Bytes& command);
    std::string reader_;
    std::shared_ptr<FakeCardState> state_;
    Bytes atr_ = {0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x4E, 0x43, 0x23,
                  0x86, 0x97, 0x15, 0x99, 0x00, 0xBF, 0x7C, 0x7A};
};

// One contact reader, "Fake Reader 00 00", holding the card of `state` while state->present.
class FakeReaderProvider final : public apdu::ReaderProvider {
  public:
    explicit FakeReaderProvider(std::shared_ptr<FakeCardState> state) : state_(std::move(state)) {}
    Expected<std::vector<apdu::ReaderInfo>, apdu::TransportError> listReaders() override;
    Expected<std::unique_ptr<apdu::CardConnection>, apdu::TransportError> connect(
        const std::string& readerName) override;

    static constexpr const char* kReader = "Fake Reader 00 00";

  private:
    std::shared_ptr<FakeCardState> state_;
};

}  // namespace sscard::test
