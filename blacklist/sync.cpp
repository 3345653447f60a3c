#include "blacklist/sync.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "base/clock.hpp"
#include "base/http_client.hpp"
#include "blacklist/feed.hpp"
#include "blacklist/store.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/sha256.hpp"

namespace sscard::blacklist {
namespace {

Error failed(const std::string& m) {
    return makeError(ErrorCode::sync_failed, m);
}
Error rejected(const std::string& m) {
    return makeError(ErrorCode::feed_rejected, m);
}

struct Download {
    std::uint64_t limit = 0;
    std::uint64_t total = 0;  // expected length (progress), 0 if unknown
    std::uint64_t received = 0;
    std::string memory;  // when no file
    std::FILE* file = nullptr;
    crypto::Sha256 hash;
    const std::function<void(std::uint64_t, std::uint64_t)>* progress = nullptr;
    std::string etag;
    long status = 0;

    bool add(std::string_view data) {
        received += data.size();
        hash.update(data.data(), data.size());
        if (file) {
            if (std::fwrite(data.data(), 1, data.size(), file) != data.size()) return false;
        } else {
            memory.append(data);
        }
        if (progress && *progress && total > (1u << 20)) (*progress)(received, total);
        return true;
    }
};

class Fetcher {
  public:
    explicit Fetcher(const SyncOptions& o) : o_(o) {
        base_ = o.feed_url;
        if (base_.empty() || base_.back() != '/') base_ += '/';
        if (o.limits.sync_deadline.count() > 0) {
            deadline_ = std::chrono::steady_clock::now() + o.limits.sync_deadline;
        }
    }

    // sync_failed once the whole sync's deadline has passed.
    Expected<void, Error> checkDeadline() const {
        if (!deadline_ || std::chrono::steady_clock::now() < *deadline_) return {};
        return unexpected(deadlineError());
    }

    // GET base + name into d. if_none_match: conditional.
    Expected<void, Error> get(const std::string& name, Download& d,
                              const std::string& if_none_match = "") {
        if (!client_.valid()) return unexpected(failed("libcurl initialisation failed"));
        if (auto late = checkDeadline(); !late) return late;
        http::Request req;
        req.url = base_ + name;
        req.user_agent = "sscard/0.1";
        req.ca_file = o_.ca_file;
        req.connect_timeout = std::chrono::seconds(o_.limits.connect_timeout_s);
        if (o_.limits.total_timeout_s > 0) {
            req.total_timeout = std::chrono::seconds(o_.limits.total_timeout_s);
        }
        bool deadline_bounds_request = false;
        if (deadline_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                *deadline_ - std::chrono::steady_clock::now());
            left = std::max(left, std::chrono::milliseconds(1));
            if (req.total_timeout.count() == 0 || left < req.total_timeout) {
                req.total_timeout = left;
                deadline_bounds_request = true;
            }
            if (req.connect_timeout.count() == 0 || left < req.connect_timeout)
                req.connect_timeout = left;
        }
        req.low_speed_bytes_per_s = o_.limits.low_speed_bytes_per_s;
        req.low_speed_time_s = o_.limits.low_speed_time_s;
        req.max_body_bytes = d.limit;
        if (!if_none_match.empty()) req.headers.push_back("If-None-Match: " + if_none_match);
        req.sink = [&d](std::string_view data) { return d.add(data); };
        http::Result r = client_.perform(req);
        d.status = r.status;
        d.etag = client_.header("ETag").value_or("");
        if (r.over_limit) {
            return unexpected(
                rejected(name + ": longer than the " + std::to_string(d.limit) + " bytes allowed"));
        }
        if (!r.ok()) {
            // libcurl's timer may fire a little before our clock reaches the deadline.
            if (deadline_bounds_request && r.timed_out) return unexpected(deadlineError());
            if (auto late = checkDeadline(); !late) return late;
            return unexpected(failed(http::redactUrl(req.url) + ": " + r.error));
        }
        if (d.status == 304) return {};
        if (d.status != 200) {
            return unexpected(
                failed(http::redactUrl(req.url) + ": HTTP " + std::to_string(d.status)));
        }
        return {};
    }

  private:
    Error deadlineError() const {
        return failed("the sync took longer than its deadline of " +
                      std::to_string(o_.limits.sync_deadline.count()) +
                      " ms ([list] sync_timeout) and was stopped; the list is unchanged");
    }

    const SyncOptions& o_;
    http::Client client_;
    std::string base_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
};

// feed_rejected unless at least `threshold` distinct trusted keys signed the document.
Expected<void, Error> checkThreshold(const Verified& v, int threshold, const std::string& what) {
    if (static_cast<int>(v.key_ids.size()) >= threshold) return {};
    return unexpected(rejected(what + ": signed by " + std::to_string(v.key_ids.size()) +
                               " trusted key(s), " + std::to_string(threshold) +
                               " required ([list] threshold)"));
}

Expected<void, Error> checkRef(Download& d, const FileRef& ref, const std::string& what) {
    if (d.received != ref.length) {
        return unexpected(rejected(what + ": length " + std::to_string(d.received) +
                                   " differs from the signed " + std::to_string(ref.length)));
    }
    auto h = d.hash.finish();
    if (crypto::toLowerHex(h) != ref.sha256) {
        return unexpected(rejected(what + ": hash differs from the signed one"));
    }
    return {};
}

// Downloads a content-addressed file into tmp (created exclusively next to the database).
Expected<std::uint64_t, Error> downloadFile(Fetcher& f, const SyncOptions& o, const FileRef& ref,
                                            const std::filesystem::path& tmp,
                                            const std::string& what) {
    if (ref.length > o.limits.max_file_bytes) {
        return unexpected(rejected(what + ": signed length above the configured limit"));
    }
    std::filesystem::remove(tmp);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(tmp.c_str(), "wbx"),
                                                         &std::fclose);
    if (!file) return unexpected(failed(tmp.string() + ": cannot create"));
    Download d;
    d.limit = ref.length;
    d.total = ref.length;
    d.file = file.get();
    d.progress = &o.progress;
    auto r = f.get(ref.name(), d);
    if (!r) return unexpected(r.error());
    if (std::fflush(file.get()) != 0) return unexpected(failed(tmp.string() + ": write error"));
    auto c = checkRef(d, ref, what);
    if (!c) return unexpected(c.error());
    return d.received;
}

}  // namespace

std::string_view outcomeName(SyncOutcome o) {
    switch (o) {
        case SyncOutcome::not_modified:
            return "not_modified";
        case SyncOutcome::up_to_date:
            return "up_to_date";
        case SyncOutcome::updated_delta:
            return "updated_delta";
        case SyncOutcome::updated_snapshot:
            return "updated_snapshot";
    }
    return "up_to_date";
}

Expected<SyncResult, Error> syncOnce(const SyncOptions& o) {
    if (o.feed_url.empty())
        return unexpected(makeError(ErrorCode::config, "list.feed_url is empty"));
    if (http::isPlainHttp(o.feed_url) && !o.allow_insecure_http) {
        return unexpected(makeError(
            ErrorCode::config, "list.feed_url " + http::redactUrl(o.feed_url) +
                                   " is plain http: use https, or set [list] allow_insecure_http "
                                   "= true (labs and tests only)"));
    }
    std::vector<TrustedKey> keys;
    std::vector<std::string> distinct;
    for (const auto& p : o.trusted_keys) {
        auto k = crypto::readEd25519PublicKey(p);
        if (!k) return unexpected(k.error());
        keys.push_back({keyId(*k), *k});
        if (std::find(distinct.begin(), distinct.end(), keys.back().id) == distinct.end())
            distinct.push_back(keys.back().id);
    }
    if (keys.empty()) return unexpected(makeError(ErrorCode::config, "list.trusted_keys is empty"));
    if (o.threshold < 1 || static_cast<std::size_t>(o.threshold) > distinct.size()) {
        return unexpected(makeError(
            ErrorCode::config, "list.threshold " + std::to_string(o.threshold) +
                                   " is not between 1 and the " + std::to_string(distinct.size()) +
                                   " distinct trusted keys"));
    }
    // One sync at a time per database (the daemon's poll and `sscardd sync` may meet).
    std::filesystem::path lock_path = o.database;
    lock_path += ".sync-lock";
    int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) return unexpected(failed(lock_path.string() + ": cannot open"));
    struct LockGuard {
        int fd;
        ~LockGuard() { ::close(fd); }
    } lock_guard{lock_fd};
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        return unexpected(makeError(ErrorCode::busy, "another list sync is running"));
    }
    auto store = Store::open(o.database);
    if (!store) return unexpected(store.error());
    auto meta = store->status();
    if (!meta) return unexpected(meta.error());
    const std::int64_t clock = o.now ? *o.now : unixSecondsNow();
    // Never before the newest verified feed time (for expiry checks and what is recorded).
    std::int64_t now = std::max(clock, meta->feed_time);

    SyncResult res;
    res.previous_version = res.version = meta->version;
    res.entries = static_cast<std::uint64_t>(meta->count);
    Fetcher f(o);

    // 1. the top file
    Download top;
    top.limit = o.limits.max_top_bytes;
    auto g = f.get(kTopFileName, top, meta->version > 0 ? meta->etag : "");
    if (!g) return unexpected(g.error());
    res.downloaded_bytes += top.received;
    if (top.status == 304) {
        // Nothing verified arrived: the list's age and expiry stay as they were.
        res.outcome = SyncOutcome::not_modified;
        return res;
    }
    auto tv = verifyDocument(top.memory, keys, "timestamp");
    if (!tv) return unexpected(tv.error());
    if (auto t = checkThreshold(*tv, o.threshold, "timestamp"); !t) return unexpected(t.error());
    auto tf = parseTopFile(tv->signed_part);
    if (!tf) return unexpected(tf.error());
    // Against the terminal's own clock, not the feed-time floor: a top file from the future would
    // otherwise move that floor ahead and age every entry and the list with it.
    if (tf->issued > clock + o.max_clock_skew_s) {
        return unexpected(
            rejected("clock skew: the top file was issued at " + formatTimestamp(tf->issued) +
                     ", later than this terminal's clock (" + formatTimestamp(clock) +
                     ") plus the " + std::to_string(o.max_clock_skew_s) +
                     " s allowed ([list] max_clock_skew); check the terminal's clock"));
    }
    if (tf->version < meta->version) {
        return unexpected(rejected("rollback: feed version " + std::to_string(tf->version) +
                                   " is below the stored version " +
                                   std::to_string(meta->version)));
    }
    if (tf->expires < now) {
        return unexpected(rejected("the feed's top file expired at " +
                                   formatTimestamp(tf->expires) +
                                   "; the list is not updated and goes stale"));
    }
    if (tf->version == meta->version) {
        // A re-signed top file of the same version: its later expiry (and issue time) count.
        auto t = store->touch(now, top.etag, tf->expires, tf->issued);
        if (!t) return unexpected(t.error());
        res.outcome = SyncOutcome::up_to_date;
        return res;
    }

    // 2. the manifest
    if (tf->manifest.length > o.limits.max_manifest_bytes) {
        return unexpected(rejected("manifest: signed length above the configured limit"));
    }
    Download man;
    man.limit = tf->manifest.length;
    g = f.get(tf->manifest.name(), man);
    if (!g) return unexpected(g.error());
    res.downloaded_bytes += man.received;
    auto c = checkRef(man, tf->manifest, "manifest");
    if (!c) return unexpected(c.error());
    auto mv = verifyDocument(man.memory, keys, "manifest");
    if (!mv) return unexpected(mv.error());
    if (auto t = checkThreshold(*mv, o.threshold, "manifest"); !t) return unexpected(t.error());
    auto mf = parseManifest(mv->signed_part);
    if (!mf) return unexpected(mf.error());
    if (mf->version != tf->version) {
        return unexpected(rejected("mixed versions: top file " + std::to_string(tf->version) +
                                   ", manifest " + std::to_string(mf->version)));
    }

    VersionInfo info;
    info.version = tf->version;
    info.expires = tf->expires;
    info.feed_time = tf->issued;
    info.now = std::max(now, tf->issued);
    info.count = mf->count;
    info.digest = mf->snapshot.sha256;
    info.key_ids = tv->key_ids;
    info.etag = top.etag;

    std::filesystem::path tmp = o.database;
    tmp += ".download";
    struct Cleanup {
        std::filesystem::path p;
        ~Cleanup() {
            std::error_code ec;
            std::filesystem::remove(p, ec);
        }
    } cleanup{tmp};

    // 3. a delta from our version, if offered
    if (meta->version > 0) {
        for (const auto& d : mf->deltas) {
            if (d.from != meta->version) continue;
            auto dl = downloadFile(f, o, d.file, tmp, "delta");
            if (auto late = f.checkDeadline(); !late) return unexpected(late.error());
            if (dl) {
                res.downloaded_bytes += *dl;
                auto a = store->applyDeltaFile(tmp, info);
                if (a) {
                    res.outcome = SyncOutcome::updated_delta;
                    res.version = info.version;
                    res.entries = mf->count;
                    return res;
                }
                res.note = "delta not applied (" + a.error().message + "); used the snapshot";
            } else {
                res.note = "delta not used (" + dl.error().message + "); used the snapshot";
            }
            break;
        }
    }

    // 4. the snapshot
    auto dl = downloadFile(f, o, mf->snapshot, tmp, "snapshot");
    if (!dl) return unexpected(dl.error());
    if (auto late = f.checkDeadline(); !late) return unexpected(late.error());
    res.downloaded_bytes += *dl;
    auto a = store->applySnapshotFile(tmp, info);
    if (!a) return unexpected(a.error());
    res.outcome = SyncOutcome::updated_snapshot;
    res.version = info.version;
    res.entries = mf->count;
    return res;
}

}  // namespace sscard::blacklist
