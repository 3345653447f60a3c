// The social security application (SSSE) on a card: selecting it and reading EF05 / EF06 with the
// fewest APDUs.
//
// EF05 is read right after SELECT by short file identifier, all seven records in one READ RECORD
// "P1 to last" (P2 = SFI<<3 | 5) where the card supports it: 2 APDUs. A card that refuses that mode
// (6A86, 6A81, 6D00, 6B00) is read record by record by tag, which works on every generation, and
// the refusal is remembered per ATR so the next card of that type goes straight to single records.
// Records are decoded whatever order or subset a card returns; missing ones are read singly.
#pragma once

#include <mutex>
#include <set>
#include <span>
#include <string>

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

// Remembers which card types (by ATR) refuse the multi-record read. Thread-safe.
class ReadStrategyCache {
  public:
    bool multiReadRefused(const Bytes& atr) const;
    void markMultiReadRefused(const Bytes& atr);

  private:
    mutable std::mutex mutex_;
    // ATRs as strings: GCC 12 at -O3 reports a false stringop-overread inside std::set<Bytes>'s
    // comparison (std::vector<unsigned char> compares through memcmp with an unbounded length).
    std::set<std::string> refused_;
};

class SsseApplication {
  public:
    SsseApplication(apdu::Transaction& transaction, ReadStrategyCache& cache)
        : tx_(transaction), cache_(cache) {}

    // SELECT by DF name. A card without the application gives not_ssse_card.
    Expected<void, Error> select();

    // EF05 card management data (no PIN or key needed). Call after select().
    Expected<CardInfo, Error> readCardInfo();

    // EF06 holder data. 3rd-generation cards refuse it without the issuer's read key
    // (read_key_required). `generation` picks the expected layout length.
    Expected<HolderInfo, Error> readHolder(int generation);

    // True once another program reset the card during one of our commands: card state is lost and
    // the whole sequence must start again.
    bool resetSeen() const { return resetSeen_; }

  private:
    // The listed records of a file: all at once where the card allows it, the rest one by one.
    Expected<std::vector<std::pair<std::uint8_t, Bytes>>, Error> readRecords(
        std::uint8_t sfi, std::span<const RecordField> fields, std::string_view what);
    Expected<std::optional<Bytes>, Error> readOneByTag(std::uint8_t sfi, std::uint8_t tag,
                                                       std::size_t length, std::string_view what);

    apdu::Transaction& tx_;
    ReadStrategyCache& cache_;
    bool resetSeen_ = false;
};

// Everything `diag read` needs in one transaction: select, EF05, and EF06 when asked. A card reset
// by another program in the middle restarts the sequence once.
struct CardReadResult {
    CardInfo card;
    std::optional<HolderInfo> holder;
};
Expected<CardReadResult, Error> readCard(apdu::CardConnection& connection, ReadStrategyCache& cache,
                                         bool withHolder);

}  // namespace sscard::ssse
