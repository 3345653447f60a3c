#include "blacklist/codec.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace sscard::blacklist {
namespace {

constexpr std::int64_t kMaxNumber = 101'559'956'668'416LL;  // 36^9
constexpr std::uint8_t kFlagId = 0x04, kFlagExp = 0x08, kFlagRepl = 0x10, kFlagRegion = 0x20,
                       kFlagSamePrefix = 0x40;

std::uint64_t zigzag(std::int64_t v) {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
std::int64_t idRegion(const IdKey& k) {
    return k.hi >= 0 && k.hi <= 999999 ? k.hi : -1;
}

Error malformed(const std::string& what) {
    return makeError(ErrorCode::feed_rejected, "malformed list file: " + what);
}

// ---- encoding ----

class Writer {
  public:
    void byte(std::uint8_t b) { out_.push_back(b); }
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void u32be(std::uint32_t v) {
        for (int i = 3; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    Bytes& bytes() { return out_; }

  private:
    Bytes out_;
};

struct Prev {
    IdKey id{};
    std::int64_t region = 0, number = 0, id_number = 0, eff_min = 0;
    bool any_id = false;
    bool any_num = false;
};

void encodeKey(Writer& w, const Record& r, Prev& p, std::uint8_t flags, bool full) {
    if (r.has_id) {
        flags |= kFlagId;
        bool same = p.any_id && p.id.hi == r.id.hi;
        if (same) flags |= kFlagSamePrefix;
        if (full && idRegion(r.id) != r.region) flags |= kFlagRegion;
        w.byte(flags);
        auto serial = static_cast<std::uint32_t>(static_cast<std::uint64_t>(r.id.lo) >> 32);
        auto auth = static_cast<std::uint32_t>(static_cast<std::uint64_t>(r.id.lo));
        if (same) {
            auto pserial = static_cast<std::uint32_t>(static_cast<std::uint64_t>(p.id.lo) >> 32);
            w.varint(static_cast<std::uint32_t>(serial - pserial));
        } else {
            w.varint(static_cast<std::uint64_t>(r.id.hi) - static_cast<std::uint64_t>(p.id.hi));
            w.varint(serial);
        }
        w.u32be(auth);
        p.id = r.id;
        p.any_id = true;
    } else {
        bool same = p.any_num && p.region == r.region;
        if (same) flags |= kFlagSamePrefix;
        w.byte(flags);
        if (same) {
            w.varint(static_cast<std::uint64_t>(r.number - p.number));
        } else {
            w.varint(static_cast<std::uint64_t>(r.region - p.region));
            w.varint(static_cast<std::uint64_t>(r.number));
        }
        p.region = r.region;
        p.number = r.number;
        p.any_num = true;
    }
}

void encodeRecord(Writer& w, const Record& r, Prev& p) {
    std::uint8_t flags = static_cast<std::uint8_t>(r.state);
    if (r.expires_at) flags |= kFlagExp;
    if (r.replaced_by) flags |= kFlagRepl;
    encodeKey(w, r, p, flags, true);
    if (r.has_id) {
        if (idRegion(r.id) != r.region) w.varint(static_cast<std::uint64_t>(r.region));
        w.varint(zigzag(r.number - p.id_number));
        p.id_number = r.number;
    }
    std::int64_t m = floorDiv(r.effective_at, 60);
    w.varint(zigzag(m - p.eff_min));
    w.byte(static_cast<std::uint8_t>(r.effective_at - m * 60));
    p.eff_min = m;
    if (r.expires_at) w.varint(zigzag(*r.expires_at - r.effective_at));
    if (r.replaced_by) w.varint(zigzag(*r.replaced_by - r.number));
}

void putU64(Bytes& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes finish(FileKind kind, std::int64_t version, std::int64_t base, std::uint64_t ndel,
             std::uint64_t nput, Bytes& body, int level) {
    Bytes out{'S', 'S', 'C', 'L', 1, static_cast<std::uint8_t>(kind)};
    putU64(out, static_cast<std::uint64_t>(version));
    putU64(out, static_cast<std::uint64_t>(base));
    putU64(out, ndel);
    putU64(out, nput);
    uLongf bound = compressBound(static_cast<uLong>(body.size()));
    std::size_t at = out.size();
    out.resize(at + bound);
    z_stream zs{};
    deflateInit(&zs, level);
    zs.next_in = body.data();
    zs.avail_in = static_cast<uInt>(body.size());
    zs.next_out = out.data() + at;
    zs.avail_out = static_cast<uInt>(bound);
    int rc = deflate(&zs, Z_FINISH);
    std::size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    out.resize(at + produced);
    body.clear();
    body.shrink_to_fit();
    return out;
}

// ---- decoding ----

class Reader {
  public:
    using Source = std::function<Expected<std::size_t, Error>(std::uint8_t*, std::size_t)>;
    explicit Reader(Source src) : src_(std::move(src)), in_(1 << 16), out_(1 << 16) {
        inflateInit(&zs_);
    }
    ~Reader() { inflateEnd(&zs_); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    Expected<std::uint8_t, Error> byte() {
        if (pos_ == len_) {
            auto r = refill();
            if (!r) return unexpected(r.error());
        }
        return out_[pos_++];
    }
    Expected<std::uint64_t, Error> varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            std::uint8_t b = 0;
            if (pos_ < len_) {
                b = out_[pos_++];
            } else {
                auto r = byte();
                if (!r) return unexpected(r.error());
                b = *r;
            }
            if (shift == 63 && b > 1) break;
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        return unexpected(malformed("bad varint"));
    }
    // After the last record: the zlib stream must end and nothing may follow.
    Expected<void, Error> expectEnd() {
        if (pos_ != len_) return unexpected(malformed("trailing data"));
        while (!ended_) {
            auto r = refill(true);
            if (!r) return unexpected(r.error());
            if (len_ != 0) return unexpected(malformed("trailing data"));
        }
        if (zs_.avail_in != 0) return unexpected(malformed("data after the compressed body"));
        std::uint8_t extra = 0;
        auto n = src_(&extra, 1);
        if (!n) return unexpected(n.error());
        if (*n != 0) return unexpected(malformed("data after the compressed body"));
        return {};
    }

  private:
    Expected<void, Error> refill(bool allow_end = false) {
        pos_ = len_ = 0;
        while (len_ == 0) {
            if (ended_) {
                if (allow_end) return {};
                return unexpected(malformed("truncated body"));
            }
            if (zs_.avail_in == 0) {
                auto n = src_(in_.data(), in_.size());
                if (!n) return unexpected(n.error());
                if (*n == 0) return unexpected(malformed("truncated compressed body"));
                zs_.next_in = in_.data();
                zs_.avail_in = static_cast<uInt>(*n);
            }
            zs_.next_out = out_.data();
            zs_.avail_out = static_cast<uInt>(out_.size());
            int rc = inflate(&zs_, Z_NO_FLUSH);
            len_ = out_.size() - zs_.avail_out;
            if (rc == Z_STREAM_END) {
                ended_ = true;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return unexpected(malformed("corrupt compressed body"));
            }
        }
        return {};
    }

    Source src_;
    z_stream zs_{};
    Bytes in_, out_;
    std::size_t pos_ = 0, len_ = 0;
    bool ended_ = false;
};

#define SSCARD_TRY(var, expr)                         \
    auto var##_r = (expr);                            \
    if (!var##_r) return unexpected(var##_r.error()); \
    auto var = *var##_r

Expected<Record, Error> decodeRecord(Reader& rd, Prev& p, bool full) {
    SSCARD_TRY(flags, rd.byte());
    std::uint8_t allowed = full ? 0x7F : (kFlagId | kFlagSamePrefix);
    if ((flags & ~allowed) != 0) return unexpected(malformed("bad flags"));
    Record r;
    r.state = static_cast<State>(flags & 3);
    r.has_id = (flags & kFlagId) != 0;
    bool same = (flags & kFlagSamePrefix) != 0;
    if (r.has_id) {
        if (same && !p.any_id) return unexpected(malformed("bad prefix flag"));
        std::uint32_t serial = 0;
        if (same) {
            SSCARD_TRY(gap, rd.varint());
            if (gap > 0xFFFFFFFFULL) return unexpected(malformed("bad serial gap"));
            auto pserial = static_cast<std::uint32_t>(static_cast<std::uint64_t>(p.id.lo) >> 32);
            serial = pserial + static_cast<std::uint32_t>(gap);
            r.id.hi = p.id.hi;
        } else {
            SSCARD_TRY(gap, rd.varint());
            r.id.hi = static_cast<std::int64_t>(static_cast<std::uint64_t>(p.id.hi) + gap);
            SSCARD_TRY(s, rd.varint());
            if (s > 0xFFFFFFFFULL) return unexpected(malformed("bad serial"));
            serial = static_cast<std::uint32_t>(s);
        }
        std::uint32_t auth = 0;
        for (int i = 0; i < 4; ++i) {
            SSCARD_TRY(b, rd.byte());
            auth = (auth << 8) | b;
        }
        r.id.lo = static_cast<std::int64_t>((static_cast<std::uint64_t>(serial) << 32) | auth);
        p.id = r.id;
        p.any_id = true;
    } else {
        if (same && !p.any_num) return unexpected(malformed("bad prefix flag"));
        if (same) {
            SSCARD_TRY(gap, rd.varint());
            if (gap >= static_cast<std::uint64_t>(kMaxNumber)) return unexpected(malformed("gap"));
            r.region = p.region;
            r.number = p.number + static_cast<std::int64_t>(gap);
        } else {
            SSCARD_TRY(gap, rd.varint());
            if (gap > 999999) return unexpected(malformed("bad region gap"));
            r.region = p.region + static_cast<std::int64_t>(gap);
            SSCARD_TRY(n, rd.varint());
            if (n >= static_cast<std::uint64_t>(kMaxNumber)) return unexpected(malformed("number"));
            r.number = static_cast<std::int64_t>(n);
        }
        if (r.region > 999999 || r.number >= kMaxNumber) return unexpected(malformed("bad key"));
        p.region = r.region;
        p.number = r.number;
        p.any_num = true;
    }
    if (!full) return r;
    if (r.has_id) {
        if ((flags & kFlagRegion) != 0) {
            SSCARD_TRY(reg, rd.varint());
            if (reg > 999999) return unexpected(malformed("bad region"));
            r.region = static_cast<std::int64_t>(reg);
            if (r.region == idRegion(r.id)) return unexpected(malformed("redundant region"));
        } else {
            r.region = idRegion(r.id);
            if (r.region < 0) return unexpected(malformed("missing region"));
        }
        SSCARD_TRY(dn, rd.varint());
        std::int64_t d = unzigzag(dn);
        if (d > kMaxNumber || d < -kMaxNumber) return unexpected(malformed("bad number"));
        r.number = p.id_number + d;
        if (r.number < 0 || r.number >= kMaxNumber) return unexpected(malformed("bad number"));
        p.id_number = r.number;
    } else if ((flags & kFlagRegion) != 0) {
        return unexpected(malformed("bad flags"));
    }
    SSCARD_TRY(dm, rd.varint());
    std::int64_t dmin = unzigzag(dm);
    constexpr std::int64_t kMaxMin = 1LL << 40;
    if (dmin > kMaxMin || dmin < -kMaxMin) return unexpected(malformed("bad time"));
    std::int64_t m = p.eff_min + dmin;
    if (m > kMaxMin || m < -kMaxMin) return unexpected(malformed("bad time"));
    SSCARD_TRY(sec, rd.byte());
    if (sec > 59) return unexpected(malformed("bad seconds"));
    r.effective_at = m * 60 + sec;
    p.eff_min = m;
    if ((flags & kFlagExp) != 0) {
        SSCARD_TRY(de, rd.varint());
        std::int64_t d = unzigzag(de);
        if (d <= 0 || d > (1LL << 40)) return unexpected(malformed("bad expires_at"));
        r.expires_at = r.effective_at + d;
    }
    if ((flags & kFlagRepl) != 0) {
        SSCARD_TRY(rb, rd.varint());
        std::int64_t d = unzigzag(rb);
        if (d >= kMaxNumber || d <= -kMaxNumber) return unexpected(malformed("bad replaced_by"));
        std::int64_t v = r.number + d;
        if (v < 0 || v >= kMaxNumber) return unexpected(malformed("bad replaced_by"));
        r.replaced_by = v;
    }
    return r;
}

std::uint64_t getU64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

Expected<FileHeader, Error> decodeStream(const Reader::Source& src, const DecodeSink& sink) {
    std::uint8_t h[kHeaderSize];
    std::size_t got = 0;
    while (got < kHeaderSize) {
        auto n = src(h + got, kHeaderSize - got);
        if (!n) return unexpected(n.error());
        if (*n == 0) return unexpected(malformed("short header"));
        got += *n;
    }
    if (std::memcmp(h, "SSCL", 4) != 0 || h[4] != 1 || (h[5] != 1 && h[5] != 2)) {
        return unexpected(malformed("not an sscard list file"));
    }
    FileHeader fh;
    fh.kind = static_cast<FileKind>(h[5]);
    std::uint64_t v = getU64(h + 6), b = getU64(h + 14);
    fh.removals = getU64(h + 22);
    fh.upserts = getU64(h + 30);
    if (v == 0 || v > (1ULL << 53) || b > (1ULL << 53) || fh.removals > kMaxRecords ||
        fh.upserts > kMaxRecords) {
        return unexpected(malformed("bad header values"));
    }
    fh.version = static_cast<std::int64_t>(v);
    fh.base_version = static_cast<std::int64_t>(b);
    if (fh.kind == FileKind::snapshot && (fh.base_version != 0 || fh.removals != 0)) {
        return unexpected(malformed("snapshot with a base or removals"));
    }
    if (fh.kind == FileKind::delta && (fh.base_version == 0 || fh.base_version >= fh.version)) {
        return unexpected(malformed("delta with a bad base version"));
    }
    if (sink.header) {
        auto r = sink.header(fh);
        if (!r) return unexpected(r.error());
    }
    Reader rd(src);
    for (int section = 0; section < 2; ++section) {
        bool full = section == 1;
        std::uint64_t n = full ? fh.upserts : fh.removals;
        Prev p;
        Record prev;
        for (std::uint64_t i = 0; i < n; ++i) {
            auto r = decodeRecord(rd, p, full);
            if (!r) return unexpected(r.error());
            if (i > 0 && compareKeys(prev, *r) >= 0) return unexpected(malformed("not sorted"));
            prev = *r;
            const auto& cb = full ? sink.upsert : sink.removal;
            if (cb) {
                auto c = cb(*r);
                if (!c) return unexpected(c.error());
            }
        }
    }
    auto e = rd.expectEnd();
    if (!e) return unexpected(e.error());
    return fh;
}

}  // namespace

Bytes encodeSnapshot(std::int64_t version, const std::vector<Record>& sorted, int level) {
    Writer w;
    w.bytes().reserve(sorted.size() * 12);
    Prev p;
    for (const Record& r : sorted) encodeRecord(w, r, p);
    return finish(FileKind::snapshot, version, 0, 0, sorted.size(), w.bytes(), level);
}

Bytes encodeDelta(std::int64_t version, std::int64_t base_version,
                  const std::vector<Record>& removals, const std::vector<Record>& upserts,
                  int level) {
    Writer w;
    Prev p;
    for (const Record& r : removals) encodeKey(w, r, p, 0, false);
    Prev q;
    for (const Record& r : upserts) encodeRecord(w, r, q);
    return finish(FileKind::delta, version, base_version, removals.size(), upserts.size(),
                  w.bytes(), level);
}

void diffRecords(const std::vector<Record>& old, const std::vector<Record>& cur,
                 std::vector<Record>& removals, std::vector<Record>& upserts) {
    std::size_t i = 0, j = 0;
    while (i < old.size() || j < cur.size()) {
        int c = i == old.size() ? 1 : j == cur.size() ? -1 : compareKeys(old[i], cur[j]);
        if (c < 0) {
            removals.push_back(old[i++]);
        } else if (c > 0) {
            upserts.push_back(cur[j++]);
        } else {
            if (!(old[i] == cur[j])) {
                removals.push_back(old[i]);
                upserts.push_back(cur[j]);
            }
            ++i;
            ++j;
        }
    }
}

Expected<FileHeader, Error> decode(ByteView file, const DecodeSink& sink) {
    std::size_t off = 0;
    Reader::Source src = [&](std::uint8_t* buf, std::size_t n) -> Expected<std::size_t, Error> {
        std::size_t k = std::min(n, file.size() - off);
        if (k) std::memcpy(buf, file.data() + off, k);
        off += k;
        return k;
    };
    return decodeStream(src, sink);
}

Expected<FileHeader, Error> decodeFile(const std::filesystem::path& path, const DecodeSink& sink) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return unexpected(makeError(ErrorCode::sync_failed, path.string() + ": cannot open"));
    Reader::Source src = [&](std::uint8_t* buf, std::size_t n) -> Expected<std::size_t, Error> {
        std::size_t k = std::fread(buf, 1, n, f.get());
        if (k == 0 && std::ferror(f.get())) {
            return unexpected(makeError(ErrorCode::sync_failed, path.string() + ": read error"));
        }
        return k;
    };
    return decodeStream(src, sink);
}

namespace {
Expected<std::vector<Record>, Error> collect(
    const std::function<Expected<FileHeader, Error>(const DecodeSink&)>& run) {
    std::vector<Record> out;
    DecodeSink sink;
    sink.header = [&](const FileHeader& h) -> Expected<void, Error> {
        if (h.kind != FileKind::snapshot) return unexpected(malformed("not a snapshot"));
        out.reserve(std::min<std::uint64_t>(h.upserts, 1'000'000));
        return {};
    };
    sink.upsert = [&](const Record& r) -> Expected<void, Error> {
        out.push_back(r);
        return {};
    };
    auto h = run(sink);
    if (!h) return unexpected(h.error());
    return out;
}
}  // namespace

Expected<std::vector<Record>, Error> decodeSnapshot(ByteView file) {
    return collect([&](const DecodeSink& s) { return decode(file, s); });
}

Expected<std::vector<Record>, Error> decodeSnapshotFile(const std::filesystem::path& path) {
    return collect([&](const DecodeSink& s) { return decodeFile(path, s); });
}

}  // namespace sscard::blacklist
