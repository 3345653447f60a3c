// Issuer keys from a file: labs and tests only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "apdu/ssse/key_source.hpp"
#include "crypto/mac.hpp"

namespace sscard::ssse {

// Keys from a file: labs and tests only. Format, one key a line ('#' starts a comment):
//     <purpose> <cipher> <levels> <key hex>
//     puk sm4 3 0123456789ABCDEFFEDCBA9876543210
// purpose: puk | read | update | maintenance | internal; cipher: 3des | sm4; levels: how many
// diversification steps lie between this key and the card's key (3: national master key, 2:
// province, 1: city, 0: the card's own key). The file must not be readable by group or others.
struct SoftwareKeyOptions {
    bool enabled = false;  // must be set explicitly: otherwise load() refuses
    // Receives the loud warning that software keys are in use (at load, and at each use).
    std::function<void(std::string_view)> warn;
};

class SoftwareKeySource final : public KeySource {
  public:
    static Expected<std::unique_ptr<SoftwareKeySource>, Error> load(const std::string& path,
                                                                    SoftwareKeyOptions options);
    // From text in the file format (tests); the same refusal when not enabled.
    static Expected<std::unique_ptr<SoftwareKeySource>, Error> fromText(std::string_view text,
                                                                        SoftwareKeyOptions options);

    std::string_view name() const override { return "software key file"; }
    Expected<Bytes, Error> authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                          ByteView challenge) override;
    Expected<std::unique_ptr<KeySession>, Error> openSession(KeyPurpose purpose,
                                                             const CardKeyContext& card,
                                                             ByteView challenge) override;

  private:
    struct Entry {
        int levels = 0;
        crypto::SecretBytes key;
    };
    explicit SoftwareKeySource(SoftwareKeyOptions options) : options_(std::move(options)) {}
    Expected<crypto::SecretBytes, Error> cardKey(KeyPurpose purpose, const CardKeyContext& card);
    SoftwareKeyOptions options_;
    std::map<std::pair<KeyPurpose, crypto::CardCipher>, Entry> keys_;
};

}  // namespace sscard::ssse
