// Frozen-card list benchmark: publish, file sizes, full sync and delta sync from a real nginx on
// loopback (TLS), lookups, database size, peak RSS of a sync; and the baseline of a plain SQLite
// table with a text key loaded row by row.
//
//   bench_list [ENTRIES] [CHANGES] [nobaseline]   defaults 100000 and ENTRIES/10 (at most 100000)
//
// Build with -DCMAKE_BUILD_TYPE=Release for meaningful figures.
//
// Synthetic data: test/unit/blacklist/list_gen.hpp (its header says what the list looks like).
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "blacklist/codec.hpp"
#include "blacklist/publish.hpp"
#include "blacklist/store.hpp"
#include "blacklist/sync.hpp"
#include "crypto/ed25519.hpp"
#include "test/unit/blacklist/list_gen.hpp"

using namespace sscard;
using namespace sscard::blacklist;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::uint64_t dirBytes(const fs::path& db) {
    std::uint64_t n = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::path p = db;
        p += suffix;
        std::error_code ec;
        auto s = fs::file_size(p, ec);
        if (!ec) n += s;
    }
    return n;
}

// Runs `bench_list --sync URL DB PUB CA EXPECT` in a fresh process (so that its peak RSS is its
// own, not the generator's); returns its wall time and peak RSS (MiB).
std::pair<double, double> syncInChild(const SyncOptions& so, const char* expect) {
    auto t0 = Clock::now();
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
        std::string db = so.database.string(), pub = so.trusted_keys[0].string();
        ::execl("/proc/self/exe", "bench_list", "--sync", so.feed_url.c_str(), db.c_str(),
                pub.c_str(), so.ca_file.c_str(), expect, static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    struct rusage ru {};
    ::wait4(pid, &status, 0, &ru);
    double t = secondsSince(t0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "child failed\n");
        std::exit(1);
    }
    long hwm = 0;
    std::string path = so.database.string() + ".hwm";
    if (std::FILE* f = std::fopen(path.c_str(), "r")) {
        if (std::fscanf(f, "%ld", &hwm) != 1) hwm = 0;
        std::fclose(f);
    }
    return {t, static_cast<double>(hwm) / 1024.0};
}

struct Percentiles {
    double p50 = 0, p99 = 0;
};
Percentiles percentiles(std::vector<double>& ns) {
    std::sort(ns.begin(), ns.end());
    return {ns[ns.size() / 2] / 1000.0, ns[ns.size() * 99 / 100] / 1000.0};
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

}  // namespace

int syncMain(char** argv) {
    SyncOptions so;
    so.feed_url = argv[2];
    so.database = argv[3];
    so.trusted_keys = {argv[4]};
    so.ca_file = argv[5];
    auto r = syncOnce(so);
    if (!r) {
        std::fprintf(stderr, "sync: %s\n", r.error().message.c_str());
        return 1;
    }
    // peak RSS of this process image (ru_maxrss would include the forked parent's pages)
    std::FILE* f = std::fopen("/proc/self/status", "r");
    char line[256];
    long hwm = 0;
    while (f && std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "VmHWM: %ld kB", &hwm) == 1) break;
    }
    if (f) std::fclose(f);
    std::string out = std::string(argv[3]) + ".hwm";
    if (std::FILE* o = std::fopen(out.c_str(), "w")) {
        std::fprintf(o, "%ld\n", hwm);
        std::fclose(o);
    }
    return std::string(outcomeName(r->outcome)) == argv[6] ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc == 7 && std::string(argv[1]) == "--sync") return syncMain(argv);
    std::size_t n = argc > 1 ? static_cast<std::size_t>(std::atoll(argv[1])) : 100000;
    std::size_t changes = argc > 2
                              ? static_cast<std::size_t>(std::atoll(argv[2]))
                              : std::min<std::size_t>(100000, std::max<std::size_t>(n / 10, 3));
    fs::path root = fs::temp_directory_path() / ("sscard-bench-list-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "www" / "feed");
    std::printf("bench_list: %zu entries, %zu changes, work dir %s\n", n, changes, root.c_str());

    auto t0 = Clock::now();
    auto v1 = testgen::makeList(n, 1);
    std::printf("generate                 %8.2f s\n", secondsSince(t0));
    std::uint64_t csv_bytes = 0;
    for (const auto& r : v1) csv_bytes += csvLine(r).size();

    auto kp = crypto::ed25519Generate();
    if (!kp || !crypto::writeEd25519PublicKey(root / "feed.pub", kp->public_key)) return 1;
    PublishOptions po;
    po.out_dir = root / "www" / "feed";
    po.keys = {{kp->secret, kp->public_key}};
    t0 = Clock::now();
    auto p1 = publish(v1, po);
    if (!p1) return 1;
    double publish1 = secondsSince(t0);
    auto v2 = testgen::mutate(v1, changes, 2);
    t0 = Clock::now();
    auto p2 = publish(v2, po);
    if (!p2) return 1;
    double publish2 = secondsSince(t0);
    std::uint64_t delta_bytes = p2->deltas.empty() ? 0 : p2->deltas[0].second;
    std::printf("publish v1 (snapshot)    %8.2f s\n", publish1);
    std::printf("publish v2 (+delta)      %8.2f s\n", publish2);
    std::printf("CSV export               %8.2f bytes/entry (%llu bytes)\n",
                static_cast<double>(csv_bytes) / static_cast<double>(n),
                static_cast<unsigned long long>(csv_bytes));
    std::printf("snapshot                 %8.2f bytes/entry (%llu bytes)\n",
                static_cast<double>(p2->snapshot_bytes) / static_cast<double>(v2.size()),
                static_cast<unsigned long long>(p2->snapshot_bytes));
    std::printf("delta (%zu changes)   %8.2f bytes/change (%llu bytes)\n", changes,
                static_cast<double>(delta_bytes) / static_cast<double>(changes),
                static_cast<unsigned long long>(delta_bytes));
    // what the bytes go to: keys only (no fields) vs the whole records
    {
        std::vector<Record> keys_only = v2;
        for (auto& r : keys_only) {
            r.effective_at = 0;
            r.expires_at.reset();
            r.replaced_by.reset();
            r.state = State::frozen;
            if (r.has_id) r.number = 0;
        }
        // (id entries then keep region == id region, number 0: only the key is left)
        for (auto& r : keys_only) {
            if (r.has_id) r.region = r.id.hi >= 0 && r.id.hi <= 999999 ? r.id.hi : r.region;
        }
        Bytes k = encodeSnapshot(1, keys_only);
        std::printf("  of which keys only     %8.2f bytes/entry\n",
                    static_cast<double>(k.size()) / static_cast<double>(v2.size()));
    }

    // nginx on loopback
    int port = 30000 + ::getpid() % 20000;
    std::string server = std::string(SSCARD_FEED_SERVER_SH) + " %s " + (root / "www").string() +
                         " " + std::to_string(port) + " " + (root / "nginx").string() +
                         " >/dev/null";
    char cmd[4096];
    std::snprintf(cmd, sizeof cmd, server.c_str(), "start");
    if (std::system(cmd) != 0) {
        std::fprintf(stderr, "cannot start nginx\n");
        return 1;
    }
    SyncOptions so;
    so.feed_url = "https://127.0.0.1:" + std::to_string(port) + "/feed/";
    so.trusted_keys = {root / "feed.pub"};
    so.ca_file = (root / "nginx" / "ca.pem").string();

    // full sync of v2 into an empty database
    so.database = root / "full.db";
    auto [full_s, full_rss] = syncInChild(so, "updated_snapshot");
    std::printf("full sync (snapshot)     %8.2f s, peak RSS %.1f MiB\n", full_s, full_rss);

    // delta sync: a database at v1 (applied locally), then the sync fetches the delta 1 -> 2
    so.database = root / "delta.db";
    {
        auto s = Store::open(so.database);
        VersionInfo vi;
        vi.version = 1;
        vi.count = v1.size();
        vi.expires = 4'000'000'000;
        if (!s || !s->applyRecords(v1, vi)) return 1;
    }
    auto [delta_s, delta_rss] = syncInChild(so, "updated_delta");
    std::printf("delta sync (%zu chg)  %8.2f s, peak RSS %.1f MiB\n", changes, delta_s, delta_rss);
    std::snprintf(cmd, sizeof cmd, server.c_str(), "stop");
    (void)std::system(cmd);

    // lookups (the whole card check: card_id, then region+number) on the full database
    {
        auto s = Store::open(root / "full.db", true);
        if (!s) return 1;
        std::mt19937_64 rng(7);
        std::vector<double> hit, miss;
        const int samples = 100000;
        std::vector<CardFacts> hits, misses;
        for (int i = 0; i < samples; ++i) {
            Entry e = toEntry(v2[rng() % v2.size()]);
            hits.push_back({e.card_id, e.region, e.card_number, std::nullopt});
            Record m = v2[rng() % v2.size()];
            m.id.lo ^= 0x5A5A;
            m.number = (m.number + 1) % 1'000'000'000LL;
            Entry me = toEntry(m);
            misses.push_back({me.card_id.value_or(decodeCardId(IdKey{110100, 42})), me.region,
                              me.card_number, std::nullopt});
        }
        for (int round = 0; round < 2; ++round) {  // first round warms the cache
            hit.clear();
            miss.clear();
            for (int i = 0; i < samples; ++i) {
                auto a = Clock::now();
                auto r = s->lookup(hits[static_cast<std::size_t>(i)]);
                auto b = Clock::now();
                if (!r || r->empty()) return 1;
                hit.push_back(std::chrono::duration<double, std::nano>(b - a).count());
                a = Clock::now();
                auto q = s->lookup(misses[static_cast<std::size_t>(i)]);
                b = Clock::now();
                if (!q) return 1;
                miss.push_back(std::chrono::duration<double, std::nano>(b - a).count());
            }
        }
        auto ph = percentiles(hit), pm = percentiles(miss);
        std::printf("lookup hit               p50 %6.2f us, p99 %6.2f us\n", ph.p50, ph.p99);
        std::printf("lookup miss              p50 %6.2f us, p99 %6.2f us\n", pm.p50, pm.p99);
    }
    std::printf("database                 %8.1f MiB (%.1f bytes/entry)\n",
                static_cast<double>(dirBytes(root / "full.db")) / 1048576.0,
                static_cast<double>(dirBytes(root / "full.db")) / static_cast<double>(v2.size()));

    // lookups again with a bounded mmap (Store::setMmapSize)
    {
        auto s = Store::open(root / "full.db", true);
        if (!s || !s->setMmapSize(1LL << 30)) return 1;
        std::mt19937_64 rng(9);
        std::vector<CardFacts> hits;
        for (int i = 0; i < 100000; ++i) {
            Entry e = toEntry(v2[rng() % v2.size()]);
            hits.push_back({e.card_id, e.region, e.card_number, std::nullopt});
        }
        std::vector<double> ns;
        for (int round = 0; round < 2; ++round) {
            ns.clear();
            for (const auto& c : hits) {
                auto a = Clock::now();
                auto r = s->lookup(c);
                auto b = Clock::now();
                if (!r || r->empty()) return 1;
                ns.push_back(std::chrono::duration<double, std::nano>(b - a).count());
            }
        }
        auto p = percentiles(ns);
        std::printf("lookup hit, mmap 1 GiB   p50 %6.2f us, p99 %6.2f us\n", p.p50, p.p99);
    }

    // baseline: plain table, text key, loaded row by row (one INSERT per row, file order)
    if (!(argc > 3 && std::string(argv[3]) == "nobaseline")) {
        fs::path db = root / "baseline.db";
        sqlite3* h = nullptr;
        sqlite3_open(db.c_str(), &h);
        sqlite3_exec(h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE plain(card TEXT PRIMARY KEY, state TEXT, effective_at TEXT,"
                     " expires_at TEXT, replaced_by TEXT)",
                     nullptr, nullptr, nullptr);
        std::vector<std::size_t> order(v2.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
        sqlite3_stmt* ins = nullptr;
        sqlite3_prepare_v2(h, "INSERT INTO plain VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins, nullptr);
        auto key = [](const Entry& e) {
            return e.card_id ? *e.card_id : e.region + "-" + e.card_number;
        };
        t0 = Clock::now();
        sqlite3_exec(h, "BEGIN", nullptr, nullptr, nullptr);
        for (std::size_t i : order) {
            Entry e = toEntry(v2[i]);
            std::string k = key(e), eff = formatTimestamp(e.effective_at);
            std::string exp = e.expires_at ? formatTimestamp(*e.expires_at) : "";
            sqlite3_bind_text(ins, 1, k.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, std::string(stateName(e.state)).c_str(), -1,
                              SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 3, eff.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 4, exp.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 5, e.replaced_by.value_or("").c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
        sqlite3_exec(h, "COMMIT", nullptr, nullptr, nullptr);
        double load = secondsSince(t0);
        sqlite3_finalize(ins);
        sqlite3_stmt* get = nullptr;
        sqlite3_prepare_v2(h, "SELECT state FROM plain WHERE card=?1", -1, &get, nullptr);
        std::mt19937_64 rng(7);
        std::vector<double> ns;
        for (int round = 0; round < 2; ++round) {
            ns.clear();
            for (int i = 0; i < 100000; ++i) {
                std::string k = key(toEntry(v2[rng() % v2.size()]));
                auto a = Clock::now();
                sqlite3_bind_text(get, 1, k.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_step(get);
                sqlite3_reset(get);
                auto b = Clock::now();
                ns.push_back(std::chrono::duration<double, std::nano>(b - a).count());
            }
        }
        sqlite3_finalize(get);
        sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
        sqlite3_close(h);
        auto p = percentiles(ns);
        std::printf("baseline load (text key) %8.2f s (%.0f rows/s)\n", load,
                    static_cast<double>(v2.size()) / load);
        std::printf("baseline lookup hit      p50 %6.2f us, p99 %6.2f us\n", p.p50, p.p99);
        std::printf("baseline database        %8.1f MiB (%.1f bytes/entry)\n",
                    static_cast<double>(dirBytes(db)) / 1048576.0,
                    static_cast<double>(dirBytes(db)) / static_cast<double>(v2.size()));
    }
    fs::remove_all(root);
    return 0;
}
