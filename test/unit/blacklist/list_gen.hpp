// Synthetic frozen-card lists for tests and benchmarks (header-only).
//
// Shape, meant to resemble a province's list: ~100 issuing regions; within a region, chips are
// issued in serial order and card numbers in the same order (both with random gaps); 85 % of the
// entries carry a card_id, 30 % of those with a random authentication code (the others FFFFFFFF);
// states 35 % frozen, 35 % replaced (most naming the new card), 20 % cancelled, 10 % temp_frozen
// (7 days); effective_at uniformly random, to the second, over five years.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "blacklist/entry.hpp"

namespace sscard::blacklist::testgen {

inline char checkChar(const std::string& first8) {
    static constexpr int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 8; ++i) {
        char c = first8[static_cast<std::size_t>(i)];
        sum += w[i] * (c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    int cc = 11 - sum % 11;
    return cc == 10 ? 'X' : cc == 11 ? '0' : static_cast<char>('0' + cc);
}

inline std::int64_t cardNumber(std::uint64_t seq) {
    std::string s(8, '0');
    s[0] = static_cast<char>('A' + (seq / 10'000'000) % 26);
    auto d = seq % 10'000'000;
    for (int i = 7; i >= 1; --i) {
        s[static_cast<std::size_t>(i)] = static_cast<char>('0' + d % 10);
        d /= 10;
    }
    s.push_back(checkChar(s));
    return *encodeCardNumber(s);
}

inline Record randomRecord(std::mt19937_64& rng, std::int64_t region, std::uint32_t serial,
                           std::uint64_t seq, bool with_id) {
    Record r;
    r.region = region;
    r.number = cardNumber(seq);
    r.has_id = with_id;
    if (with_id) {
        std::uint32_t auth = rng() % 10 < 3 ? static_cast<std::uint32_t>(rng()) : 0xFFFFFFFFu;
        r.id.hi = region;
        r.id.lo = static_cast<std::int64_t>((static_cast<std::uint64_t>(serial) << 32) | auth);
    }
    std::uint64_t st = rng() % 100;
    const std::int64_t start = 1'638'316'800;  // 2021-12-01
    r.effective_at = start + static_cast<std::int64_t>(rng() % (5ULL * 365 * 86400));
    if (st < 35) {
        r.state = State::frozen;
    } else if (st < 70) {
        r.state = State::replaced;
        if (rng() % 10 < 8) r.replaced_by = cardNumber(seq + 5'000'000 + rng() % 1000);
    } else if (st < 90) {
        r.state = State::cancelled;
    } else {
        r.state = State::temp_frozen;
        r.expires_at = r.effective_at + 7 * 86400;
    }
    return r;
}

// n entries, sorted by key, unique.
inline std::vector<Record> makeList(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    std::vector<Record> out;
    out.reserve(n);
    const std::size_t regions = 100;
    std::size_t per = n / regions + 1;
    for (std::size_t g = 0; g < regions && out.size() < n; ++g) {
        std::int64_t region = 110100 + static_cast<std::int64_t>(g) * 1100;  // 110100, 111200, ...
        std::uint32_t serial = static_cast<std::uint32_t>(rng() % 1000);
        std::uint64_t seq = rng() % 1000;
        for (std::size_t i = 0; i < per && out.size() < n; ++i) {
            std::uint64_t gap = 1 + rng() % 8;
            serial += static_cast<std::uint32_t>(gap);
            seq += gap;
            out.push_back(randomRecord(rng, region, serial, seq, rng() % 100 < 85));
        }
    }
    std::sort(out.begin(), out.end(), keyLess);
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Record& a, const Record& b) { return compareKeys(a, b) == 0; }),
              out.end());
    return out;
}

// `changes` edits: a third removed, a third changed, a third added. Result sorted.
inline std::vector<Record> mutate(std::vector<Record> list, std::size_t changes,
                                  std::uint64_t seed = 2) {
    std::mt19937_64 rng(seed);
    std::size_t third = changes / 3;
    for (std::size_t i = 0; i < third && !list.empty(); ++i) {
        auto& r = list[rng() % list.size()];
        r.state = r.state == State::frozen ? State::cancelled : State::frozen;
        r.expires_at.reset();
        r.replaced_by.reset();
    }
    std::vector<bool> drop(list.size());
    for (std::size_t i = 0; i < third && !list.empty(); ++i) drop[rng() % list.size()] = true;
    std::vector<Record> out;
    out.reserve(list.size() + changes);
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (!drop[i]) out.push_back(list[i]);
    }
    for (std::size_t i = 0; i < changes - 2 * third; ++i) {
        out.push_back(randomRecord(rng, 820000 + static_cast<std::int64_t>(i % 7),
                                   static_cast<std::uint32_t>(rng() >> 33), rng() % 200'000'000,
                                   rng() % 2 == 0));
    }
    std::sort(out.begin(), out.end(), keyLess);
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Record& a, const Record& b) { return compareKeys(a, b) == 0; }),
              out.end());
    return out;
}

}  // namespace sscard::blacklist::testgen
