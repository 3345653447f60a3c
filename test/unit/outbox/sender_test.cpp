#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/outbox/outbox.hpp"
#include "daemon/outbox/sender.hpp"
#include "test/unit/outbox/helpers.hpp"

extern char** environ;

using namespace sscard;
using namespace sscard::outbox;
using namespace sscard::outbox::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const CardRef kCard{"330300D15600000599110145FFFFFFFF", "330300", "B7K334774"};

// A port nothing listens on (bound and released).
int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

// test/env/backend-receiver.py, started and stopped by pid.
class Receiver {
  public:
    struct Options {
        int port = 0;
        int fail_first = 0;
        int fail_status = 503;
        int status = 200;
        int retry_after_s = -1;  // < 0: no Retry-After header
        double delay_s = 0;
        std::string tls_cert, tls_key;
        std::string client_ca;      // require a client certificate from this CA
        std::string hmac_key_file;  // require X-Sscard-Signature under this key
    };

    Receiver(const std::filesystem::path& dir, Options o) : dir_(dir) {
        log_ = (dir / "received.jsonl").string();
        std::string ready = (dir / "receiver.ready").string();
        std::filesystem::remove(ready);
        std::vector<std::string> args = {
            "/usr/bin/python3",
            std::string(SSCARD_SOURCE_DIR) + "/test/env/backend-receiver.py",
            "--port",
            std::to_string(o.port),
            "--log",
            log_,
            "--ready-file",
            ready,
            "--fail-first",
            std::to_string(o.fail_first),
            "--fail-status",
            std::to_string(o.fail_status),
            "--status",
            std::to_string(o.status),
            "--delay",
            std::to_string(o.delay_s)};
        if (o.retry_after_s >= 0) {
            args.insert(args.end(), {"--retry-after", std::to_string(o.retry_after_s)});
        }
        if (!o.tls_cert.empty()) {
            args.insert(args.end(), {"--tls-cert", o.tls_cert, "--tls-key", o.tls_key});
        }
        if (!o.client_ca.empty()) args.insert(args.end(), {"--client-ca", o.client_ca});
        if (!o.hmac_key_file.empty()) {
            args.insert(args.end(), {"--hmac-key-file", o.hmac_key_file});
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        REQUIRE(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
        REQUIRE(waitFor([&] { return std::filesystem::exists(ready); }, 15s));
        std::ifstream(ready) >> port_;
        REQUIRE(port_ > 0);
    }
    ~Receiver() { stop(); }
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    int port() const { return port_; }
    std::string url(const char* scheme = "http") const {
        return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + "/events";
    }
    // Every POST received so far, in arrival order.
    std::vector<json> records() const {
        std::vector<json> out;
        std::ifstream in(log_);
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty()) out.push_back(json::parse(line));
        }
        return out;
    }

  private:
    std::filesystem::path dir_;
    std::string log_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// Fast backoff for tests, and the log lines kept.
struct Logs {
    std::mutex mu;
    std::vector<std::pair<LogLevel, std::string>> lines;
    bool contains(LogLevel level, const std::string& part) {
        std::lock_guard lk(mu);
        for (const auto& [l, s] : lines) {
            if (l == level && s.find(part) != std::string::npos) return true;
        }
        return false;
    }
};

SenderOptions testOptions(const std::string& url, Logs& logs) {
    SenderOptions o;
    o.url = url;
    o.allow_insecure_http = true;  // the plain receiver on loopback
    o.connect_timeout = 2s;
    o.total_timeout = 5s;
    o.backoff_initial = 50ms;
    o.backoff_max = 400ms;
    o.log = [&logs](LogLevel l, const std::string& s) {
        std::lock_guard lk(logs.mu);
        logs.lines.emplace_back(l, s);
    };
    return o;
}

std::unique_ptr<Outbox> openOutbox(const std::filesystem::path& db) {
    OutboxOptions o;
    o.terminal_id = "kiosk-7";
    auto r = Outbox::open(db, o);
    if (!r) FAIL("open: " << r.error().message);
    return std::move(*r);
}

std::vector<std::string> enqueueN(Outbox& o, int n, const std::string& type = "card.activated") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
        auto r = o.enqueue(type, kCard, json{{"i", i}});
        REQUIRE(r);
        ids.push_back(*r);
    }
    return ids;
}

bool drained(Outbox& o) {
    auto n = o.count();
    return n && *n == 0;
}

// Per idempotency key: how many 2xx and how many other answers the receiver gave.
struct KeyStats {
    int ok = 0;
    int other = 0;
};

std::map<std::string, KeyStats> byKey(const std::vector<json>& recs) {
    std::map<std::string, KeyStats> out;
    for (const auto& r : recs) {
        REQUIRE(r["key"].is_string());
        // The key is the event's own id.
        CHECK(r["body"]["event_id"] == r["key"]);
        CHECK(r["content_type"] == "application/json");
        int s = r["status"].get<int>();
        auto& k = out[r["key"].get<std::string>()];
        if (s >= 200 && s < 300) {
            ++k.ok;
        } else {
            ++k.other;
        }
    }
    return out;
}

// The order in which the receiver first saw each key with a 2xx.
std::vector<std::string> deliveredOrder(const std::vector<json>& recs) {
    std::vector<std::string> out;
    for (const auto& r : recs) {
        int s = r["status"].get<int>();
        if (s >= 200 && s < 300) out.push_back(r["key"].get<std::string>());
    }
    return out;
}

}  // namespace

TEST_CASE("classifyStatus") {
    CHECK(classifyStatus(200) == AttemptClass::delivered);
    CHECK(classifyStatus(201) == AttemptClass::delivered);
    CHECK(classifyStatus(204) == AttemptClass::delivered);
    CHECK(classifyStatus(0) == AttemptClass::unavailable);
    CHECK(classifyStatus(500) == AttemptClass::unavailable);
    CHECK(classifyStatus(503) == AttemptClass::unavailable);
    CHECK(classifyStatus(408) == AttemptClass::unavailable);
    CHECK(classifyStatus(429) == AttemptClass::unavailable);
    CHECK(classifyStatus(400) == AttemptClass::refused);
    CHECK(classifyStatus(401) == AttemptClass::refused);
    CHECK(classifyStatus(404) == AttemptClass::refused);
    CHECK(classifyStatus(409) == AttemptClass::refused);
    CHECK(classifyStatus(301) == AttemptClass::refused);
    CHECK(classifyStatus(100) == AttemptClass::refused);
}

TEST_CASE("backoff doubles from 1 s to 5 min, with jitter between half and all of it") {
    using std::chrono::milliseconds;
    const milliseconds i = 1s, m = 5min;
    CHECK(backoffDelay(1, i, m, 1.0) == 1s);
    CHECK(backoffDelay(1, i, m, 0.0) == 500ms);
    CHECK(backoffDelay(2, i, m, 1.0) == 2s);
    CHECK(backoffDelay(5, i, m, 1.0) == 16s);
    CHECK(backoffDelay(9, i, m, 1.0) == 256s);
    CHECK(backoffDelay(10, i, m, 1.0) == 5min);
    CHECK(backoffDelay(10'000, i, m, 1.0) == 5min);
    CHECK(backoffDelay(10'000, i, m, 0.0) == 150s);
    CHECK(backoffDelay(0, i, m, 1.0) == 1s);
    for (int n = 1; n < 20; ++n) {
        auto d = backoffDelay(n, i, m, 0.37);
        CHECK(d >= 500ms);
        CHECK(d <= 5min);
    }
}

TEST_CASE("an empty url starts nothing and keeps events queued") {
    TempDir dir;
    auto ob = openOutbox(dir.db());
    Logs logs;
    Sender s(*ob, testOptions("", logs));
    s.start();
    enqueueN(*ob, 3);
    std::this_thread::sleep_for(100ms);
    auto st = s.status();
    CHECK_FALSE(st.enabled);
    CHECK_FALSE(st.running);
    CHECK(st.queued == 3);
    CHECK(logs.contains(LogLevel::info, "backend.url is empty"));
    s.stop();
    CHECK(*ob->count() == 3);
}

TEST_CASE("events are POSTed oldest first with their idempotency key, 2xx removes them") {
    TempDir dir;
    Receiver rx(dir.path, {});
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 5);  // queued before the sender starts
    Logs logs;
    Sender s(*ob, testOptions(rx.url(), logs));
    s.start();
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto more = enqueueN(*ob, 3);  // woken by the enqueue
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    ids.insert(ids.end(), more.begin(), more.end());

    auto recs = rx.records();
    CHECK(recs.size() == ids.size());
    CHECK(deliveredOrder(recs) == ids);
    for (const auto& [key, st] : byKey(recs)) {
        CHECK(st.ok == 1);
        CHECK(st.other == 0);
    }
    const json& first = recs.front()["body"];
    CHECK(first["type"] == "card.activated");
    CHECK(first["terminal_id"] == "kiosk-7");
    CHECK(first["card"]["card_number"] == "B7K334774");
    CHECK(first["i"] == 0);

    // The counters follow the database by a moment.
    CHECK(waitFor([&] { return s.status().delivered == 8; }, 5s));
    auto st = s.status();
    CHECK(st.enabled);
    CHECK(st.running);
    CHECK(st.queued == 0);
    CHECK(st.delivered == 8);
    CHECK(st.failed_attempts == 0);
    CHECK(st.last_delivered_at.has_value());
    json j = toJson(st);
    CHECK(j["delivered"] == 8);
    CHECK(j["last_error"].is_null());
    CHECK(j["next_attempt_at"].is_null());
}

TEST_CASE(
    "receiver down at first: events stay queued, are retried with backoff, then arrive once") {
    TempDir dir;
    int port = freePort();
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 4);
    Logs logs;
    Sender s(*ob, testOptions("http://127.0.0.1:" + std::to_string(port) + "/events", logs));
    s.start();
    REQUIRE(waitFor([&] { return s.status().failed_attempts >= 3; }, 10s));
    auto st = s.status();
    CHECK(st.queued == 4);
    CHECK(st.consecutive_failures >= 3);
    CHECK_FALSE(st.last_error.empty());
    CHECK(st.next_attempt_at.has_value());
    CHECK(logs.contains(LogLevel::warn, "backend unavailable"));
    // The oldest event carries the failures: the sender retries the head of the queue.
    auto head = ob->pending(1)->front();
    CHECK(head.event_id == ids[0]);
    CHECK(head.attempts >= 3);
    CHECK(ob->pending(2)->at(1).attempts == 0);

    Receiver::Options ro;
    ro.port = port;
    Receiver rx(dir.path, ro);
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto recs = rx.records();
    CHECK(recs.size() == 4);
    CHECK(deliveredOrder(recs) == ids);
    auto keys = byKey(recs);
    CHECK(keys.size() == ids.size());
    for (const auto& [key, k] : keys) CHECK(k.ok == 1);
    CHECK(waitFor([&] { return s.status().consecutive_failures == 0; }, 5s));
    CHECK(waitFor([&] { return logs.contains(LogLevel::info, "backend reachable again"); }, 5s));
}

TEST_CASE("503s: duplicates only for non-2xx answers, exactly one 2xx per key") {
    TempDir dir;
    Receiver::Options ro;
    ro.fail_first = 5;
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    Logs logs;
    Sender s(*ob, testOptions(rx.url(), logs));
    s.start();
    auto ids = enqueueN(*ob, 3);
    REQUIRE(waitFor([&] { return drained(*ob); }, 15s));
    auto recs = rx.records();
    CHECK(recs.size() == 3 + 5);
    auto keys = byKey(recs);
    CHECK(keys.size() == 3);  // distinct keys == events
    int others = 0;
    for (const auto& [key, k] : keys) {
        CHECK(k.ok == 1);
        others += k.other;
    }
    CHECK(others == 5);
    CHECK(deliveredOrder(recs) == ids);  // a 503 keeps the order
    CHECK(waitFor([&] { return s.status().delivered == 3; }, 5s));
    CHECK(s.status().failed_attempts == 5);
}

TEST_CASE("4xx: the event is kept and retried, logged loudly, the others go on") {
    TempDir dir;
    Receiver::Options ro;
    ro.fail_first = 2;
    ro.fail_status = 400;
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 3);
    Logs logs;
    Sender s(*ob, testOptions(rx.url(), logs));
    s.start();
    REQUIRE(waitFor([&] { return drained(*ob); }, 15s));
    auto recs = rx.records();
    auto keys = byKey(recs);
    CHECK(keys.size() == 3);
    int others = 0;
    for (const auto& [key, k] : keys) {
        CHECK(k.ok == 1);  // nothing dropped
        others += k.other;
    }
    CHECK(others == 2);
    CHECK(recs.size() == 5);
    CHECK(recs[0]["key"] == ids[0]);
    CHECK(recs[0]["status"] == 400);
    CHECK(logs.contains(LogLevel::error, "REFUSED"));
    CHECK(logs.contains(LogLevel::error, "HTTP 400"));
    CHECK(s.status().last_error.find("HTTP 400") == 0);
}

TEST_CASE("a sender restart while the receiver is down delivers later, exactly once by key") {
    TempDir dir;
    int port = freePort();
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/events";
    std::vector<std::string> ids;
    Logs logs;
    {
        auto ob = openOutbox(dir.db());
        Sender s(*ob, testOptions(url, logs));
        s.start();
        ids = enqueueN(*ob, 5);
        REQUIRE(waitFor([&] { return s.status().failed_attempts >= 2; }, 10s));
        CHECK(*ob->count() == 5);
    }  // the daemon stops: sender, then outbox destroyed
    {
        auto ob = openOutbox(dir.db());
        CHECK(*ob->count() == 5);
        Sender s(*ob, testOptions(url, logs));
        s.start();
        REQUIRE(waitFor([&] { return s.status().failed_attempts >= 1; }, 10s));
        Receiver::Options ro;
        ro.port = port;
        Receiver rx(dir.path, ro);
        REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
        auto recs = rx.records();
        CHECK(recs.size() == 5);
        auto keys = byKey(recs);
        CHECK(keys.size() == 5);
        for (const auto& id : ids) {
            CAPTURE(id);
            CHECK(keys[id].ok == 1);
            CHECK(keys[id].other == 0);
        }
        CHECK(deliveredOrder(recs) == ids);
    }
}

TEST_CASE("idle means asleep: no requests and ~no CPU until an enqueue wakes the sender") {
    TempDir dir;
    Receiver rx(dir.path, {});
    auto ob = openOutbox(dir.db());
    Logs logs;
    Sender s(*ob, testOptions(rx.url(), logs));
    s.start();
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    std::this_thread::sleep_for(1s);
    ::getrusage(RUSAGE_SELF, &after);
    auto cpuUs = [](const rusage& r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec +
               r.ru_stime.tv_usec;
    };
    CHECK(cpuUs(after) - cpuUs(before) < 50'000);  // < 5 % of a core while idle
    CHECK(rx.records().empty());
    auto t0 = std::chrono::steady_clock::now();
    enqueueN(*ob, 1);
    REQUIRE(waitFor([&] { return drained(*ob); }, 20s));
    CHECK(std::chrono::steady_clock::now() - t0 < 15s);  // generous; the idle poll is far longer
}

TEST_CASE("stop() aborts a hanging request, the event stays and is sent later") {
    TempDir dir;
    Receiver::Options ro;
    ro.delay_s = 30;
    auto slow = std::make_unique<Receiver>(dir.path, ro);
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 1);
    Logs logs;
    auto s = std::make_unique<Sender>(*ob, testOptions(slow->url(), logs));
    s->start();
    REQUIRE(waitFor([&] { return !slow->records().empty(); }, 10s));  // request in flight
    auto t0 = std::chrono::steady_clock::now();
    s->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 15s);  // generous; the request would hang 30 s
    CHECK(*ob->count() == 1);
    s.reset();
    slow.reset();
}

TEST_CASE("a timeout is a failed attempt, retried") {
    TempDir dir;
    Receiver::Options ro;
    ro.delay_s = 3;
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    enqueueN(*ob, 1);
    Logs logs;
    auto o = testOptions(rx.url(), logs);
    o.total_timeout = 300ms;
    Sender s(*ob, o);
    s.start();
    REQUIRE(waitFor([&] { return s.status().failed_attempts >= 2; }, 10s));
    CHECK(s.status().last_error.find("imeout") != std::string::npos);
    CHECK(*ob->count() == 1);
    s.stop();
}

namespace {

// A test CA (ca.pem) with a server certificate for 127.0.0.1 (server.pem/.key) and a client
// certificate "terminal T1" (client.pem/.key), all in d (openssl CLI).
void makeTestPki(const std::string& d) {
    auto run = [&](const std::string& cmd) {
        std::string full = cmd + " >/dev/null 2>&1";
        REQUIRE(std::system(full.c_str()) == 0);
    };
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj '/CN=sscard outbox test CA' -keyout " +
        d + "/ca.key -out " + d +
        "/ca.pem "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 "
        "-keyout " +
        d + "/server.key -out " + d + "/server.csr");
    {
        std::ofstream(d + "/server.ext")
            << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\n";
    }
    run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -days 2 -extfile " + d + "/server.ext -out " + d + "/server.pem");
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=terminal T1' "
        "-keyout " +
        d + "/client.key -out " + d + "/client.csr");
    std::ofstream(d + "/client.ext") << "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
    run("openssl x509 -req -in " + d + "/client.csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -days 2 -extfile " + d + "/client.ext -out " + d + "/client.pem");
}

void writeKeyFile(const std::filesystem::path& p, const std::string& text, mode_t mode) {
    std::ofstream(p, std::ios::trunc) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("HTTPS: verified against ca_file, an unknown CA is a failure, not a bypass") {
    TempDir dir;
    std::string d = dir.path.string();
    makeTestPki(d);

    Receiver::Options ro;
    ro.tls_cert = d + "/server.pem";
    ro.tls_key = d + "/server.key";
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 2);
    Logs logs;

    {
        // The system CAs do not know the test CA: nothing is delivered.
        Sender s(*ob, testOptions(rx.url("https"), logs));
        s.start();
        REQUIRE(waitFor([&] { return s.status().failed_attempts >= 2; }, 10s));
        CHECK(*ob->count() == 2);
        CHECK(rx.records().empty());
    }
    auto o = testOptions(rx.url("https"), logs);
    o.ca_file = d + "/ca.pem";
    Sender s(*ob, o);
    s.start();
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto recs = rx.records();
    CHECK(deliveredOrder(recs) == ids);
    CHECK(byKey(recs).size() == 2);
}

TEST_CASE("Retry-After (seconds) is honoured, up to the backoff cap") {
    TempDir dir;
    Receiver::Options ro;
    ro.fail_first = 1;
    ro.retry_after_s = 1;
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    Logs logs;
    auto o = testOptions(rx.url(), logs);
    o.backoff_max = 3s;
    Sender s(*ob, o);
    s.start();
    enqueueN(*ob, 1);
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto recs = rx.records();
    REQUIRE(recs.size() == 2);
    CHECK(recs[0]["status"] == 503);
    CHECK(recs[1]["status"] == 200);
    CHECK(recs[1]["at"].get<double>() - recs[0]["at"].get<double>() >= 0.9);
}

TEST_CASE("client certificate: a backend that requires one gets the terminal's, none without it") {
    TempDir dir;
    std::string d = dir.path.string();
    makeTestPki(d);
    Receiver::Options ro;
    ro.tls_cert = d + "/server.pem";
    ro.tls_key = d + "/server.key";
    ro.client_ca = d + "/ca.pem";
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    auto ids = enqueueN(*ob, 2);
    Logs logs;
    {
        auto o = testOptions(rx.url("https"), logs);
        o.ca_file = d + "/ca.pem";
        Sender s(*ob, o);  // no client certificate: the handshake fails
        s.start();
        REQUIRE(waitFor([&] { return s.status().failed_attempts >= 2; }, 10s));
        CHECK(*ob->count() == 2);
        CHECK(rx.records().empty());
    }
    BackendConfig b;
    b.url = rx.url("https");
    b.ca_file = d + "/ca.pem";
    b.auth = BackendAuth::client_cert;
    b.client_cert = d + "/client.pem";
    b.client_key = d + "/client.key";
    auto configured = senderOptions(b);
    REQUIRE(configured);
    auto o = testOptions(rx.url("https"), logs);
    o.ca_file = configured->ca_file;
    o.client_cert = configured->client_cert;
    o.client_key = configured->client_key;
    Sender s(*ob, o);
    s.start();
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto recs = rx.records();
    CHECK(deliveredOrder(recs) == ids);
    for (const auto& r : recs) CHECK(r["client"] == "terminal T1");
}

TEST_CASE("HMAC: every POST is signed over time and body - a wrong key is refused and kept") {
    TempDir dir;
    std::string key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    writeKeyFile(dir.path / "backend.key", key + "\n", 0600);
    writeKeyFile(dir.path / "wrong.key", std::string(64, 'a'), 0600);
    Receiver::Options ro;
    ro.hmac_key_file = (dir.path / "backend.key").string();
    Receiver rx(dir.path, ro);
    auto ob = openOutbox(dir.db());
    Logs logs;
    {
        BackendConfig b;
        b.auth = BackendAuth::hmac;
        b.hmac_key_file = (dir.path / "wrong.key").string();
        auto configured = senderOptions(b);
        REQUIRE(configured);
        auto o = testOptions(rx.url(), logs);
        o.hmac_key = configured->hmac_key;
        Sender s(*ob, o);
        s.start();
        enqueueN(*ob, 1);
        REQUIRE(waitFor([&] { return !rx.records().empty(); }, 10s));
        s.stop();
        CHECK(*ob->count() == 1);  // refused, not dropped
        CHECK(rx.records().front()["status"] == 401);
        CHECK(rx.records().front()["signature"] == "bad");
    }
    BackendConfig b;
    b.auth = BackendAuth::hmac;
    b.hmac_key_file = (dir.path / "backend.key").string();
    auto configured = senderOptions(b);
    REQUIRE(configured);
    auto o = testOptions(rx.url(), logs);
    o.hmac_key = configured->hmac_key;
    Sender s(*ob, o);
    s.start();
    enqueueN(*ob, 2);
    REQUIRE(waitFor([&] { return drained(*ob); }, 10s));
    auto recs = rx.records();
    int valid = 0;
    for (const auto& r : recs) valid += r.value("signature", "") == "valid" ? 1 : 0;
    CHECK(valid == 3);  // the refused event again, and the two new ones

    // The header itself: t, and the hex HMAC of "<t>.<body>".
    auto header = signatureHeader(configured->hmac_key, 1700000000, "{}");
    REQUIRE(header);
    CHECK(header->rfind("X-Sscard-Signature: t=1700000000,hmac=", 0) == 0);
    CHECK(header->size() == std::string("X-Sscard-Signature: t=1700000000,hmac=").size() + 64);
}

TEST_CASE("HMAC key file: readable by the service only, hex of 32 to 64 bytes") {
    TempDir dir;
    auto p = dir.path / "k";
    std::string good(64, 'b');
    writeKeyFile(p, good, 0644);
    auto open = readHmacKeyFile(p.string());
    REQUIRE_FALSE(open);
    CHECK(open.error().code == ErrorCode::config);
    CHECK(open.error().message.find("chmod 600") != std::string::npos);
    writeKeyFile(p, "not hex at all, but long enough to be a key of sorts ......", 0600);
    auto bad = readHmacKeyFile(p.string());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("not hex") == std::string::npos);  // the content is not shown
    writeKeyFile(p, std::string(62, 'c'), 0600);
    CHECK_FALSE(readHmacKeyFile(p.string()));
    writeKeyFile(p, "  " + good + "\n", 0600);
    auto ok = readHmacKeyFile(p.string());
    REQUIRE(ok);
    CHECK(ok->size() == 32);
    CHECK_FALSE(readHmacKeyFile((dir.path / "missing").string()));
}

TEST_CASE("plain http without allow_insecure_http: nothing is sent") {
    TempDir dir;
    Receiver rx(dir.path, {});
    auto ob = openOutbox(dir.db());
    Logs logs;
    auto o = testOptions(rx.url(), logs);
    o.allow_insecure_http = false;
    Sender s(*ob, o);
    s.start();
    enqueueN(*ob, 1);
    CHECK_FALSE(s.status().running);
    CHECK(logs.contains(LogLevel::error, "allow_insecure_http"));
    std::this_thread::sleep_for(300ms);
    CHECK(rx.records().empty());
    CHECK(*ob->count() == 1);
}

TEST_CASE("sender options from the configuration") {
    BackendConfig b;
    b.url = "https://backend.example/events";
    b.ca_file = "/etc/sscard/backend-ca.pem";
    auto configured = senderOptions(b);
    REQUIRE(configured);
    SenderOptions o = *configured;
    CHECK(o.client_cert.empty());
    CHECK(o.hmac_key.empty());
    CHECK(o.url == b.url);
    CHECK(o.ca_file == b.ca_file);
    CHECK(o.connect_timeout == 5s);
    CHECK(o.total_timeout == 15s);
    CHECK(o.backoff_initial == 1s);
    CHECK(o.backoff_max == 5min);
}
