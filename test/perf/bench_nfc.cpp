// Tap → read latency through libnfc (PN532 emulator on a pty) against insertion → read through
// PC/SC (vpcd virtual card), on the same card model and profile, the way the daemon does it: a
// ReaderMonitor reports the card, then the card is connected and read (ssse::readCard).
//
//   tap / insertion  NFC: the emulator acknowledged "insert" on its control socket (the card is in
//                    the field). PC/SC: the virtual card process reports its TCP connection to vpcd
//                    (what vpcd sees as the card going in).
//   (each tap comes 0..400 ms after the previous removal was reported, at random)
//   detect           from there to the monitor's card_inserted event
//   read             from the event to the card data read (connect + transaction + APDUs)
//
// Usage: bench_nfc --nfc CONNSTRING --control SOCKET --vpcd-card vpcd_card.py --profile FILE
//                  [--pcsc-reader NAME] [--port 40000] [--iterations N]
// (test/perf/bench_nfc.sh starts the emulator and passes these.)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "apdu/nfc/monitor.hpp"
#include "apdu/nfc/provider.hpp"
#include "apdu/pcsc/monitor.hpp"
#include "apdu/pcsc/provider.hpp"
#include "apdu/ssse/application.hpp"

extern char** environ;

using namespace sscard;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_nfc: %s\n", what.c_str());
    std::exit(1);
}

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

struct Series {
    std::vector<double> values;
    double pct(double p) const {
        std::vector<double> s = values;
        std::sort(s.begin(), s.end());
        return s[std::min(s.size() - 1,
                          static_cast<std::size_t>(p * static_cast<double>(s.size())))];
    }
};

// Events of one reader from a monitor running on its own thread, with the time they arrived.
class EventLog {
  public:
    EventLog(std::unique_ptr<apdu::ReaderMonitor> monitor, std::string reader)
        : monitor_(std::move(monitor)), reader_(std::move(reader)) {
        thread_ = std::thread([this] {
            monitor_->run(stop_, [this](const apdu::ReaderEvent& e) {
                if (e.reader != reader_) return;
                std::lock_guard lock(mutex_);
                events_.push_back({e.type, Clock::now()});
                cv_.notify_all();
            });
        });
    }
    ~EventLog() {
        stop_.store(true);
        monitor_->requestStop();
        thread_.join();
    }
    // The next event of this type (older events of other types are dropped).
    std::optional<Clock::time_point> wait(apdu::ReaderEvent::Type type,
                                          std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            while (!events_.empty()) {
                auto e = events_.front();
                events_.pop_front();
                if (e.first == type) return e.second;
            }
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && events_.empty()) {
                return std::nullopt;
            }
        }
    }
    void clear() {
        std::lock_guard lock(mutex_);
        events_.clear();
    }

  private:
    std::unique_ptr<apdu::ReaderMonitor> monitor_;
    std::string reader_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::pair<apdu::ReaderEvent::Type, Clock::time_point>> events_;
    std::thread thread_;
};

std::string control(const std::string& socketPath, const std::string& command) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socketPath.c_str());
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        die("cannot reach the emulator's control socket " + socketPath);
    }
    std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) die("write");
    std::string answer;
    char c = 0;
    while (::read(fd, &c, 1) == 1 && c != '\n') answer.push_back(c);
    ::close(fd);
    if (answer.rfind("ok", 0) != 0) die("emulator answered \"" + answer + "\" to " + command);
    return answer;
}

// A tap comes at a random moment relative to the monitor's polling: wait 0..400 ms before it, so
// the detection figures are not phase-locked to the removal the previous round waited for.
void jitter() {
    static std::mt19937 rng(42);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
}

struct Row {
    Series detect, read, total;
    std::uint64_t apdus = 0;
};

void readOnce(apdu::ReaderProvider& provider, const std::string& reader, Row& row,
              Clock::time_point tap, Clock::time_point event) {
    auto connection = provider.connect(reader);
    if (!connection) die("connect: " + connection.error().message);
    ssse::ReadStrategyCache cache;
    auto card = ssse::readCard(**connection, cache, false);
    const auto done = Clock::now();
    if (!card) die("read: " + card.error().message);
    row.apdus = (*connection)->apduCount();
    row.detect.values.push_back(ms(event - tap));
    row.read.values.push_back(ms(done - event));
    row.total.values.push_back(ms(done - tap));
}

Row benchNfc(const std::string& connstring, const std::string& controlPath, int iterations) {
    const std::string reader = apdu::nfc::readerNameFor(0, connstring);
    auto device = apdu::nfc::NfcDevice::shared(connstring, reader);
    apdu::nfc::NfcReaderProvider provider(device);
    control(controlPath, "remove");
    EventLog events(std::make_unique<apdu::nfc::NfcMonitor>(device), reader);
    if (!events.wait(apdu::ReaderEvent::reader_added, std::chrono::seconds(10))) {
        die("the NFC device " + connstring + " did not open");
    }
    Row row;
    for (int i = 0; i < iterations; ++i) {
        jitter();
        events.clear();
        control(controlPath, "insert");
        const auto tap = Clock::now();
        auto inserted = events.wait(apdu::ReaderEvent::card_inserted, std::chrono::seconds(5));
        if (!inserted) die("no card_inserted after a tap");
        readOnce(provider, reader, row, tap, *inserted);
        control(controlPath, "remove");
        if (!events.wait(apdu::ReaderEvent::card_removed, std::chrono::seconds(5))) {
            die("no card_removed after the card left");
        }
    }
    return row;
}

// Starts vpcd_card.py; returns its pid once it reports the connection to vpcd (the insertion).
// Its stderr stays open (readFd) until the card is removed.
pid_t insertVpcdCard(const std::string& script, const std::string& profile, int port,
                     Clock::time_point& inserted, int& readFd) {
    int fds[2];
    if (::pipe(fds) != 0) die("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::string portText = std::to_string(port);
    std::vector<const char*> argv{
        "/usr/bin/python3", script.c_str(),   "--profile", profile.c_str(),
        "--port",           portText.c_str(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, const_cast<char**>(argv.data()), environ) !=
        0) {
        die("cannot start " + script);
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    std::string text;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) die("virtual card ended before connecting: " + text);
        text.append(buf, static_cast<std::size_t>(n));
        if (text.find("connected to vpcd") != std::string::npos) break;
    }
    inserted = Clock::now();
    readFd = fds[0];
    return pid;
}

Row benchPcsc(const std::string& reader, const std::string& script, const std::string& profile,
              int port, int iterations) {
    apdu::pcsc::PcscReaderProvider provider;
    EventLog events(std::make_unique<apdu::pcsc::Monitor>(), reader);
    if (!events.wait(apdu::ReaderEvent::reader_added, std::chrono::seconds(10))) {
        die("no PC/SC reader " + reader + " (test/env/pcscd-env.sh start)");
    }
    Row row;
    for (int i = 0; i < iterations; ++i) {
        jitter();
        events.clear();
        Clock::time_point tap;
        int output = -1;
        pid_t pid = insertVpcdCard(script, profile, port, tap, output);
        auto inserted = events.wait(apdu::ReaderEvent::card_inserted, std::chrono::seconds(5));
        if (!inserted) die("no card_inserted after the virtual card connected");
        readOnce(provider, reader, row, tap, *inserted);
        ::kill(pid, SIGTERM);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ::close(output);
        if (!events.wait(apdu::ReaderEvent::card_removed, std::chrono::seconds(5))) {
            die("no card_removed after the virtual card left");
        }
    }
    return row;
}

void print(const char* name, const Row& row) {
    auto line = [&](const char* what, const Series& s) {
        std::printf("%-8s %-24s %9.2f %9.2f %9.2f %9.2f\n", name, what, s.pct(0.0), s.pct(0.5),
                    s.pct(0.9), s.pct(1.0));
    };
    line("tap/insertion → event", row.detect);
    line("event → card read", row.read);
    line("tap/insertion → read", row.total);
    std::printf("%-8s APDUs per read: %llu\n", name, static_cast<unsigned long long>(row.apdus));
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    std::string nfc, controlPath, script, profile, pcscReader = "Virtual PCD 00 00";
    int port = 40000;
    int iterations = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        std::string v = argv[i + 1];
        if (a == "--nfc")
            nfc = v;
        else if (a == "--control")
            controlPath = v;
        else if (a == "--vpcd-card")
            script = v;
        else if (a == "--profile")
            profile = v;
        else if (a == "--pcsc-reader")
            pcscReader = v;
        else if (a == "--port")
            port = std::atoi(v.c_str());
        else if (a == "--iterations")
            iterations = std::max(1, std::atoi(v.c_str()));
        else
            die("unknown option " + a);
    }
    if (nfc.empty() || controlPath.empty() || script.empty() || profile.empty()) {
        die("usage: bench_nfc --nfc CONNSTRING --control SOCKET --vpcd-card vpcd_card.py "
            "--profile FILE [--pcsc-reader NAME] [--port 40000] [--iterations N]");
    }
    Row nfcRow = benchNfc(nfc, controlPath, iterations);
    Row pcscRow = benchPcsc(pcscReader, script, profile, port, iterations);
    std::printf("tap → read, %d iterations each, profile %s (ms)\n", iterations, profile.c_str());
    std::printf("%-8s %-24s %9s %9s %9s %9s\n", "", "", "min", "p50", "p90", "max");
    print("libnfc", nfcRow);
    print("PC/SC", pcscRow);
    return 0;
}
