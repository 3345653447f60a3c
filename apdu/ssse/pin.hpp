// PIN operations on the social security application (reference/ssse-card.md §3, §4): VERIFY, the
// holder's CHANGE PIN, the issuer's PIN reset and unblock with secure messaging through a key
// source (a PSAM, or a software key file in labs), the new-PIN policy, and pinpad readers (PC/SC
// part 10).
//
// Every function runs inside the caller's Transaction, after SsseApplication::select(). Outcomes
// are Error values: pin_wrong (tries_left), pin_blocked, pin_weak, card_removed, card_error, …
//
// Secrets: PIN digits live only in SecretPin and in buffers that are wiped after use. The APDU
// trace masks the data of INS 20/24/2C/5E and of the PSAM's 80 FA (apdu/trace.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apdu/pinpad.hpp"
#include "apdu/ssse/card_data.hpp"
#include "apdu/transport.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "crypto/mac.hpp"

namespace sscard::ssse {

// ---------------------------------------------------------------------------------------------
// PINs

// 4..16 decimal digits. Move-only, wiped on destruction; deliberately not printable (no operator<<,
// no conversion to string): the digits are reachable only through revealDigits().
class SecretPin {
  public:
    // Error code usage: not 4..16 decimal digits.
    static Expected<SecretPin, Error> fromDigits(std::string_view digits);
    // The same, and wipes the caller's string (also on failure): for PINs parsed out of requests.
    static Expected<SecretPin, Error> take(std::string& digits);

    SecretPin(SecretPin&& other) noexcept;
    SecretPin& operator=(SecretPin&& other) noexcept;
    SecretPin(const SecretPin&) = delete;
    SecretPin& operator=(const SecretPin&) = delete;
    ~SecretPin();

    std::size_t length() const { return digits_.size(); }
    // The digits, for the code that has to put them into a command. Do not copy them around.
    std::string_view revealDigits() const { return digits_; }
    // BCD, an odd length padded with F ("12345" -> 12 34 5F).
    crypto::SecretBytes bcd() const;
    bool sameAs(const SecretPin& other) const;

  private:
    SecretPin() = default;
    std::string digits_;
};

// ---------------------------------------------------------------------------------------------
// The new-PIN policy (activation, change, reset)

enum class PinWeakness { length, initial_pin, repeated_digit, sequence, birth_date };
std::string_view weaknessName(PinWeakness w);

struct PinPolicy {
    std::size_t minLength = 6;  // 4..16; six digits is the common practice
    std::size_t maxLength = 6;
    // Initial PINs cards are issued with: never acceptable as a chosen PIN.
    std::vector<std::string> initialPins = {"123456", "888888"};
};

struct PinPolicyContext {
    const SecretPin* currentInitialPin = nullptr;  // the card's initial PIN, when known
    std::optional<Date> birthDate;                 // the holder's (EF06), when known
};

// Rules, in this order:
//   length: minLength..maxLength digits;
//   initial_pin: equal to one of policy.initialPins or the card's initial PIN;
//   repeated_digit: one digit throughout (000000 … 999999);
//   sequence: each digit one more (or one less) than the previous, wrapping 9→0 / 0→9:
//     123456, 654321, 901234, 109876;
//   birth_date (when known, birth date YYYYMMDD): the PIN contains YYYYMMDD, YYMMDD, MMDDYY or
//     DDMMYY, or the PIN is itself a run of consecutive digits of YYYYMMDD (1992 1120: "199211",
//     "921120", "1120" for a 4-digit PIN).
std::optional<PinWeakness> findWeakness(const PinPolicy& policy, const SecretPin& pin,
                                        const PinPolicyContext& context = {});
// The same as an Error (pin_weak, message naming the rule), or success.
Expected<void, Error> checkNewPin(const PinPolicy& policy, const SecretPin& pin,
                                  const PinPolicyContext& context = {});

// ---------------------------------------------------------------------------------------------
// Holder PIN commands

// VERIFY 00 20 00 00 Lc BCD. ok; pin_wrong with tries_left (63Cx, x > 0); pin_blocked (6983, or
// 63C0: the attempt that used the last try); card_removed; card_error.
Expected<void, Error> verifyPin(apdu::Transaction& tx, const SecretPin& pin);

// VERIFY without data: the retry counter. 63Cx -> x; 6983 -> 0; nullopt when the card answers 9000
// without a count (some cards, after a successful VERIFY).
Expected<std::optional<int>, Error> pinTriesLeft(apdu::Transaction& tx);

// CHANGE PIN 80 5E 01 00 Lc old ‖ FF ‖ new (plaintext; the card resets the counter). The same
// outcomes as verifyPin for a wrong old PIN. The new PIN is not checked against a policy here.
Expected<void, Error> changePin(apdu::Transaction& tx, const SecretPin& oldPin,
                                const SecretPin& newPin);

// ---------------------------------------------------------------------------------------------
// Issuer keys

// Which application key an operation needs. Key ids on the card vary by issuer: configuration.
enum class KeyPurpose { puk, read, update, maintenance };
std::string_view purposeName(KeyPurpose p);

// What a key source needs to know about the card to reach its key.
struct CardKeyContext {
    crypto::CardCipher cipher = crypto::CardCipher::sm4;
    std::string cardId;  // 卡识别码, 32 hex digits (EF05 tag 01)
    crypto::DiversificationFactors factors;
};
// From EF05's card id and the card's ATR (historical bytes T6..T13 are the card factor).
Expected<CardKeyContext, Error> cardKeyContext(crypto::CardCipher cipher, std::string_view cardId,
                                               ByteView atr);

// The card's cipher from the SSSE FCI: 9F0C → 86 = 01 DES/3DES, 03 SM4 (02 SSF33: not supported,
// card_error). Without the template, a card id starting with region "11" means SSF33, otherwise DES
// (ssse-card.md §1).
Expected<crypto::CardCipher, Error> cipherFromFci(ByteView fci, std::string_view cardId);
// SELECTs the SSSE application again with its FCI fetched, and decides as cipherFromFci. Drops any
// authentication on the card: call it before resetPin/unblockPin, not between.
Expected<crypto::CardCipher, Error> readCardCipher(apdu::Transaction& tx, std::string_view cardId);

// ATR historical bytes (ISO 7816-3 T0/TDi walk); nullopt for a malformed ATR.
std::optional<Bytes> atrHistoricalBytes(ByteView atr);

// A session key inside a key source (PSAM or software): it never leaves the source.
class KeySession {
  public:
    virtual ~KeySession() = default;
    // The PIN block (digit count ‖ BCD ‖ 80 00…) encrypted under the session key.
    virtual Expected<Bytes, Error> encryptPinBlock(const SecretPin& pin) = 0;
    // The card's 4-byte MAC over `message` (padding method 2 applied by the source).
    virtual Expected<Bytes, Error> mac(ByteView message) = 0;
};

class KeySource {
  public:
    virtual ~KeySource() = default;
    virtual std::string_view name() const = 0;
    // EXTERNAL AUTHENTICATE cryptogram (8 bytes) for the card's challenge, under the card's
    // diversified `purpose` key.
    virtual Expected<Bytes, Error> authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                                  ByteView challenge) = 0;
    // A session key E(challenge ‖ 00…) under the card's diversified `purpose` key.
    virtual Expected<std::unique_ptr<KeySession>, Error> openSession(KeyPurpose purpose,
                                                                     const CardKeyContext& card,
                                                                     ByteView challenge) = 0;
};

// Keys from a file: labs and tests only. Format, one key a line ('#' starts a comment):
//     <purpose> <cipher> <levels> <key hex>
//     puk sm4 3 0123456789ABCDEFFEDCBA9876543210
// purpose: puk | read | update | maintenance; cipher: 3des | sm4; levels: how many diversification
// steps lie between this key and the card's key (3: national master key, 2: province, 1: city,
// 0: the card's own key). The file must not be readable by group or others.
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

// A PSAM (SAM card, application D15600000590) in its own PC/SC reader. Per operation, inside one
// transaction on the PSAM connection:
//   SELECT D15600000590; BF EC 00 00 01 <first byte of 卡识别码> (initialise for the province);
//   BF DE <usage> <psam key id> Lc <factors ‖ [challenge]> (derive the card key, or the session key
//   when a challenge follows); 80 FA 00 00 Lc <blocks> (encrypt, ECB) or 80 FA 05 00 Lc <padded
//   message> (MAC, 4 bytes); answers come through 61xx / 00 C0 GET RESPONSE.
// The factors sent are the last `levels` of province ‖ city ‖ card (the PSAM holds keys `levels`
// steps above the card). This is the convention the project's virtual PSAM implements; real PSAMs'
// usage bytes and key ids are configuration, and real PSAMs were not available for testing.
struct PsamKeyConfig {
    std::uint8_t usage = 0;  // P1 of BF DE
    std::uint8_t keyId = 0;  // P2 of BF DE
};
struct PsamOptions {
    Bytes aid = {0xD1, 0x56, 0x00, 0x00, 0x05, 0x90};
    int levels = 2;  // factors sent: city ‖ card
    std::map<KeyPurpose, PsamKeyConfig> keys = {{KeyPurpose::puk, {0x27, 0x01}},
                                                {KeyPurpose::read, {0x28, 0x01}},
                                                {KeyPurpose::update, {0x29, 0x01}},
                                                {KeyPurpose::maintenance, {0x2A, 0x01}}};
};

class PsamKeySource final : public KeySource {
  public:
    // The connection must outlive the key source.
    PsamKeySource(apdu::CardConnection& psam, PsamOptions options)
        : psam_(psam), options_(std::move(options)) {}

    std::string_view name() const override { return "PSAM"; }
    Expected<Bytes, Error> authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                          ByteView challenge) override;
    Expected<std::unique_ptr<KeySession>, Error> openSession(KeyPurpose purpose,
                                                             const CardKeyContext& card,
                                                             ByteView challenge) override;

  private:
    friend class PsamSession;
    // SELECT, BF EC, BF DE with the factors and the optional session factor.
    Expected<void, Error> prepare(apdu::Transaction& tx, KeyPurpose purpose,
                                  const CardKeyContext& card, ByteView sessionFactor);
    apdu::CardConnection& psam_;
    PsamOptions options_;
};

// ---------------------------------------------------------------------------------------------
// Issuer operations with secure messaging

struct IssuerKeyIds {
    std::uint8_t puk = 0x01;  // EXTERNAL AUTHENTICATE P2 for the PUK (configuration)
};

// Issuer PIN reset (重置): GET CHALLENGE, EXTERNAL AUTHENTICATE with the PUK key
// (00 82 00 <puk id> 10 <cryptogram 8> <terminal random 8>), GET CHALLENGE, then
// 84 24 00 01 Lc <PIN block encrypted under the session key> <MAC over 84 24 00 01 Lc ‖ block>.
// `card` from cardKeyContext() (EF05 card id, ATR). Outcomes: ok; card_error with the step named
// (authentication refused 6300/63Cx, key missing 6A88, MAC refused 6988, …); card_removed; the key
// source's errors. The card's counter is reset by the card along with the PIN.
Expected<void, Error> resetPin(apdu::Transaction& tx, const SecretPin& newPin, KeySource& keys,
                               const CardKeyContext& card, const IssuerKeyIds& ids = {});

// Issuer PIN unblock: the same authentication, then 84 24 00 00 04 <MAC>: the retry counter is
// reset, the PIN stays.
Expected<void, Error> unblockPin(apdu::Transaction& tx, KeySource& keys, const CardKeyContext& card,
                                 const IssuerKeyIds& ids = {});

// ---------------------------------------------------------------------------------------------
// Pinpad readers (PC/SC part 10). Built and unit-tested against a fake; no real pinpad reader was
// available, so none of this has been tried on hardware.

inline constexpr std::uint8_t kFeatureVerifyPinDirect = 0x06;
inline constexpr std::uint8_t kFeatureModifyPinDirect = 0x07;

// CM_IOCTL_GET_FEATURE_REQUEST answer: TLV of tag (1), length 4, control code big-endian.
// Malformed entries end the parse (what came before is kept).
std::map<std::uint8_t, std::uint32_t> parseFeatures(ByteView tlv);

struct PinpadParams {
    std::size_t minDigits = 6;
    std::size_t maxDigits = 6;
    std::uint8_t timeoutSeconds = 30;
    std::uint16_t langId = 0x0804;  // zh-CN
};

// The PIN block the reader fills: BCD left-justified in ceil(maxDigits/2) bytes pre-set to FF, so
// that an odd or shorter PIN ends in F padding (cards that want an exact Lc need min == max).
// PIN_VERIFY_STRUCTURE for 00 20 00 00 Lc FF…
Bytes buildVerifyPinStructure(const PinpadParams& params);
// PIN_MODIFY_STRUCTURE for 80 5E 01 00 Lc FF… ‖ FF ‖ FF…: asks for the current PIN and the new PIN
// twice.
Bytes buildModifyPinStructure(const PinpadParams& params);

// The feature codes of a pinpad reader, or nullopt when the connection has no pinpad.
struct PinpadFeatures {
    std::uint32_t verifyPinDirect = 0;
    std::uint32_t modifyPinDirect = 0;  // 0: not offered
};
Expected<std::optional<PinpadFeatures>, Error> pinpadFeatures(apdu::CardConnection& connection);

// The PIN typed on the reader. Outcomes as verifyPin/changePin, plus card_error for the reader's
// 6400 (timeout), 6401 (cancelled), 6402 (new PINs differ), 6403 (wrong length).
Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params);
Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params);

}  // namespace sscard::ssse
