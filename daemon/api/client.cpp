#include "daemon/api/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errno_text.hpp"
#include "daemon/api/jsonrpc.hpp"

namespace sscard::api {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxLine = 16 * 1024 * 1024;

}  // namespace

Expected<Client, Error> Client::connect(const std::string& socketPath) {
    sockaddr_un addr{};
    if (socketPath.empty() || socketPath.size() >= sizeof addr.sun_path)
        return unexpected(
            makeError(ErrorCode::internal, "bad API socket path \"" + socketPath + "\""));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socketPath.data(), socketPath.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return unexpected(makeError(ErrorCode::internal, "socket: " + errnoText(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd);
        std::string what = "cannot connect to sscardd at " + socketPath + ": " + errnoText(err);
        if (err == EACCES || err == EPERM)
            return unexpected(makeError(ErrorCode::not_allowed, what));
        return unexpected(makeError(ErrorCode::internal, what));
    }
    return Client(fd);
}

Client::Client(Client&& o) noexcept
    : fd_(o.fd_),
      buffer_(std::move(o.buffer_)),
      notifications_(std::move(o.notifications_)),
      next_id_(o.next_id_) {
    o.fd_ = -1;
}

Client& Client::operator=(Client&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
        buffer_ = std::move(o.buffer_);
        notifications_ = std::move(o.notifications_);
        next_id_ = o.next_id_;
    }
    return *this;
}

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

Expected<std::optional<json>, Error> Client::readMessage(
    std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        auto nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            json j = json::parse(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(nl),
                                 nullptr, false);
            buffer_.erase(0, nl + 1);
            if (j.is_discarded() || !j.is_object())
                return unexpected(makeError(ErrorCode::internal, "sscardd sent a malformed line"));
            return std::optional<json>(std::move(j));
        }
        if (buffer_.size() > kMaxLine)
            return unexpected(makeError(ErrorCode::internal, "sscardd sent a line too long"));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::optional<json>();
        pollfd p{fd_, POLLIN, 0};
        int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return unexpected(makeError(ErrorCode::internal, "poll: " + errnoText(errno)));
        if (rc == 0) continue;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return unexpected(makeError(
                ErrorCode::internal,
                "sscardd closed the connection" + (n < 0 ? ": " + errnoText(errno) : "")));
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
}

Expected<json, Error> Client::call(std::string_view method, const json& params,
                                   std::chrono::milliseconds timeout) {
    if (fd_ < 0) return unexpected(makeError(ErrorCode::internal, "not connected"));
    long long id = next_id_++;
    std::string line = requestLine(id, method, params);
    std::size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return unexpected(
                makeError(ErrorCode::internal, "cannot send to sscardd: " + errnoText(errno)));
        off += static_cast<std::size_t>(n);
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto m = readMessage(deadline);
        if (!m) return unexpected(m.error());
        if (!*m)
            return unexpected(
                makeError(ErrorCode::internal, "no answer from sscardd to " + std::string(method)));
        json& msg = **m;
        if (!msg.contains("id")) {
            if (msg.contains("method")) notifications_.push_back(std::move(msg));
            continue;
        }
        if (msg["id"].is_null() && msg.contains("error")) {  // about the connection itself
            auto e = fromJsonRpcError(msg["error"]);
            return unexpected(e ? *e : makeError(ErrorCode::internal, "error from sscardd"));
        }
        if (msg["id"] != id) continue;  // an answer to someone else's call: not ours
        if (auto e = msg.find("error"); e != msg.end()) {
            auto err = fromJsonRpcError(*e);
            return unexpected(err ? *err : makeError(ErrorCode::internal, "error from sscardd"));
        }
        if (auto r = msg.find("result"); r != msg.end()) return std::move(*r);
        return unexpected(makeError(ErrorCode::internal, "sscardd sent an answer without result"));
    }
}

Expected<std::optional<json>, Error> Client::nextNotification(std::chrono::milliseconds timeout) {
    if (!notifications_.empty()) {
        json n = std::move(notifications_.front());
        notifications_.pop_front();
        return std::optional<json>(std::move(n));
    }
    if (fd_ < 0) return unexpected(makeError(ErrorCode::internal, "not connected"));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto m = readMessage(deadline);
        if (!m) return unexpected(m.error());
        if (!*m) return std::optional<json>();
        if (!(*m)->contains("id") && (*m)->contains("method")) return m;
    }
}

}  // namespace sscard::api
