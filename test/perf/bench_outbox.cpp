// What durability costs: enqueue latency with synchronous=FULL (the outbox) and NORMAL, and audit
// record latency, on the file system of DIR.
//
//   bench_outbox [N [DIR]]     N events/entries per run (default 500), DIR default $TMPDIR or /tmp
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"

using namespace sscard::outbox;
using Micros = std::chrono::duration<double, std::micro>;

namespace {

void report(const char* what, std::vector<double> us) {
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
    double sum = 0;
    for (double v : us) sum += v;
    std::printf("%-34s n=%zu  mean %8.1f us  p50 %8.1f us  p99 %8.1f us  max %8.1f us\n", what,
                us.size(), sum / static_cast<double>(us.size()), at(0.5), at(0.99), us.back());
}

template <class F>
std::vector<double> timeEach(int n, F&& f) {
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        f(i);
        out.push_back(Micros(std::chrono::steady_clock::now() - t0).count());
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 500;
    if (n < 1) n = 1;
    std::string base = argc > 2 ? argv[2] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    std::string tmpl = base + "/sscard-bench-outbox-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
        std::perror("mkdtemp");
        return 1;
    }
    std::filesystem::path dir = tmpl;
    const CardRef card{"330300D15600000599110145FFFFFFFF", "330300", "B7K334774"};
    const nlohmann::json extra{{"reader", "Virtual PCD 00 00"}, {"pin_source", "host"}};
    int rc = 0;

    for (bool durable : {true, false}) {
        OutboxOptions o;
        o.terminal_id = "bench";
        o.durable = durable;
        auto ob = Outbox::open(dir / (durable ? "full.db" : "normal.db"), o);
        if (!ob) {
            std::fprintf(stderr, "%s\n", ob.error().message.c_str());
            return 1;
        }
        auto us = timeEach(n, [&](int) {
            if (!(*ob)->enqueue("card.activated", card, extra)) rc = 1;
        });
        report(durable ? "outbox enqueue, synchronous=FULL" : "outbox enqueue, synchronous=NORMAL",
               us);
        auto del = timeEach(n, [&](int) {
            auto p = (*ob)->pending(1);
            if (!p || p->empty() || !(*ob)->markDelivered(p->front().event_id)) rc = 1;
        });
        report(durable ? "pending(1)+markDelivered, FULL" : "pending(1)+markDelivered, NORMAL",
               del);
    }
    for (bool durable : {false, true}) {
        AuditOptions a;
        a.durable = durable;
        a.max_entries = n / 2 > 0 ? n / 2 : 1;  // pruning runs during the measurement
        auto log = AuditLog::open(dir / "audit.db", a);
        if (!log) {
            std::fprintf(stderr, "%s\n", log.error().message.c_str());
            return 1;
        }
        auto us = timeEach(n, [&](int i) {
            AuditRecord r;
            r.kind = "card.checked";
            r.reader = "Virtual PCD 00 00";
            r.card = card;
            r.decision = i % 10 == 0 ? "deny" : "allow";
            r.reason = i % 10 == 0 ? "frozen" : "ok";
            r.list_version = 42;
            r.list_age_s = 310;
            if (!(*log)->record(r)) rc = 1;
        });
        report(durable ? "audit record, synchronous=FULL" : "audit record, synchronous=NORMAL", us);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return rc;
}
