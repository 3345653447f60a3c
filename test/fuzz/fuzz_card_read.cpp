// Feeds arbitrary card answers to the whole card read (SELECT, EF05, EF06, fallbacks, decoding):
// whatever a card answers, the read must end in a value or a clean error, never a crash.
#include <cstddef>
#include <cstdint>

#include "apdu/ssse/application.hpp"

namespace {

// Answers each command with the next chunk of the fuzz input: a length byte, then that many bytes.
class FuzzedCard : public sscard::apdu::CardConnection {
  public:
    FuzzedCard(const std::uint8_t* data, std::size_t size, sscard::apdu::Protocol protocol)
        : data_(data), size_(size), protocol_(protocol) {}
    const std::string& readerName() const override { return name_; }
    const sscard::Bytes& atr() const override { return atr_; }
    sscard::apdu::Protocol protocol() const override { return protocol_; }
    sscard::apdu::Interface interface() const override { return sscard::apdu::Interface::contact; }

  protected:
    sscard::Expected<void, sscard::apdu::TransportError> beginTransaction() override { return {}; }
    void endTransaction() noexcept override {}
    sscard::Expected<sscard::Bytes, sscard::apdu::TransportError> transmitRaw(
        sscard::ByteView) override {
        if (pos_ >= size_) {
            return sscard::unexpected(sscard::apdu::TransportError{
                sscard::apdu::TransportErrorKind::card_removed, "fuzz input exhausted"});
        }
        std::size_t n = data_[pos_++];
        n = std::min(n, size_ - pos_);
        sscard::Bytes answer(data_ + pos_, data_ + pos_ + n);
        pos_ += n;
        return answer;
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
    sscard::apdu::Protocol protocol_;
    std::string name_ = "fuzz";
    sscard::Bytes atr_{0x3B, 0x00};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    auto protocol = (data[0] & 1) ? sscard::apdu::Protocol::t0 : sscard::apdu::Protocol::t1;
    FuzzedCard card(data + 1, size - 1, protocol);
    sscard::ssse::ReadStrategyCache cache;
    auto result = sscard::ssse::readCard(card, cache, (data[0] & 2) != 0);
    if (result && !result->card.card_id && !result->card.card_number) __builtin_trap();
    return 0;
}
