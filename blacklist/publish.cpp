#include "blacklist/publish.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/clock.hpp"
#include "base/errno_text.hpp"
#include "blacklist/codec.hpp"
#include "crypto/sha256.hpp"

namespace sscard::blacklist {
namespace {

Error ioError(const std::string& m) {
    return makeError(ErrorCode::internal, m);
}

Expected<std::string, Error> readText(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return unexpected(ioError(p.string() + ": cannot read"));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

ByteView view(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Expected<FileRef, Error> writeByHash(const std::filesystem::path& dir, ByteView data) {
    FileRef r;
    r.sha256 = crypto::sha256Hex(data);
    r.length = data.size();
    auto path = dir / r.name();
    if (!std::filesystem::exists(path)) {
        auto w = writeFileAtomic(path, data);
        if (!w) return unexpected(w.error());
    }
    return r;
}

}  // namespace

std::optional<std::int64_t> parseDuration(std::string_view t) {
    if (t.empty()) return std::nullopt;
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < t.size()) {
        std::int64_t n = 0;
        std::size_t start = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            n = n * 10 + (t[i] - '0');
            if (n > (1LL << 40)) return std::nullopt;
            ++i;
        }
        if (i == start || i == t.size()) return std::nullopt;
        switch (t[i++]) {
            case 's':
                total += n;
                break;
            case 'm':
                total += n * 60;
                break;
            case 'h':
                total += n * 3600;
                break;
            case 'd':
                total += n * 86400;
                break;
            default:
                return std::nullopt;
        }
    }
    return total;
}

Expected<void, Error> writeFileAtomic(const std::filesystem::path& path, ByteView data,
                                      std::int64_t min_mtime) {
    auto dir = path.parent_path();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    auto tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected(ioError(tmp.string() + ": " + errnoText(errno)));
    std::size_t off = 0;
    bool ok = true;
    while (ok && off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            ok = false;
        else
            off += static_cast<std::size_t>(n);
    }
    if (ok && min_mtime > 0) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_mtim.tv_sec < min_mtime) {
            struct timespec ts[2];
            ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(min_mtime);
            ts[0].tv_nsec = ts[1].tv_nsec = 0;
            ok = ::futimens(fd, ts) == 0;
        }
    }
    ok = ok && ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return unexpected(ioError(path.string() + ": write failed"));
    }
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Expected<PublishResult, Error> publish(const std::vector<Record>& sorted, const PublishOptions& o) {
    if (o.keys.empty()) return unexpected(makeError(ErrorCode::usage, "no signing key"));
    std::int64_t now = o.now != 0 ? o.now : unixSecondsNow();
    // The previous version, if any.
    std::optional<Manifest> prev;
    std::optional<TopFile> prev_top;
    auto top_path = o.out_dir / kTopFileName;
    if (std::filesystem::exists(top_path)) {
        auto text = readText(top_path);
        if (!text) return unexpected(text.error());
        auto env = parseEnvelope(*text, "timestamp");
        if (!env) return unexpected(env.error());
        auto t = parseTopFile((*env)["signed"]);
        if (!t) return unexpected(t.error());
        prev_top = *t;
        auto mtext = readText(o.out_dir / t->manifest.name());
        if (!mtext) return unexpected(mtext.error());
        auto menv = parseEnvelope(*mtext, "manifest");
        if (!menv) return unexpected(menv.error());
        auto m = parseManifest((*menv)["signed"]);
        if (!m) return unexpected(m.error());
        prev = *m;
    }
    PublishResult res;
    res.version = o.version != 0 ? o.version : (prev ? prev->version + 1 : 1);
    if (prev && res.version <= prev->version) {
        return unexpected(makeError(ErrorCode::usage, "version must grow"));
    }
    res.count = sorted.size();

    Manifest m;
    m.version = res.version;
    m.issued = now;
    m.count = sorted.size();
    Bytes snap = encodeSnapshot(res.version, sorted);
    res.snapshot_bytes = snap.size();
    auto sref = writeByHash(o.out_dir, snap);
    if (!sref) return unexpected(sref.error());
    m.snapshot = *sref;

    // History: previous versions' snapshots, newest first, bounded.
    std::vector<HistoryRef> hist;
    if (prev) {
        hist.push_back({prev->version, prev->snapshot.sha256});
        for (const auto& h : prev->history) {
            if (hist.size() >= o.history) break;
            hist.push_back(h);
        }
    }
    for (const auto& h : hist) {
        auto path = o.out_dir / kByHashDir / h.snapshot;
        if (!std::filesystem::exists(path)) continue;
        auto old = decodeSnapshotFile(path);
        if (!old) continue;  // unreadable history: the clients fall back to the snapshot
        std::vector<Record> rem, ups;
        diffRecords(*old, sorted, rem, ups);
        Bytes delta = encodeDelta(res.version, h.version, rem, ups);
        if (delta.size() >= snap.size()) continue;
        auto dref = writeByHash(o.out_dir, delta);
        if (!dref) return unexpected(dref.error());
        m.deltas.push_back({h.version, *dref});
        res.deltas.emplace_back(h.version, delta.size());
    }
    m.history = hist;
    snap.clear();
    snap.shrink_to_fit();

    auto mtext = signDocument(toSignedJson(m), o.keys);
    if (!mtext) return unexpected(mtext.error());
    auto mref = writeByHash(o.out_dir, view(*mtext));
    if (!mref) return unexpected(mref.error());

    TopFile t;
    t.version = res.version;
    t.issued = now;
    t.expires = now + o.expires_s;
    t.manifest = *mref;
    auto ttext = signDocument(toSignedJson(t), o.keys);
    if (!ttext) return unexpected(ttext.error());
    // nginx's ETag is mtime-size: make sure a new top file never repeats the old one's mtime, so
    // a conditional GET cannot answer 304 for a new version published within the same second.
    std::int64_t min_mtime = 0;
    struct stat old_st {};
    if (::stat(top_path.c_str(), &old_st) == 0) min_mtime = old_st.st_mtim.tv_sec + 1;
    auto w = writeFileAtomic(top_path, view(*ttext), min_mtime);
    if (!w) return unexpected(w.error());

    // Garbage: keep what the current and the previous manifest name, and history snapshots.
    std::set<std::string> keep{mref->sha256, m.snapshot.sha256};
    for (const auto& d : m.deltas) keep.insert(d.file.sha256);
    for (const auto& h : m.history) keep.insert(h.snapshot);
    if (prev && prev_top) {
        keep.insert(prev_top->manifest.sha256);
        keep.insert(prev->snapshot.sha256);
        for (const auto& d : prev->deltas) keep.insert(d.file.sha256);
    }
    std::error_code ec;
    for (const auto& de : std::filesystem::directory_iterator(o.out_dir / kByHashDir, ec)) {
        auto name = de.path().filename().string();
        if (name.size() == 64 && !keep.count(name)) std::filesystem::remove(de.path(), ec);
    }
    return res;
}

}  // namespace sscard::blacklist
