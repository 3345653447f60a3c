#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "base/http_client.hpp"

using namespace sscard;

namespace {

// Answers each connection on a loopback port with one fixed HTTP response, and keeps the last
// request it read.
class OneShotServer {
  public:
    explicit OneShotServer(std::string response) : response_(std::move(response)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        REQUIRE(::listen(fd_, 4) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~OneShotServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
    std::string request() const { return request_; }

  private:
    void serve() {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            req.append(buf, static_cast<std::size_t>(n));
        }
        request_ = req;
        (void)!::write(c, response_.data(), response_.size());
        ::close(c);
    }

    std::string response_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::string request_;
};

std::string response(const std::string& extra_headers, const std::string& body = "hello") {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

}  // namespace

TEST_CASE("http client: response headers are found whatever their case") {
    for (std::string name : {"ETag", "etag", "Etag", "ETAG"}) {
        CAPTURE(name);
        OneShotServer server(response(name + ": \"v42\"\r\n"));
        http::Client client;
        REQUIRE(client.valid());
        http::Request req;
        req.url = server.url();
        std::string body;
        req.sink = [&](std::string_view d) {
            body.append(d);
            return true;
        };
        http::Result r = client.perform(req);
        REQUIRE(r.ok());
        CHECK(r.status == 200);
        CHECK(body == "hello");
        CHECK(client.header("ETag") == std::optional<std::string>("\"v42\""));
        CHECK_FALSE(client.header("Last-Modified").has_value());
    }
}

TEST_CASE("http client: a POST sends its body and extra headers - the last duplicate header wins") {
    OneShotServer server(response("Retry-After: 5\r\nretry-after: 7\r\n"));
    http::Client client;
    http::Request req;
    req.url = server.url();
    req.method = http::Method::post;
    req.body = "{\"a\":1}";
    req.headers = {"Content-Type: application/json", "Idempotency-Key: k-1"};
    http::Result r = client.perform(req);
    REQUIRE(r.ok());
    std::string sent = server.request();
    CHECK(sent.rfind("POST /x HTTP/1.1\r\n", 0) == 0);
    CHECK(sent.find("Idempotency-Key: k-1\r\n") != std::string::npos);
    CHECK(client.header("Retry-After") == std::optional<std::string>("7"));
}

TEST_CASE("http client: a body over the limit is refused") {
    OneShotServer server(response("", std::string(100, 'x')));
    http::Client client;
    http::Request req;
    req.url = server.url();
    req.max_body_bytes = 10;
    http::Result r = client.perform(req);
    CHECK_FALSE(r.ok());
    CHECK(r.over_limit);
}

TEST_CASE("http client: the cancel check aborts a transfer") {
    OneShotServer server(response(""));
    http::Client client;
    http::Request req;
    req.url = server.url();
    req.cancel = [] { return true; };
    http::Result r = client.perform(req);
    CHECK_FALSE(r.ok());
    CHECK(r.cancelled);
}

TEST_CASE("http client: only http and https") {
    http::Client client;
    http::Request req;
    req.url = "file:///etc/hostname";
    http::Result r = client.perform(req);
    CHECK_FALSE(r.ok());
}

TEST_CASE("redactUrl: user and password never leave - other URLs unchanged") {
    CHECK(http::redactUrl("https://user:s3cret@feed.example/feed/") ==
          "https://***@feed.example/feed/");
    CHECK(http::redactUrl("http://tok@127.0.0.1:8080/x?a=b@c") ==
          "http://***@127.0.0.1:8080/x?a=b@c");
    CHECK(http::redactUrl("https://u:p@ss@host/") == "https://***@host/");
    CHECK(http::redactUrl("https://feed.example/a@b") == "https://feed.example/a@b");
    CHECK(http::redactUrl("https://feed.example") == "https://feed.example");
}

TEST_CASE("isPlainHttp") {
    CHECK(http::isPlainHttp("http://x/"));
    CHECK(http::isPlainHttp("HTTP://x/"));
    CHECK_FALSE(http::isPlainHttp("https://x/"));
    CHECK_FALSE(http::isPlainHttp(""));
}
