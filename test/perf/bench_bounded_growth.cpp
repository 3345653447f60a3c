// Bounded growth: N card.checked decisions recorded as the service records them (EventRecorder:
// audit row + backend event, a backend configured), as fast as they come. Prints the outbox's
// depth and drops, the writer queue's drops, the database's size on disk and the RSS, and fails
// when the outbox exceeds [backend] max_events or the file or the RSS exceed the stated bounds.
//
//   bench_bounded_growth CHECKS MAX_EVENTS MAX_AUDIT FILE_BOUND_MB RSS_GROWTH_BOUND_MB
//
// CI runs 20 000 checks with small bounds; the README gives a run of 100 000. The outbox runs with
// synchronous=NORMAL here (the service's FULL costs an fsync per event: the same rows, slower).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"
#include "daemon/service/event_recorder.hpp"

using namespace sscard;

namespace {

long rssKiB() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            long kib = 0;
            status >> kib;
            return kib;
        }
        std::string rest;
        std::getline(status, rest);
    }
    return -1;
}

std::uintmax_t filesSize(const std::filesystem::path& db) {
    std::uintmax_t total = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        auto n = std::filesystem::file_size(db.string() + suffix, ec);
        if (!ec) total += n;
    }
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr,
                     "usage: %s CHECKS MAX_EVENTS MAX_AUDIT FILE_BOUND_MB RSS_GROWTH_BOUND_MB\n",
                     argv[0]);
        return 2;
    }
    const long checks = std::atol(argv[1]);
    const long maxEvents = std::atol(argv[2]);
    const long maxAudit = std::atol(argv[3]);
    const double fileBoundMb = std::atof(argv[4]);
    const double rssBoundMb = std::atof(argv[5]);

    std::string tmpl = "/tmp/sscard-bounded-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return 2;
    std::filesystem::path dir = tmpl;
    std::filesystem::path db = dir / "outbox.db";

    outbox::OutboxOptions o;
    o.terminal_id = "bench";
    o.durable = false;
    o.max_events = maxEvents;
    auto box = outbox::Outbox::open(db, o);
    outbox::AuditOptions a;
    a.max_entries = maxAudit;
    auto audit = outbox::AuditLog::open(db, a);
    if (!box || !audit) {
        std::fprintf(stderr, "cannot open %s\n", db.c_str());
        return 2;
    }
    ssse::CardInfo card;
    card.card_id = "330300D15600000599110145FFFFFFFF";
    card.region = "330300";
    card.card_number = "B7K334774";
    blacklist::Decision decision;
    decision.allow = true;

    long rssBefore = rssKiB();
    long rssPeak = rssBefore;
    auto start = std::chrono::steady_clock::now();
    daemon::EventRecorder::Stats writer;
    {
        daemon::EventRecorder events(box->get(), audit->get());
        for (long i = 0; i < checks; ++i) {
            events.decision("Virtual PCD 00 00", card, decision);
            // Paced like a client whose checks wait for the card: every check is written (a
            // flood beyond the writer's queue is dropped and counted; the unit tests show that).
            while (events.stats().queued > 1000)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (i % 1000 == 0) rssPeak = std::max(rssPeak, rssKiB());
        }
        events.stop();
        writer = events.stats();
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rssPeak = std::max(rssPeak, rssKiB());
    auto queued = (*box)->count();
    auto bound = (*box)->boundStats();
    auto audited = (*audit)->count();
    double fileMb = static_cast<double>(filesSize(db)) / (1024.0 * 1024.0);
    double rssGrowthMb = static_cast<double>(rssPeak - rssBefore) / 1024.0;

    std::printf(
        "checks %ld in %.1f s: outbox %lld queued (max %ld), %llu dropped; audit %lld rows "
        "(max %ld); writer dropped %llu; file %.1f MiB (bound %.1f); RSS +%.1f MiB "
        "(bound %.1f)\n",
        checks, seconds, static_cast<long long>(queued ? *queued : -1), maxEvents,
        static_cast<unsigned long long>(bound.dropped),
        static_cast<long long>(audited ? *audited : -1), maxAudit,
        static_cast<unsigned long long>(writer.dropped), fileMb, fileBoundMb, rssGrowthMb,
        rssBoundMb);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);

    // The audit log prunes every prune_every records: it may be that many over max_entries.
    // Every check went somewhere: queued, or dropped (oldest first) and counted.
    bool accounted = queued && static_cast<long long>(bound.dropped + writer.dropped) + *queued ==
                                   static_cast<long long>(checks);
    bool ok = accounted && *queued <= maxEvents && audited &&
              *audited <= maxAudit + static_cast<long long>(a.prune_every) &&
              fileMb <= fileBoundMb && rssGrowthMb <= rssBoundMb;
    if (!ok) std::printf("FAILED: a bound did not hold\n");
    return ok ? 0 : 1;
}
