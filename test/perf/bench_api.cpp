// The local API under load: N concurrent clients, each calling `status` (a trivial registered
// handler) M times in a row over its own connection. Prints requests/s and the latency
// percentiles of one call as a client sees it (write, server dispatch to a worker, answer, read).
//
//   bench_api [CLIENTS=200] [CALLS_PER_CLIENT=500]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/server.hpp"
#include "test/unit/api/api_client.hpp"
#include "test/unit/api/server_fixture.hpp"

using namespace sscard::api;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    int clients = argc > 1 ? std::atoi(argv[1]) : 200;
    int calls = argc > 2 ? std::atoi(argv[2]) : 500;
    if (clients <= 0 || calls <= 0) {
        std::fprintf(stderr, "usage: bench_api [CLIENTS] [CALLS_PER_CLIENT]\n");
        return 2;
    }
    test::TempDir dir;
    ServerOptions options;
    options.socket_path = dir.path() + "/bench.sock";
    options.socket_group = "";
    options.max_clients = static_cast<std::size_t>(clients) + 8;
    // Every client is this process's uid: the per-user cap ([api] max_clients_per_user) would turn
    // all but 32 of them away.
    options.max_clients_per_user = options.max_clients;
    Server server(options);
    auto started = Clock::now();
    bool registered = server.registerMethod("status", [started](const Caller&, const json&,
                                                                Reply reply) {
        auto up = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started);
        reply(json{{"version", "bench"}, {"uptime_s", up.count()}, {"list", {{"version", 42}}}});
    });
    if (!registered) {
        std::fprintf(stderr, "bench_api: cannot register status\n");
        return 1;
    }
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "bench_api: %s\n", r.error().message.c_str());
        return 1;
    }

    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    std::atomic<int> failures{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            test::LineClient client(options.socket_path);
            auto& mine = latencies[static_cast<std::size_t>(c)];
            mine.reserve(static_cast<std::size_t>(calls));
            ++ready;
            while (!go.load()) std::this_thread::yield();
            if (!client.connected()) {
                failures += calls;
                return;
            }
            for (int i = 0; i < calls; ++i) {
                auto t0 = Clock::now();
                if (!client.call(i, "status")) {
                    ++failures;
                    continue;
                }
                auto line = client.readJson(std::chrono::seconds(10));
                if (!line || !(*line).contains("result") || (*line)["id"] != i) {
                    ++failures;
                    continue;
                }
                mine.push_back(
                    std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            }
        });
    }
    while (ready.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto t0 = Clock::now();
    go = true;
    for (auto& t : threads) t.join();
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    server.stop();

    std::vector<double> all;
    for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    auto pct = [&all](double p) {
        if (all.empty()) return 0.0;
        auto i = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
        return all[i];
    };
    std::printf("bench_api: %d clients x %d status calls: %zu ok, %d failed in %.2f s\n", clients,
                calls, all.size(), failures.load(), seconds);
    std::printf("  throughput %.0f requests/s\n", static_cast<double>(all.size()) / seconds);
    std::printf("  latency p50 %.0f us, p99 %.0f us, max %.0f us\n", pct(0.50), pct(0.99),
                all.empty() ? 0.0 : all.back());
    return failures.load() == 0 ? 0 : 1;
}
