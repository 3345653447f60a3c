// The list feed end to end: sscard-feed publishes into a directory that a real nginx serves over
// TLS (test CA, test/env/feed-server.sh); the sync client runs against it. Every TUF attack of
// docs/feed.md is tried and must be refused with the list unchanged.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "blacklist/codec.hpp"
#include "blacklist/feed.hpp"
#include "blacklist/publish.hpp"
#include "blacklist/store.hpp"
#include "blacklist/sync.hpp"
#include "crypto/ed25519.hpp"
#include "test/unit/blacklist/list_gen.hpp"

using namespace sscard;
using namespace sscard::blacklist;
namespace fs = std::filesystem;

namespace {

int run(const std::string& cmd) {
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

struct Env {
    fs::path root, www, state, keys1, keys2;
    int port = 0;
    bool started = false;

    Env() {
        root = fs::temp_directory_path() / ("sscard-list-it-" + std::to_string(::getpid()));
        fs::remove_all(root);
        www = root / "www";
        state = root / "nginx";
        keys1 = root / "keys1";
        keys2 = root / "keys2";
        fs::create_directories(www);
        REQUIRE(run(std::string(SSCARD_FEED_BIN) + " keygen --out " + keys1.string() +
                    " >/dev/null") == 0);
        REQUIRE(run(std::string(SSCARD_FEED_BIN) + " keygen --out " + keys2.string() +
                    " >/dev/null") == 0);
        const char* p = std::getenv("SSCARD_TEST_FEED_PORT");
        port = p ? std::atoi(p) : 20000 + ::getpid() % 20000;
        for (int attempt = 0; attempt < 5 && !started; ++attempt, ++port) {
            started = run(std::string(SSCARD_FEED_SERVER_SH) + " start " + www.string() + " " +
                          std::to_string(port) + " " + state.string() + " >/dev/null") == 0;
        }
        --port;
        REQUIRE(started);
    }
    ~Env() {
        if (started) {
            run(std::string(SSCARD_FEED_SERVER_SH) + " stop " + www.string() + " " +
                std::to_string(port) + " " + state.string());
        }
        fs::remove_all(root);
    }
    std::string url(const std::string& feed) const {
        return "https://127.0.0.1:" + std::to_string(port) + "/" + feed + "/";
    }
};

Env& env() {
    static Env e;
    return e;
}

std::string csvLine(const Record& r) {
    Entry e = toEntry(r);
    std::string s = e.region + "," + e.card_number + "," + e.card_id.value_or("") + "," +
                    std::string(stateName(e.state)) + "," + formatTimestamp(e.effective_at) + ",";
    if (e.expires_at) s += formatTimestamp(*e.expires_at);
    s += ",";
    if (e.replaced_by) s += *e.replaced_by;
    return s + "\n";
}

// Publishes through the command line.
int publishCli(const std::string& feed, const std::vector<Record>& list,
               const std::string& extra = "", const fs::path& key = {}) {
    fs::path csv = env().root / (feed + ".csv");
    {
        std::ofstream out(csv);
        out << "region,card_number,card_id,state,effective_at,expires_at,replaced_by\n";
        for (const auto& r : list) out << csvLine(r);
    }
    fs::path k = key.empty() ? env().keys1 / "feed.key" : key;
    return run(std::string(SSCARD_FEED_BIN) + " publish --key " + k.string() + " --input " +
               csv.string() + " --out " + (env().www / feed).string() + " " + extra +
               " >/dev/null");
}

SigningKey signingKey(const fs::path& dir) {
    auto sec = crypto::readEd25519PrivateKey(dir / "feed.key");
    REQUIRE(sec);
    auto pub = crypto::ed25519PublicFromSecret(*sec);
    REQUIRE(pub);
    return {*sec, *pub};
}

// Publishes through the library (big lists; forced versions).
void publishLib(const std::string& feed, const std::vector<Record>& list, std::int64_t version = 0,
                std::int64_t expires_s = 86400) {
    PublishOptions o;
    o.out_dir = env().www / feed;
    o.keys = {signingKey(env().keys1)};
    o.version = version;
    o.expires_s = expires_s;
    fs::create_directories(o.out_dir);
    auto r = publish(list, o);
    REQUIRE(r);
}

SyncOptions opts(const std::string& feed, const fs::path& db) {
    SyncOptions o;
    o.feed_url = env().url(feed);
    o.trusted_keys = {env().keys1 / "feed.pub"};
    o.database = db;
    o.ca_file = (env().state / "ca.pem").string();
    o.limits.connect_timeout_s = 5;
    o.limits.low_speed_time_s = 3;
    o.limits.low_speed_bytes_per_s = 1000;
    return o;
}

struct Snap {
    std::int64_t version = 0, count = 0;
    std::string digest;
    bool operator==(const Snap&) const = default;
};

Snap snap(const fs::path& db) {
    auto s = Store::open(db);
    REQUIRE(s);
    auto m = s->status();
    REQUIRE(m);
    REQUIRE(s->integrityCheck());
    auto rows = s->countRows();
    REQUIRE(rows);
    CHECK(*rows == m->count);  // the rows really are the version's rows
    return {m->version, m->count, m->digest};
}

void copyFeed(const std::string& from, const std::string& to) {
    fs::remove_all(env().www / to);
    fs::copy(env().www / from, env().www / to, fs::copy_options::recursive);
}

TopFile readTop(const std::string& feed) {
    std::ifstream in(env().www / feed / kTopFileName);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto e = parseEnvelope(text, "timestamp");
    REQUIRE(e);
    auto t = parseTopFile((*e)["signed"]);
    REQUIRE(t);
    return *t;
}

Manifest readManifest(const std::string& feed) {
    TopFile t = readTop(feed);
    std::ifstream in(env().www / feed / t.manifest.name());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto e = parseEnvelope(text, "manifest");
    REQUIRE(e);
    auto m = parseManifest((*e)["signed"]);
    REQUIRE(m);
    return *m;
}

void flipByte(const fs::path& p, std::size_t at_from_end = 10) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    auto size = static_cast<std::size_t>(f.tellg());
    std::size_t pos = size > at_from_end ? size - at_from_end : 0;
    f.seekg(static_cast<std::streamoff>(pos));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
}

void writeText(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

fs::path newDb(const std::string& name) {
    fs::path d = env().root / "db" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d / "list.db";
}

}  // namespace

TEST_CASE("fresh sync - 304 - delta sync - snapshot fallback") {
    auto v1 = testgen::makeList(5000, 11);
    REQUIRE(publishCli("basic", v1) == 0);
    fs::path db = newDb("basic");
    auto r = syncOnce(opts("basic", db));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    CHECK(r->outcome == SyncOutcome::updated_snapshot);
    CHECK(r->version == 1);
    CHECK(snap(db).count == static_cast<std::int64_t>(v1.size()));
    {
        auto s = Store::open(db);
        Entry e = toEntry(v1[100]);
        auto got =
            e.card_id ? s->lookupCardId(*e.card_id) : s->lookupNumber(e.region, e.card_number);
        REQUIRE(got);
        REQUIRE(*got);
        CHECK(**got == e);
    }

    r = syncOnce(opts("basic", db));
    REQUIRE(r);
    CHECK(r->outcome == SyncOutcome::not_modified);

    auto v2 = testgen::mutate(v1, 300, 12);
    REQUIRE(publishCli("basic", v2) == 0);
    r = syncOnce(opts("basic", db));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    CHECK(r->outcome == SyncOutcome::updated_delta);
    CHECK(r->version == 2);
    Snap after2 = snap(db);
    CHECK(after2.count == static_cast<std::int64_t>(v2.size()));
    CHECK(after2.digest == readManifest("basic").snapshot.sha256);

    // the delta from 2 is damaged: the client falls back to the snapshot
    auto v3 = testgen::mutate(v2, 200, 13);
    REQUIRE(publishCli("basic", v3) == 0);
    Manifest m3 = readManifest("basic");
    bool found = false;
    for (const auto& d : m3.deltas) {
        if (d.from == 2) {
            flipByte(env().www / "basic" / d.file.name());
            found = true;
        }
    }
    REQUIRE(found);
    r = syncOnce(opts("basic", db));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    CHECK(r->outcome == SyncOutcome::updated_snapshot);
    CHECK(r->note.find("delta") != std::string::npos);
    CHECK(snap(db).count == static_cast<std::int64_t>(v3.size()));

    // a terminal two versions behind gets the cumulative delta from its version
    fs::path db1 = newDb("basic-behind");
    REQUIRE(Store::open(db1)->applySnapshot(encodeSnapshot(1, v1), [&] {
        VersionInfo i;
        i.version = 1;
        i.count = v1.size();
        i.expires = readTop("basic").expires;
        return i;
    }()));
    r = syncOnce(opts("basic", db1));
    REQUIRE(r);
    CHECK(r->outcome == SyncOutcome::updated_delta);
    CHECK(snap(db1).count == static_cast<std::int64_t>(v3.size()));
}

TEST_CASE("TUF attacks are refused and leave the list unchanged") {
    // doctest runs this body once per SUBCASE: start from scratch every time
    fs::remove_all(env().www / "good");
    auto v1 = testgen::makeList(3000, 21);
    auto v2 = testgen::mutate(v1, 100, 22);
    publishLib("good", v1);
    copyFeed("good", "good-v1");
    publishLib("good", v2);
    fs::path db = newDb("attacks");
    auto r = syncOnce(opts("good", db));
    REQUIRE(r);
    const Snap base = snap(db);
    CHECK(base.version == 2);
    auto v3 = testgen::mutate(v2, 100, 23);

    auto expectRefused = [&](const std::string& feed, ErrorCode code, const char* what) {
        INFO(what);
        // nginx's ETag is mtime-size: a hand-edited top file written within the same second as the
        // genuine one, with the same size, would draw a 304. Give it a unique mtime.
        static int bump = 0;
        fs::last_write_time(env().www / feed / kTopFileName, fs::file_time_type::clock::now() +
                                                                 std::chrono::hours(1) +
                                                                 std::chrono::seconds(++bump));
        auto res = syncOnce(opts(feed, db));
        CHECK_FALSE(res.has_value());
        if (!res) {
            CHECK_MESSAGE(res.error().code == code, res.error().message);
            MESSAGE((std::string(what) + ": " + res.error().message));
        }
        CHECK(snap(db) == base);
    };

    // a new version (3) prepared in a copy, then damaged in one way each
    auto prepare = [&](const std::string& name) {
        copyFeed("good", name);
        PublishOptions o;
        o.out_dir = env().www / name;
        o.keys = {signingKey(env().keys1)};
        REQUIRE(publish(v3, o));
    };

    SUBCASE("flipped byte in the top file") {
        prepare("flip-top");
        auto p = env().www / "flip-top" / kTopFileName;
        std::ifstream in(p);
        std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto pos = t.find("\"version\": 3");
        REQUIRE(pos != std::string::npos);
        t[pos + 11] = '4';
        writeText(p, t);
        expectRefused("flip-top", ErrorCode::feed_rejected, "flipped top file");
        prepare("flip-top2");
        flipByte(env().www / "flip-top2" / kTopFileName, 20);  // inside the signature
        expectRefused("flip-top2", ErrorCode::feed_rejected, "flipped signature");
    }
    SUBCASE("flipped byte in the manifest") {
        prepare("flip-man");
        flipByte(env().www / "flip-man" / readTop("flip-man").manifest.name(), 40);
        expectRefused("flip-man", ErrorCode::feed_rejected, "flipped manifest");
    }
    SUBCASE("flipped byte in the delta and the snapshot") {
        prepare("flip-files");
        Manifest m = readManifest("flip-files");
        for (const auto& d : m.deltas) flipByte(env().www / "flip-files" / d.file.name());
        flipByte(env().www / "flip-files" / m.snapshot.name());
        expectRefused("flip-files", ErrorCode::feed_rejected, "flipped delta and snapshot");
    }
    SUBCASE("wrong key") {
        copyFeed("good", "wrong-key");
        PublishOptions o;
        o.out_dir = env().www / "wrong-key";
        o.keys = {signingKey(env().keys2)};
        REQUIRE(publish(v3, o));
        expectRefused("wrong-key", ErrorCode::feed_rejected, "wrong key");
    }
    SUBCASE("rollback to an older, validly signed feed") {
        expectRefused("good-v1", ErrorCode::feed_rejected, "rollback");
    }
    SUBCASE("expired top file: refused, and the list reports stale after grace") {
        copyFeed("good", "expired");
        PublishOptions o;
        o.out_dir = env().www / "expired";
        o.keys = {signingKey(env().keys1)};
        o.expires_s = 60;
        REQUIRE(publish(v3, o));
        auto so = opts("expired", db);
        so.now = readTop("expired").issued + 120;
        auto res = syncOnce(so);
        REQUIRE_FALSE(res);
        CHECK(res.error().code == ErrorCode::feed_rejected);
        CHECK(snap(db) == base);
        auto s = Store::open(db);
        auto m = s->status();
        REQUIRE(m);
        CHECK(listState(*m, m->expires + 86400 + 1, 86400).stale);
        CHECK_FALSE(listState(*m, m->expires + 86400 - 1, 86400).stale);
    }
    SUBCASE("mixed versions: a signed top file naming another version's manifest") {
        prepare("mixed");
        TopFile t = readTop("mixed");
        TopFile old = readTop("good");
        t.manifest = old.manifest;  // version 2's manifest, correctly hashed
        auto text = signDocument(toSignedJson(t), {signingKey(env().keys1)});
        REQUIRE(text);
        writeText(env().www / "mixed" / kTopFileName, *text);
        expectRefused("mixed", ErrorCode::feed_rejected, "mixed versions");
        // and a version-3 file served under version 2's name: hash mismatch
        prepare("mixed2");
        Manifest m3 = readManifest("mixed2");
        fs::copy_file(env().www / "good" / readManifest("good").snapshot.name(),
                      env().www / "mixed2" / m3.snapshot.name(),
                      fs::copy_options::overwrite_existing);
        for (const auto& d : m3.deltas) fs::remove(env().www / "mixed2" / d.file.name());
        expectRefused("mixed2", ErrorCode::feed_rejected, "old snapshot under the new name");
    }
    SUBCASE("oversized and endless files") {
        prepare("oversized");
        Manifest m = readManifest("oversized");
        for (const auto& d : m.deltas) {
            std::ofstream(env().www / "oversized" / d.file.name(), std::ios::app) << "extra";
        }
        {
            std::ofstream out(env().www / "oversized" / m.snapshot.name(),
                              std::ios::app | std::ios::binary);
            std::string chunk(1 << 20, 'x');
            for (int i = 0; i < 64; ++i) out << chunk;  // 64 MiB more than signed
        }
        expectRefused("oversized", ErrorCode::feed_rejected, "oversized");
        // a top file larger than the top-file limit
        prepare("huge-top");
        {
            std::ofstream out(env().www / "huge-top" / kTopFileName, std::ios::app);
            out << std::string(200 * 1024, ' ');
        }
        expectRefused("huge-top", ErrorCode::feed_rejected, "huge top file");
        // the signed length itself above the configured limit
        prepare("limit");
        auto so = opts("limit", db);
        so.limits.max_file_bytes = 100;
        auto res = syncOnce(so);
        REQUIRE_FALSE(res);
        CHECK(res.error().code == ErrorCode::feed_rejected);
        CHECK(snap(db) == base);
    }
    SUBCASE("huge version number") {
        // unsigned: the signature fails
        prepare("huge");
        auto p = env().www / "huge" / kTopFileName;
        std::ifstream in(p);
        std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto pos = t.find("\"version\": 3");
        REQUIRE(pos != std::string::npos);
        t.replace(pos, 12, "\"version\": 18446744073709551615");
        writeText(p, t);
        expectRefused("huge", ErrorCode::feed_rejected, "huge version, not re-signed");
        // signed, but beyond the range versions may take
        prepare("huge2");
        TopFile top = readTop("huge2");
        nlohmann::json j = toSignedJson(top);
        j["version"] = 1ULL << 60;
        auto text = signDocument(j, {signingKey(env().keys1)});
        REQUIRE(text);
        writeText(env().www / "huge2" / kTopFileName, *text);
        expectRefused("huge2", ErrorCode::feed_rejected, "huge version, signed");
    }
    SUBCASE("slow retrieval: a trickling server is given up") {
        prepare("slowfeed");
        auto so = opts("slowfeed", db);
        so.feed_url = "https://127.0.0.1:" + std::to_string(env().port) + "/slow/slowfeed/";
        so.limits.low_speed_bytes_per_s = 1000;
        so.limits.low_speed_time_s = 2;
        auto res = syncOnce(so);
        REQUIRE_FALSE(res);
        CHECK(res.error().code == ErrorCode::sync_failed);
        CHECK(snap(db) == base);
    }
    SUBCASE("TLS: a server the CA file does not vouch for") {
        prepare("tls");
        auto so = opts("tls", db);
        so.ca_file = (env().keys1 / "feed.pub").string();  // not a CA
        auto res = syncOnce(so);
        REQUIRE_FALSE(res);
        CHECK(res.error().code == ErrorCode::sync_failed);
        CHECK(snap(db) == base);
    }
    // after every attack, the genuine feed still syncs
    prepare("after");
    auto ok = syncOnce(opts("after", db));
    REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
    CHECK(ok->version == 3);
}

TEST_CASE("sscard-feed refuses bad rows with line numbers and usage errors with status 2") {
    fs::path csv = env().root / "bad.csv";
    writeText(csv,
              "region,card_number,card_id,state,effective_at,expires_at,replaced_by\n"
              "330300,B7K334774,,frozen,2026-11-20T10:00:00+08:00,,\n"
              "330300,B7K334774,,lost,2026-11-20T10:00:00+08:00,,\n");
    fs::path err = env().root / "bad.err";
    int rc = run(std::string(SSCARD_FEED_BIN) + " publish --key " +
                 (env().keys1 / "feed.key").string() + " --input " + csv.string() + " --out " +
                 (env().www / "bad").string() + " 2>" + err.string());
    CHECK(rc == 2);
    std::ifstream in(err);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("bad.csv:3: bad state") != std::string::npos);
    CHECK_FALSE(fs::exists(env().www / "bad" / kTopFileName));
    CHECK(run(std::string(SSCARD_FEED_BIN) + " publish --input x 2>/dev/null") == 2);
    CHECK(run(std::string(SSCARD_FEED_BIN) + " 2>/dev/null >/dev/null") == 2);
    CHECK(run(std::string(SSCARD_FEED_BIN) + " keygen --out " + env().keys1.string() +
              " >/dev/null 2>&1") != 0);  // never overwrites a key
}

TEST_CASE("kill -9 at random moments of a large sync leaves a whole version") {
    const std::size_t n =
        std::getenv("SSCARD_KILL_TEST_ENTRIES")
            ? static_cast<std::size_t>(std::atol(std::getenv("SSCARD_KILL_TEST_ENTRIES")))
            : 1'000'000;
    auto v1 = testgen::makeList(n, 31);
    publishLib("big", v1);
    std::int64_t v1_count = static_cast<std::int64_t>(v1.size());
    auto v2 = testgen::mutate(v1, n / 3, 32);  // a big change: the delta is close to a snapshot
    std::int64_t v2_count = static_cast<std::int64_t>(v2.size());
    v1.clear();
    v1.shrink_to_fit();
    // how long an undisturbed full sync takes, to kill within it
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(syncOnce(opts("big", newDb("kill-timing"))));
    auto full_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    MESSAGE("undisturbed sync of " << n << " entries: " << full_ms << " ms");
    fs::path db = newDb("kill");
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    bool published_v2 = false;
    int killed_mid = 0;
    for (int round = 0; round < 8; ++round) {
        if (round == 4 && !published_v2) {
            publishLib("big", v2);
            published_v2 = true;
        }
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            auto r = syncOnce(opts("big", db));
            ::_exit(r ? 0 : 1);
        }
        int delay_ms = static_cast<int>(rng() % static_cast<unsigned>(full_ms + 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        int status = 0;
        bool killed = ::waitpid(pid, &status, WNOHANG) == 0;
        if (killed) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ++killed_mid;
        }
        auto s = Store::open(db);
        REQUIRE(s);
        REQUIRE(s->integrityCheck());
        auto m = s->status();
        REQUIRE(m);
        // a whole version: its count, and as many rows as it says
        auto rows = s->countRows();
        REQUIRE(rows);
        CHECK(*rows == m->count);
        INFO("round " << round << " killed after " << delay_ms << " ms: version " << m->version);
        if (m->version == 0) CHECK(m->count == 0);
        if (m->version == 1) CHECK(m->count == v1_count);
        if (m->version == 2) CHECK(m->count == v2_count);
    }
    MESSAGE("killed mid-sync " << killed_mid << " of 8 times");
    auto r = syncOnce(opts("big", db));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    CHECK(r->version == 2);
    CHECK(snap(db).count == v2_count);
}
