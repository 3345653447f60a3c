#include "blacklist/entry.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace sscard::blacklist {
namespace {

constexpr std::int64_t kMaxRegion = 999999;
// Bytes 3..7 of a standard card_id: the SSSE application identifier D156000005.
constexpr std::uint64_t kAid = 0xD156000005ULL;

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::optional<std::uint64_t> hex64(std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s) {
        int d = hexValue(c);
        if (d < 0) return std::nullopt;
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return v;
}

// The standard-shaped first 8 bytes for a region: BCD digits then the application id.
std::uint64_t standardPrefix(std::int64_t region) {
    std::uint64_t bcd = 0;
    std::int64_t r = region;
    for (int i = 0; i < 6; ++i) {
        bcd |= static_cast<std::uint64_t>(r % 10) << (4 * i);
        r /= 10;
    }
    return (bcd << 40) | kAid;
}

// If the prefix is standard-shaped, its region.
std::optional<std::int64_t> standardRegion(std::uint64_t prefix) {
    if ((prefix & 0xFFFFFFFFFFULL) != kAid) return std::nullopt;
    std::uint64_t bcd = prefix >> 40;
    std::int64_t region = 0;
    for (int i = 5; i >= 0; --i) {
        std::uint64_t d = (bcd >> (4 * i)) & 0xF;
        if (d > 9) return std::nullopt;
        region = region * 10 + static_cast<std::int64_t>(d);
    }
    return region;
}

int base36(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return -1;
}

std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2 ? 1 : 0;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

unsigned daysInMonth(int y, int m) {
    static constexpr std::array<unsigned, 12> dm{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[static_cast<std::size_t>(m - 1)];
}

}  // namespace

std::string_view stateName(State s) {
    switch (s) {
        case State::temp_frozen:
            return "temp_frozen";
        case State::frozen:
            return "frozen";
        case State::replaced:
            return "replaced";
        case State::cancelled:
            return "cancelled";
    }
    return "frozen";
}

std::optional<State> parseState(std::string_view t) {
    if (t == "temp_frozen") return State::temp_frozen;
    if (t == "frozen") return State::frozen;
    if (t == "replaced") return State::replaced;
    if (t == "cancelled") return State::cancelled;
    return std::nullopt;
}

std::optional<IdKey> encodeCardId(std::string_view hex) {
    if (hex.size() != 32) return std::nullopt;
    auto prefix = hex64(hex.substr(0, 16));
    auto rest = hex64(hex.substr(16));
    if (!prefix || !rest) return std::nullopt;
    IdKey k;
    k.lo = static_cast<std::int64_t>(*rest);
    if (auto region = standardRegion(*prefix)) {
        k.hi = *region;
    } else if (*prefix <= static_cast<std::uint64_t>(kMaxRegion)) {
        // Would collide with a standard key: take the standard-shaped value of that "region",
        // which no non-standard card_id can have.
        k.hi = static_cast<std::int64_t>(standardPrefix(static_cast<std::int64_t>(*prefix)));
    } else {
        k.hi = static_cast<std::int64_t>(*prefix);
    }
    return k;
}

std::string decodeCardId(IdKey key) {
    std::uint64_t prefix = 0;
    if (key.hi >= 0 && key.hi <= kMaxRegion) {
        prefix = standardPrefix(key.hi);
    } else if (auto region = standardRegion(static_cast<std::uint64_t>(key.hi))) {
        prefix = static_cast<std::uint64_t>(*region);
    } else {
        prefix = static_cast<std::uint64_t>(key.hi);
    }
    static constexpr char hexd[] = "0123456789ABCDEF";
    std::string out(32, '0');
    auto lo = static_cast<std::uint64_t>(key.lo);
    for (int i = 0; i < 16; ++i) {
        out[static_cast<std::size_t>(15 - i)] = hexd[(prefix >> (4 * i)) & 0xF];
        out[static_cast<std::size_t>(31 - i)] = hexd[(lo >> (4 * i)) & 0xF];
    }
    return out;
}

std::optional<std::int64_t> encodeRegion(std::string_view region) {
    if (region.size() != 6) return std::nullopt;
    int v = 0;
    if (!digits(region, 0, 6, v)) return std::nullopt;
    return v;
}

std::string decodeRegion(std::int64_t region) {
    std::string s = std::to_string(region);
    return std::string(s.size() < 6 ? 6 - s.size() : 0, '0') + s;
}

std::optional<std::int64_t> encodeCardNumber(std::string_view number) {
    if (number.size() != 9) return std::nullopt;
    std::int64_t v = 0;
    for (char c : number) {
        int d = base36(c);
        if (d < 0) return std::nullopt;
        v = v * 36 + d;
    }
    return v;
}

std::string decodeCardNumber(std::int64_t number) {
    std::string s(9, '0');
    for (int i = 8; i >= 0; --i) {
        int d = static_cast<int>(number % 36);
        s[static_cast<std::size_t>(i)] = static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10);
        number /= 36;
    }
    return s;
}

std::optional<NumberKey> encodeNumberKey(std::string_view region, std::string_view number) {
    auto r = encodeRegion(region);
    auto n = encodeCardNumber(number);
    if (!r || !n) return std::nullopt;
    return NumberKey{*r, *n};
}

int compareKeys(const Record& a, const Record& b) {
    if (a.has_id != b.has_id) return a.has_id ? -1 : 1;
    if (a.has_id) {
        auto c = a.id <=> b.id;
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    auto c = NumberKey{a.region, a.number} <=> NumberKey{b.region, b.number};
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

Record toRecord(const Entry& e) {
    Record r;
    if (e.card_id) {
        r.has_id = true;
        r.id = encodeCardId(*e.card_id).value_or(IdKey{});
    }
    r.region = encodeRegion(e.region).value_or(0);
    r.number = encodeCardNumber(e.card_number).value_or(0);
    r.state = e.state;
    r.effective_at = e.effective_at;
    r.expires_at = e.expires_at;
    if (e.replaced_by) r.replaced_by = encodeCardNumber(*e.replaced_by);
    return r;
}

Entry toEntry(const Record& r) {
    Entry e;
    e.region = decodeRegion(r.region);
    e.card_number = decodeCardNumber(r.number);
    if (r.has_id) e.card_id = decodeCardId(r.id);
    e.state = r.state;
    e.effective_at = r.effective_at;
    e.expires_at = r.expires_at;
    if (r.replaced_by) e.replaced_by = decodeCardNumber(*r.replaced_by);
    return e;
}

std::optional<std::int64_t> parseTimestamp(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS then Z or ±HH:MM
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) ||
        s[7] != '-' || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
        !digits(s, 17, 2, se)) {
        return std::nullopt;
    }
    if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > daysInMonth(y, mo) || h > 23 ||
        mi > 59 || se > 59) {
        return std::nullopt;
    }
    std::string_view tz = s.substr(19);
    std::int64_t offset = 0;
    if (tz == "Z" || tz == "z") {
        offset = 0;
    } else {
        int oh = 0, om = 0;
        if (tz.size() != 6 || (tz[0] != '+' && tz[0] != '-') || !digits(tz, 1, 2, oh) ||
            tz[3] != ':' || !digits(tz, 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset = (oh * 3600 + om * 60) * (tz[0] == '-' ? -1 : 1);
    }
    std::int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    return days * 86400 + h * 3600 + mi * 60 + se - offset;
}

std::string formatTimestamp(std::int64_t t) {
    std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    std::int64_t secs = t - days * 86400;
    std::int64_t y = 0;
    unsigned m = 0, d = 0;
    civilFromDays(days, y, m, d);
    // secs is 0..86399 here
    auto hh = static_cast<unsigned>(secs / 3600) % 24u;
    auto mm = static_cast<unsigned>(secs / 60 % 60) % 60u;
    auto ss = static_cast<unsigned>(secs % 60) % 60u;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02uZ", static_cast<long long>(y),
                  m % 100u, d % 100u, hh, mm, ss);
    return buf;
}

namespace {

// Splits one CSV line; supports double-quoted fields with "" escapes.
bool splitCsv(std::string_view line, std::vector<std::string>& out) {
    out.clear();
    std::string cur;
    bool quoted = false;
    bool was_quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    cur.push_back('"');
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                cur.push_back(c);
            }
        } else if (c == '"' && cur.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == ',') {
            out.push_back(std::move(cur));
            cur.clear();
            was_quoted = false;
        } else {
            cur.push_back(c);
        }
    }
    if (quoted) return false;
    out.push_back(std::move(cur));
    return true;
}

std::string trim(std::string s) {
    auto notspace = [](unsigned char c) { return c != ' ' && c != '\t'; };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), notspace));
    s.erase(std::find_if(s.rbegin(), s.rend(), notspace).base(), s.end());
    return s;
}

}  // namespace

CsvResult parseCsv(std::string_view text, std::size_t max_problems) {
    static constexpr std::string_view kHeader =
        "region,card_number,card_id,state,effective_at,expires_at,replaced_by";
    CsvResult res;
    std::vector<std::size_t> lines;  // line of each record, parallel to res.records
    auto problem = [&](std::size_t line, std::string msg) {
        if (res.problems.size() < max_problems) res.problems.push_back({line, std::move(msg)});
    };
    std::size_t pos = 0;
    std::size_t lineno = 0;
    bool header_seen = false;
    std::vector<std::string> f;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 BOM
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (!header_seen) {
            header_seen = true;
            if (line != kHeader) {
                problem(lineno, "header must be \"" + std::string(kHeader) + "\"");
                return res;
            }
            continue;
        }
        if (!splitCsv(line, f)) {
            problem(lineno, "unterminated quoted field");
            continue;
        }
        if (f.size() != 7) {
            problem(lineno, "expected 7 fields, found " + std::to_string(f.size()));
            continue;
        }
        for (auto& s : f) s = trim(std::move(s));
        Entry e;
        bool ok = true;
        auto bad = [&](std::string msg) {
            problem(lineno, std::move(msg));
            ok = false;
        };
        if (!encodeRegion(f[0])) bad("bad region \"" + f[0] + "\" (6 digits)");
        e.region = f[0];
        if (!encodeCardNumber(f[1])) {
            bad("bad card_number \"" + f[1] + "\" (9 characters [A-Z0-9])");
        }
        e.card_number = f[1];
        if (!f[2].empty()) {
            std::string id = f[2];
            std::transform(id.begin(), id.end(), id.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            if (!encodeCardId(id)) bad("bad card_id \"" + f[2] + "\" (32 hex digits)");
            e.card_id = id;
        }
        auto st = parseState(f[3]);
        if (!st) {
            bad("bad state \"" + f[3] + "\" (temp_frozen, frozen, replaced or cancelled)");
        } else {
            e.state = *st;
        }
        auto eff = parseTimestamp(f[4]);
        if (!eff) {
            bad("bad effective_at \"" + f[4] +
                "\" (ISO 8601 with offset, e.g. 2026-11-20T10:00:00+08:00)");
        } else {
            e.effective_at = *eff;
        }
        if (!f[5].empty()) {
            auto ex = parseTimestamp(f[5]);
            if (!ex) {
                bad("bad expires_at \"" + f[5] + "\" (ISO 8601 with offset)");
            } else {
                e.expires_at = *ex;
                if (st && *st != State::temp_frozen) bad("expires_at is only for temp_frozen");
                if (eff && *ex <= *eff) bad("expires_at must be after effective_at");
            }
        } else if (st && *st == State::temp_frozen) {
            bad("temp_frozen needs expires_at");
        }
        if (!f[6].empty()) {
            if (!encodeCardNumber(f[6])) {
                bad("bad replaced_by \"" + f[6] + "\" (9 characters [A-Z0-9])");
            } else if (st && *st != State::replaced) {
                bad("replaced_by is only for replaced");
            }
            e.replaced_by = f[6];
        }
        if (!ok) continue;
        res.records.push_back(toRecord(e));
        lines.push_back(lineno);
    }
    if (!header_seen) problem(1, "empty file: header missing");
    // Sort (stable: duplicates keep file order) and report duplicates with both lines.
    std::vector<std::size_t> idx(res.records.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        return keyLess(res.records[a], res.records[b]);
    });
    std::vector<Record> sorted;
    sorted.reserve(idx.size());
    for (std::size_t k = 0; k < idx.size(); ++k) {
        const Record& r = res.records[idx[k]];
        if (!sorted.empty() && compareKeys(sorted.back(), r) == 0) {
            problem(lines[idx[k]],
                    std::string("duplicate ") + (r.has_id ? "card_id" : "region+card_number") +
                        " (first on line " + std::to_string(lines[idx[k - 1]]) + ")");
            continue;
        }
        sorted.push_back(r);
    }
    res.records = std::move(sorted);
    std::stable_sort(res.problems.begin(), res.problems.end(),
                     [](const CsvProblem& a, const CsvProblem& b) { return a.line < b.line; });
    return res;
}

CsvResult readCsvFile(const std::string& path, std::size_t max_problems) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        CsvResult r;
        r.problems.push_back({0, path + ": cannot read"});
        return r;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parseCsv(ss.str(), max_problems);
}

}  // namespace sscard::blacklist
