// A minimal blocking JSON-RPC client over a Unix socket, for the API tests and the benchmark.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace sscard::api::test {

class LineClient {
  public:
    LineClient() = default;
    explicit LineClient(const std::string& path) { connect(path); }
    ~LineClient() { close(); }
    LineClient(const LineClient&) = delete;
    LineClient& operator=(const LineClient&) = delete;
    LineClient(LineClient&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }

    bool connect(const std::string& path) {
        close();
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return false;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.data(), path.size());
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            close();
            return false;
        }
        return true;
    }
    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    bool sendRaw(const std::string& bytes) {
        std::size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    bool call(const nlohmann::json& id, const std::string& method,
              const nlohmann::json& params = nlohmann::json::object()) {
        nlohmann::json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
        return sendRaw(r.dump() + "\n");
    }

    // The next line (without '\n'); nullopt on EOF, error or timeout.
    std::optional<std::string> readLine(
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            int rc = ::poll(&p, 1, static_cast<int>(left.count()));
            if (rc <= 0) return std::nullopt;
            char tmp[65536];
            ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n <= 0) return std::nullopt;
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
    }

    std::optional<nlohmann::json> readJson(
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        auto line = readLine(timeout);
        if (!line) return std::nullopt;
        auto j = nlohmann::json::parse(*line, nullptr, false);
        if (j.is_discarded()) return std::nullopt;
        return j;
    }

    // True if the server closed the connection (EOF) within the timeout, with nothing more to read.
    bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char tmp[4096];
            ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
    }

  private:
    int fd_ = -1;
    std::string buf_;
};

}  // namespace sscard::api::test
