// The sync client (blacklist/sync.hpp) against a small HTTP server on loopback that serves a feed
// directory written by publish(): the clock-skew limit, the signature threshold, a re-signed top
// file extending the expiry, an unverified 304, the whole-sync deadline, credentials in the URL,
// and plain http without the opt-in. (The TLS path and the TUF attacks run against nginx in
// test/integration/list_feed_test.cpp.)
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.hpp"
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

std::string readText(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Serves files of `root` over plain HTTP/1.1, one request per connection. `override` may answer a
// path itself (status line, headers and body); `trickle` sends bodies one byte every 100 ms.
class FeedServer {
  public:
    explicit FeedServer(fs::path root) : root_(std::move(root)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        REQUIRE(::listen(fd_, 16) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FeedServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string url(const std::string& userinfo = "") const {
        return "http://" + userinfo + "127.0.0.1:" + std::to_string(port_) + "/feed/";
    }
    void answer304ForTop(bool on) { top304_ = on; }
    void trickle(bool on) { trickle_ = on; }
    void notFound(bool on) { notFound_ = on; }

  private:
    void serve() {
        while (!stop_) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            handle(c);
            ::close(c);
        }
    }
    void handle(int c) {
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<std::size_t>(n));
        }
        std::size_t sp1 = req.find(' ');
        std::size_t sp2 = req.find(' ', sp1 + 1);
        std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string prefix = "/feed/";
        std::string rel = path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
        if (notFound_) return send(c, "404 Not Found", "", false);
        if (rel == kTopFileName && top304_) return send(c, "304 Not Modified", "", false);
        fs::path file = root_ / rel;
        if (rel.empty() || !fs::is_regular_file(file)) return send(c, "404 Not Found", "", false);
        bool slow = trickle_ && rel != kTopFileName && rel.find("by-hash/") == 0 &&
                    fs::file_size(file) > 200;
        send(c, "200 OK", readText(file), slow);
    }
    void send(int c, const std::string& status, const std::string& body, bool slow) {
        std::string head = "HTTP/1.1 " + status +
                           "\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n";
        if (status.rfind("304", 0) == 0) head = "HTTP/1.1 304 Not Modified\r\nETag: \"e1\"\r\n\r\n";
        if (::send(c, head.data(), head.size(), MSG_NOSIGNAL) < 0) return;
        if (!slow) {
            (void)!::send(c, body.data(), body.size(), MSG_NOSIGNAL);
            return;
        }
        for (char ch : body) {
            if (stop_ || ::send(c, &ch, 1, MSG_NOSIGNAL) != 1) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    fs::path root_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false}, top304_{false}, trickle_{false}, notFound_{false};
};

struct Keys {
    SigningKey signing;
    fs::path pub;
};

struct Bench {
    fs::path dir;
    Keys k1, k2;
    std::unique_ptr<FeedServer> server;

    Bench() {
        std::string tmpl = (fs::temp_directory_path() / "sscard-sync-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
        fs::create_directories(dir / "www" / "feed");
        k1 = makeKey("k1");
        k2 = makeKey("k2");
        server = std::make_unique<FeedServer>(dir / "www" / "feed");
    }
    ~Bench() {
        server.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    Keys makeKey(const std::string& name) {
        auto pair = crypto::ed25519Generate();
        REQUIRE(pair);
        Keys k{{pair->secret, pair->public_key}, dir / (name + ".pub")};
        REQUIRE(crypto::writeEd25519PublicKey(k.pub, pair->public_key));
        return k;
    }
    // Publishes the next version of a small list, issued at `issued`, signed by `keys`.
    void publishAt(std::int64_t issued, std::vector<SigningKey> keys, std::int64_t expires_s = 3600,
                   std::size_t entries = 50) {
        PublishOptions o;
        o.out_dir = dir / "www" / "feed";
        o.keys = std::move(keys);
        o.now = issued;
        o.expires_s = expires_s;
        REQUIRE(publish(testgen::makeList(entries), o));
    }
    SyncOptions options(std::int64_t now) const {
        SyncOptions o;
        o.feed_url = server->url();
        o.allow_insecure_http = true;
        o.trusted_keys = {k1.pub, k2.pub};
        o.database = dir / "list.db";
        o.now = now;
        o.limits.connect_timeout_s = 5;
        return o;
    }
    ListMeta meta() const {
        auto s = Store::open(dir / "list.db");
        REQUIRE(s);
        auto m = s->status();
        REQUIRE(m);
        return *m;
    }
};

constexpr std::int64_t kT0 = 1'800'000'000;

}  // namespace

TEST_CASE("sync: a top file issued beyond the allowed skew is refused with its own error") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing});
    auto behind = syncOnce(b.options(kT0 - 3600));  // the terminal's clock is an hour behind
    REQUIRE_FALSE(behind);
    CHECK(behind.error().code == ErrorCode::feed_rejected);
    CHECK(behind.error().message.find("clock skew") != std::string::npos);
    CHECK(b.meta().version == 0);
    CHECK(b.meta().feed_time == 0);  // the future time did not become the clock floor
    // Within the skew (default 300 s) it is taken.
    auto close = syncOnce(b.options(kT0 - 200));
    REQUIRE(close);
    CHECK(close->version == 1);
}

TEST_CASE("sync: [list] threshold distinct trusted keys must have signed") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing});
    auto o = b.options(kT0);
    o.threshold = 2;
    auto one = syncOnce(o);
    REQUIRE_FALSE(one);
    CHECK(one.error().code == ErrorCode::feed_rejected);
    CHECK(one.error().message.find("threshold") != std::string::npos);
    CHECK(b.meta().version == 0);
    // The same key listed twice is still one key.
    auto twice = o;
    twice.trusted_keys = {b.k1.pub, b.k1.pub};
    auto refused = syncOnce(twice);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::config);

    b.publishAt(kT0 + 10, {b.k1.signing, b.k2.signing});
    auto both = syncOnce(o);
    REQUIRE(both);
    CHECK(both->version == 2);
}

TEST_CASE("sync: a re-signed top file of the same version with a later expiry extends it") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing}, 3600);
    REQUIRE(syncOnce(b.options(kT0)));
    CHECK(b.meta().expires == kT0 + 3600);
    // The publisher re-signs the same version's top file later, with a later expiry.
    fs::path top = b.dir / "www" / "feed" / kTopFileName;
    auto env = parseEnvelope(readText(top), "timestamp");
    REQUIRE(env);
    auto t = parseTopFile((*env)["signed"]);
    REQUIRE(t);
    t->issued = kT0 + 1800;
    t->expires = kT0 + 1800 + 3600;
    auto text = signDocument(toSignedJson(*t), {b.k1.signing});
    REQUIRE(text);
    std::ofstream(top, std::ios::trunc) << *text;
    auto r = syncOnce(b.options(kT0 + 1900));
    REQUIRE(r);
    CHECK(r->outcome == SyncOutcome::up_to_date);
    CHECK(b.meta().expires == kT0 + 1800 + 3600);
    CHECK(b.meta().feed_time == kT0 + 1800);
    CHECK(b.meta().checked == kT0 + 1900);
    // An older re-signing (earlier expiry) never shortens it.
    t->issued = kT0 + 100;
    t->expires = kT0 + 200;
    text = signDocument(toSignedJson(*t), {b.k1.signing});
    REQUIRE(text);
    std::ofstream(top, std::ios::trunc) << *text;
    REQUIRE_FALSE(syncOnce(b.options(kT0 + 1900)));  // expired by the feed-time floor
    CHECK(b.meta().expires == kT0 + 1800 + 3600);
}

TEST_CASE("sync: an unverified 304 does not refresh the list's age") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing});
    REQUIRE(syncOnce(b.options(kT0 + 10)));
    ListMeta before = b.meta();
    CHECK(before.checked == kT0 + 10);
    b.server->answer304ForTop(true);
    auto r = syncOnce(b.options(kT0 + 1000));
    REQUIRE(r);
    CHECK(r->outcome == SyncOutcome::not_modified);
    ListMeta after = b.meta();
    CHECK(after.checked == before.checked);
    CHECK(after.expires == before.expires);
    CHECK(listState(after, kT0 + 1000, 0).age_s == 990);
}

TEST_CASE("sync: the whole sync has a deadline - past it nothing is applied") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing}, 3600, 2000);
    b.server->trickle(true);  // the snapshot arrives a byte every 100 ms
    auto o = b.options(kT0);
    o.limits.sync_deadline = std::chrono::milliseconds(1500);
    auto started = std::chrono::steady_clock::now();
    auto r = syncOnce(o);
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::sync_failed);
    CHECK(r.error().message.find("deadline") != std::string::npos);
    CHECK(took < std::chrono::seconds(5));
    CHECK(b.meta().version == 0);
    CHECK_FALSE(fs::exists(b.dir / "list.db.download"));
}

TEST_CASE("sync: credentials in the feed URL never appear in an error") {
    Bench b;
    b.server->notFound(true);
    auto o = b.options(kT0);
    o.feed_url = b.server->url("sync-user:s3cr3t-pass@");
    auto r = syncOnce(o);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::sync_failed);
    CHECK(r.error().message.find("s3cr3t") == std::string::npos);
    CHECK(r.error().message.find("sync-user") == std::string::npos);
    CHECK(r.error().message.find("***@127.0.0.1") != std::string::npos);
}

TEST_CASE("sync: plain http is refused without allow_insecure_http") {
    Bench b;
    b.publishAt(kT0, {b.k1.signing});
    auto o = b.options(kT0);
    o.allow_insecure_http = false;
    o.feed_url = b.server->url("u:pw@");
    auto r = syncOnce(o);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::config);
    CHECK(r.error().message.find("allow_insecure_http") != std::string::npos);
    CHECK(r.error().message.find("pw@") == std::string::npos);
    CHECK(b.meta().version == 0);
}
