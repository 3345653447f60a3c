#include "apdu/ssse/psam.hpp"

#include <string>

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
#include "apdu/ssse/exchange.hpp"
#include "apdu/status_word.hpp"
#include "crypto/mac.hpp"

namespace sscard::ssse {

namespace {

Expected<apdu::ResponseApdu, Error> psamSend(apdu::Transaction& tx, const apdu::CommandApdu& cmd,
                                             std::string_view step) {
    auto r = tx.transmit(cmd);
    if (!r) {
        Error e = apdu::fromTransport(r.error(), std::string("PSAM: ") + std::string(step));
        if (e.code == ErrorCode::card_removed) {
            e.code = ErrorCode::card_error;
            e.message = "the PSAM left its reader: " + e.message;
        }
        return unexpected(std::move(e));
    }
    if (!r->ok()) {
        std::string why = "PSAM: " + std::string(step) + " answered " + swHex(r->sw()) + " (" +
                          apdu::describe(r->sw()) + ")";
        if (r->sw() == 0x6A82 || r->sw() == 0x6A88 || r->sw() == 0x6A83) {
            why += ": the PSAM lacks this application or key";
        }
        Error e = makeError(ErrorCode::card_error, why);
        if (r->sw() == 0x6A88 || r->sw() == 0x6A83) e.reason = "psam_no_key";
        if (r->sw() == 0x6A81) e.reason = "psam_algorithm";
        return unexpected(std::move(e));
    }
    return std::move(*r);
}

}  // namespace

class PsamSession final : public KeySession {
  public:
    PsamSession(PsamKeySource& source, KeyPurpose purpose, CardKeyContext card, Bytes challenge)
        : source_(source),
          purpose_(purpose),
          card_(std::move(card)),
          challenge_(std::move(challenge)) {}

    Expected<Bytes, Error> encryptPinBlock(const SecretPin& pin) override {
        auto plain = crypto::plainPinBlock(pin.revealDigits(), crypto::blockSize(card_.cipher));
        if (!plain) return unexpected(std::move(plain).error());
        SecretCommand cmd{{.cla = 0x80,
                           .ins = 0xFA,
                           .p1 = 0x00,
                           .p2 = 0x00,
                           .data = Bytes(plain->data(), plain->data() + plain->size()),
                           .le = std::nullopt}};
        return run(cmd.apdu, plain->size(), "encrypting the PIN block (80 FA)");
    }

    Expected<Bytes, Error> mac(ByteView message) override {
        apdu::CommandApdu cmd{.cla = 0x80,
                              .ins = 0xFA,
                              .p1 = 0x05,
                              .p2 = 0x00,
                              .data = crypto::padMethod2(message, crypto::blockSize(card_.cipher)),
                              .le = std::nullopt};
        return run(cmd, 4, "computing the MAC (80 FA)");
    }

    Expected<Bytes, Error> encrypt(ByteView blocks) override {
        apdu::CommandApdu cmd{.cla = 0x80,
                              .ins = 0xFA,
                              .p1 = 0x00,
                              .p2 = 0x00,
                              .data = Bytes(blocks.begin(), blocks.end()),
                              .le = std::nullopt};
        return run(cmd, blocks.size(), "encrypting (80 FA)");
    }

  private:
    // Each use re-derives the session key in its own PSAM transaction: another program may have
    // used the PSAM in between.
    Expected<Bytes, Error> run(const apdu::CommandApdu& cmd, std::size_t expected,
                               std::string_view step) {
        auto tx = source_.psam_.begin();
        if (!tx) return unexpected(apdu::fromTransport(tx.error(), "PSAM: starting a transaction"));
        if (auto p = source_.prepare(*tx, purpose_, card_, challenge_); !p) {
            return unexpected(p.error());
        }
        auto r = psamSend(*tx, cmd, step);
        if (!r) return unexpected(std::move(r).error());
        if (r->data.size() != expected) {
            return unexpected(makeError(ErrorCode::card_error, "PSAM: " + std::string(step) +
                                                                   ": answer of the wrong length"));
        }
        return std::move(r->data);
    }

    PsamKeySource& source_;
    KeyPurpose purpose_;
    CardKeyContext card_;
    Bytes challenge_;
};

Expected<void, Error> PsamKeySource::prepare(apdu::Transaction& tx, KeyPurpose purpose,
                                             const CardKeyContext& card, ByteView sessionFactor) {
    auto keyIt = options_.keys.find(purpose);
    if (keyIt == options_.keys.end()) {
        return unexpected(makeError(
            ErrorCode::config,
            "no PSAM key configured for the " + std::string(purposeName(purpose)) + " key"));
    }
    const std::uint8_t keyId =
        card.cipher == crypto::CardCipher::des3 ? keyIt->second.keyIdDes : keyIt->second.keyId;
    if (options_.levels < 0 || options_.levels > 3) {
        return unexpected(makeError(ErrorCode::config, "PSAM levels must be 0..3"));
    }
    auto select = apdu::selectByName(options_.aid);
    if (auto r = psamSend(tx, select, "SELECT of the PSAM application"); !r) {
        return unexpected(std::move(r).error());
    }
    auto idBytes = fromHex(card.cardId.substr(0, 2));
    if (!idBytes || idBytes->size() != 1) {
        return unexpected(makeError(ErrorCode::card_error, "the card identifier is not hex"));
    }
    apdu::CommandApdu init{
        .cla = 0xBF, .ins = 0xEC, .p1 = 0x00, .p2 = 0x00, .data = *idBytes, .le = std::nullopt};
    if (auto r = psamSend(tx, init, "initialising (BF EC)"); !r) return unexpected(r.error());
    Bytes data;
    const Bytes* chain[] = {&card.factors.province, &card.factors.city, &card.factors.card};
    for (int i = 3 - options_.levels; i < 3; ++i) {
        data.insert(data.end(), chain[i]->begin(), chain[i]->end());
    }
    data.insert(data.end(), sessionFactor.begin(), sessionFactor.end());
    apdu::CommandApdu derive{.cla = 0xBF,
                             .ins = 0xDE,
                             .p1 = keyIt->second.usage,
                             .p2 = keyId,
                             .data = std::move(data),
                             .le = std::nullopt};
    const std::string deriving = "deriving the " + std::string(purposeName(purpose)) + " key for " +
                                 std::string(crypto::cipherName(card.cipher)) + " (BF DE " +
                                 toHex(Bytes{keyIt->second.usage, keyId}) + ")";
    if (auto r = psamSend(tx, derive, deriving); !r) return unexpected(r.error());
    return {};
}

Expected<Bytes, Error> PsamKeySource::authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                                     ByteView challenge) {
    const std::size_t block = crypto::blockSize(card.cipher);
    if (challenge.empty() || challenge.size() > block) {
        return unexpected(makeError(ErrorCode::internal, "challenge longer than a block"));
    }
    auto tx = psam_.begin();
    if (!tx) return unexpected(apdu::fromTransport(tx.error(), "PSAM: starting a transaction"));
    if (auto p = prepare(*tx, purpose, card, {}); !p) return unexpected(p.error());
    Bytes input(challenge.begin(), challenge.end());
    input.resize(block, 0x00);
    apdu::CommandApdu cmd{
        .cla = 0x80, .ins = 0xFA, .p1 = 0x00, .p2 = 0x00, .data = input, .le = std::nullopt};
    auto r = psamSend(*tx, cmd, "encrypting the challenge (80 FA)");
    if (!r) return unexpected(std::move(r).error());
    if (r->data.size() != block) {
        return unexpected(makeError(ErrorCode::card_error, "PSAM: cryptogram of the wrong length"));
    }
    return Bytes(r->data.begin(), r->data.begin() + 8);
}

Expected<std::unique_ptr<KeySession>, Error> PsamKeySource::openSession(KeyPurpose purpose,
                                                                        const CardKeyContext& card,
                                                                        ByteView challenge) {
    if (options_.keys.find(purpose) == options_.keys.end()) {
        return unexpected(makeError(
            ErrorCode::config,
            "no PSAM key configured for the " + std::string(purposeName(purpose)) + " key"));
    }
    return std::unique_ptr<KeySession>(
        new PsamSession(*this, purpose, card, Bytes(challenge.begin(), challenge.end())));
}

}  // namespace sscard::ssse
