// The social security application (SSSE) on a card: selecting it and reading EF05 / EF06 with the
// fewest APDUs.
//
// EF05 is read right after SELECT by short file identifier, all seven records in one READ RECORD
// "P1 to last" (P2 = SFI<<3 | 5) where the card supports it: 2 APDUs. A card that refuses that mode
// (6A86, 6A81, 6D00, 6B00), or refuses it because one record is protected (6982), is read record by
// record by tag, which works on every generation, and the refusal is remembered per ATR and file so
// the next card of that type goes straight to single records. Records are decoded whatever order or
// subset a card returns; missing ones are read singly.
//
// A record the card refuses for want of a key (6982, 6985, 6988: 3rd-generation cards keep the
// holder's identity, and on some issuers the card number, behind the read key RKSSSE) is not an
// error: the field stays empty and is named in `protected_fields`. After external authentication
// with the read key (setAuthenticated) those records are read again.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>

#include "apdu/ssse/authentication.hpp"
#include "apdu/ssse/card_data.hpp"
#include "apdu/transport.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// DF name "sx1.sh." followed by 社会保障 in GBK.
extern const Bytes kSsseDfName;

// One record of an elementary file: its tag and the length of its value.
struct RecordField {
    std::uint8_t tag;
    std::size_t length;
};

// Remembers which card types (by ATR) refuse the multi-record read of a file, and why. Thread-safe.
class ReadStrategyCache {
  public:
    enum class Refusal {
        unsupported,  // the card does not know the mode at all
        protected_,   // a record in the range needs a key: fine again after authentication
    };
    // Whether to try "P1 to last" on file `sfi` of a card with this ATR.
    bool multiReadAllowed(const Bytes& atr, std::uint8_t sfi, bool authenticated) const;
    void markMultiReadRefused(const Bytes& atr, std::uint8_t sfi, Refusal why);

  private:
    mutable std::mutex mutex_;
    // Keys are ATR ‖ SFI as strings: GCC 12 at -O3 reports a false stringop-overread inside
    // std::map<Bytes, …>'s comparison (memcmp with an unbounded length).
    std::map<std::string, Refusal> refused_;
};

class SsseApplication {
  public:
    SsseApplication(apdu::Transaction& transaction, ReadStrategyCache& cache)
        : tx_(transaction), cache_(cache) {}

    // SELECT by DF name. A card without the application gives not_ssse_card. On T=0 the FCI is
    // not fetched (one APDU less).
    Expected<void, Error> select();
    // SELECT by DF name with the FCI fetched (T=0: GET RESPONSE): the FCI's bytes.
    Expected<Bytes, Error> selectWithFci();

    // EF05 card management data. Call after select(). Records read by an earlier call in this
    // selection are not read again; `tags` limits the records read singly to those (a multi-record
    // read still brings them all).
    Expected<CardInfo, Error> readCardInfo();
    Expected<CardInfo, Error> readCardInfo(std::span<const std::uint8_t> tags);

    // EF06 holder data. Records the card protects are empty and named in
    // HolderInfo::protected_fields. `generation` picks the expected layout.
    Expected<HolderInfo, Error> readHolder(int generation);

    // External authentication with the read key succeeded: protected records are readable now
    // (until the next SELECT or reset).
    void setAuthenticated() { authenticated_ = true; }

    // True once another program reset the card during one of our commands: card state is lost and
    // the whole sequence must start again.
    bool resetSeen() const { return resetSeen_; }

    // Records of one file read so far, and the tags the card refused for want of a key.
    struct FileRecords {
        std::map<std::uint8_t, Bytes> fields;
        std::set<std::uint8_t> protectedTags;
    };

  private:
    // The listed records of a file not yet in `into`: all at once where the card allows it, the
    // rest one by one (only those in `wanted`, when given).
    Expected<void, Error> readRecords(std::uint8_t sfi, std::span<const RecordField> fields,
                                      std::string_view what, FileRecords& into,
                                      std::optional<std::span<const std::uint8_t>> wanted);
    Expected<std::optional<Bytes>, Error> readOneByTag(std::uint8_t sfi, std::uint8_t tag,
                                                       std::size_t length, std::string_view what,
                                                       bool& refused);

    apdu::Transaction& tx_;
    ReadStrategyCache& cache_;
    bool resetSeen_ = false;
    bool authenticated_ = false;
    FileRecords ef05_;
};

// The issuer's keys for a holder read of a 3rd-generation card: `use` runs its argument with the
// key source (a PSAM reached only when needed), `ids` are the card's key ids.
struct ReadKeys {
    using KeyUse = std::function<Expected<void, Error>(KeySource&)>;
    std::function<Expected<void, Error>(const KeyUse&)> use;
    AuthKeyIds ids;
};

// Everything `diag read` needs in one transaction: select, EF05, and EF06 when asked. A card reset
// by another program in the middle restarts the sequence once. With keys, a 3rd-generation holder
// read first proves the chip genuine and authenticates with the read key
// (docs/card.md#reading-a-3rd-generation-card), then reads what the card protected.
struct CardReadResult {
    CardInfo card;
    std::optional<HolderInfo> holder;
    bool authenticated = false;  // the card is now authenticated: end with a card reset
};
Expected<CardReadResult, Error> readCard(apdu::CardConnection& connection, ReadStrategyCache& cache,
                                         bool withHolder, const ReadKeys* keys = nullptr);

// Internal authentication of a 3rd-generation card in its own transaction (SELECT with the FCI for
// the algorithm, two GET CHALLENGE, INTERNAL AUTHENTICATE): card_not_genuine when the chip's answer
// differs from the key source's.
Expected<void, Error> verifyChip(apdu::CardConnection& connection, std::string_view cardId,
                                 const ReadKeys& keys);

}  // namespace sscard::ssse
