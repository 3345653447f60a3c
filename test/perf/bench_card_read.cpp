// Card read benchmark: APDUs and wall time of sscard's read against the typical vendor sequence
// (SELECT, SELECT EF05, seven READ RECORDs), on whatever card sits in the reader (the virtual card
// with a chosen latency in test/perf/bench_card_read.sh). Software overhead is sscard's read time
// minus the time of replaying exactly its APDUs raw through the same transport.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "apdu/command.hpp"
#include "apdu/pcsc/provider.hpp"
#include "apdu/ssse/application.hpp"
#include "daemon/readers.hpp"

using namespace sscard;
using Clock = std::chrono::steady_clock;

namespace {

struct Series {
    std::vector<double> ms;
    std::uint64_t apdus = 0;
    double pct(double p) const {
        std::vector<double> s = ms;
        std::sort(s.begin(), s.end());
        return s[std::min(s.size() - 1,
                          static_cast<std::size_t>(p * static_cast<double>(s.size())))];
    }
};

double since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_card_read: %s\n", what.c_str());
    std::exit(1);
}

// What vendor reader code typically sends: SELECT the application (fetching the FCI), SELECT EF05,
// then each of the seven records by number on the current file.
bool vendorRead(apdu::CardConnection& card) {
    auto tx = card.begin();
    if (!tx) return false;
    auto select = tx->transmit(apdu::selectByName(ssse::kSsseDfName, 256));
    if (!select || !(select->ok())) return false;
    apdu::CommandApdu selectEf{0x00, 0xA4, 0x02, 0x00, {0xEF, 0x05}, std::nullopt};
    auto ef = tx->transmit(selectEf);
    if (!ef || !(ef->ok() || ef->sw1 == 0x61)) return false;
    static constexpr std::size_t kLengths[] = {16, 1, 4, 12, 4, 4, 9};
    for (std::uint8_t record = 1; record <= 7; ++record) {
        auto r = tx->transmit(apdu::readRecord(record, 0x04, kLengths[record - 1] + 2));
        if (!r || !r->ok()) return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string readerName = "Virtual PCD 00 00";
    int iterations = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--reader")
            readerName = argv[i + 1];
        else if (a == "--iterations")
            iterations = std::atoi(argv[i + 1]);
        else
            die("usage: bench_card_read [--reader NAME] [--iterations N]");
    }
    daemon::ReaderDirectory readers;
    readers.add(std::make_unique<apdu::pcsc::PcscReaderProvider>());
    auto connection = readers.connect(readerName);
    if (!connection) die(connection.error().message);
    auto& card = **connection;

    // Record the APDUs sscard sends, to replay them raw.
    std::vector<Bytes> sent;
    bool recording = true;
    card.setTracer([&](std::string_view line) {
        if (recording && line.size() > 2 && line[0] == '>') {
            if (auto b = fromHex(line.substr(2))) sent.push_back(*b);
        }
    });

    Series sscardRead, vendor, replay;
    for (int i = 0; i < iterations; ++i) {
        ssse::ReadStrategyCache cache;
        auto before = card.apduCount();
        auto t0 = Clock::now();
        auto r = ssse::readCard(card, cache, false);
        sscardRead.ms.push_back(since(t0));
        if (!r) die("sscard read failed: " + r.error().message);
        sscardRead.apdus = card.apduCount() - before;
        recording = false;

        before = card.apduCount();
        t0 = Clock::now();
        if (!vendorRead(card)) die("vendor sequence failed");
        vendor.ms.push_back(since(t0));
        vendor.apdus = card.apduCount() - before;

        before = card.apduCount();
        t0 = Clock::now();
        {
            auto tx = card.begin();
            if (!tx) die("transaction failed");
            for (const auto& command : sent) {
                if (!tx->transmitVerbatim(command)) die("replay failed");
            }
        }
        replay.ms.push_back(since(t0));
        replay.apdus = card.apduCount() - before;
    }

    std::printf("card read on \"%s\", %d iterations\n", readerName.c_str(), iterations);
    std::printf("%-28s %6s %9s %9s %9s\n", "", "APDUs", "p50 ms", "p90 ms", "p99 ms");
    auto row = [](const char* name, const Series& s) {
        std::printf("%-28s %6llu %9.3f %9.3f %9.3f\n", name,
                    static_cast<unsigned long long>(s.apdus), s.pct(0.50), s.pct(0.90),
                    s.pct(0.99));
    };
    row("sscard read", sscardRead);
    row("vendor sequence", vendor);
    row("raw replay of sscard APDUs", replay);
    std::printf("software overhead per read (sscard p50 - replay p50): %.3f ms\n",
                sscardRead.pct(0.5) - replay.pct(0.5));
    return 0;
}
