#include "driver/daemon_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string.h>  // explicit_bzero
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/errno_text.hpp"

namespace sscard::driver {

namespace {

using nlohmann::json;

constexpr const char* kDefaultSocket = "/run/sscard/sscardd.sock";
constexpr std::size_t kMaxAnswer = 4 * 1024 * 1024;

Failure failureFromError(const json& error) {
    Failure f = makeFailure("internal", "sscardd reported an error");
    if (!error.is_object()) return f;
    if (auto m = error.find("message"); m != error.end() && m->is_string())
        f.message = m->get<std::string>();
    auto data = error.find("data");
    if (data != error.end() && data->is_object()) {
        if (auto c = data->find("code"); c != data->end() && c->is_string())
            f.code = c->get<std::string>();
        if (auto t = data->find("tries_left"); t != data->end() && t->is_number_integer())
            f.tries_left = t->get<int>();
        if (auto r = data->find("reason"); r != data->end() && r->is_string())
            f.reason = r->get<std::string>();
        if (auto w = data->find("sw"); w != data->end() && w->is_string()) {
            const auto& text = w->get_ref<const std::string&>();
            char* end = nullptr;
            unsigned long v = std::strtoul(text.c_str(), &end, 16);
            if (text.size() == 4 && end == text.c_str() + 4) f.sw = static_cast<std::uint16_t>(v);
        }
        return f;
    }
    if (auto c = error.find("code"); c != error.end() && c->is_number_integer()) {
        if (c->get<int>() == -32601) f.code = "method_missing";
        if (c->get<int>() == -32602) f.code = "usage";
    }
    return f;
}

}  // namespace

Failure makeFailure(std::string code, std::string message) {
    return Failure{std::move(code), std::move(message), std::nullopt, std::nullopt, std::nullopt};
}

std::string socketPath() {
    const char* env = std::getenv("SSCARD_SOCKET");  // NOLINT(concurrency-mt-unsafe): read only
    if (env != nullptr && *env != '\0') return env;
    return kDefaultSocket;
}

void wipe(std::string& s) noexcept {
    // The whole capacity: a short string moved away leaves its bytes in the inline buffer.
    explicit_bzero(s.data(), s.capacity());
    s.clear();
}

Expected<DaemonLink, Failure> DaemonLink::open(const std::string& path) {
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return unexpected(makeFailure("daemon_unreachable", "bad socket path " + path));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return unexpected(makeFailure("daemon_unreachable", "socket: " + errnoText(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd);
        return unexpected(
            makeFailure(err == EACCES || err == EPERM ? "not_allowed" : "daemon_unreachable",
                        "cannot connect to sscardd at " + path + ": " + errnoText(err)));
    }
    return DaemonLink(fd);
}

DaemonLink::DaemonLink(DaemonLink&& o) noexcept
    : fd_(o.fd_), buffer_(std::move(o.buffer_)), next_id_(o.next_id_) {
    o.fd_ = -1;
}

DaemonLink::~DaemonLink() {
    if (fd_ >= 0) ::close(fd_);
}

Expected<json, Failure> DaemonLink::call(std::string_view method, const json& params,
                                         std::chrono::milliseconds timeout) {
    return call(method,
                std::string_view(params.dump(-1, ' ', false, json::error_handler_t::replace)),
                timeout);
}

Expected<json, Failure> DaemonLink::call(std::string_view method, std::string_view params,
                                         std::chrono::milliseconds timeout) {
    const long long id = next_id_++;
    // Built in one buffer reserved up front, so no reallocation leaves a copy of params behind.
    std::string line;
    line.reserve(64 + method.size() + params.size());
    line += R"({"jsonrpc":"2.0","id":)";
    line += std::to_string(id);
    line += R"(,"method":)";
    line += json(std::string(method)).dump();
    line += R"(,"params":)";
    line += params;
    line += "}\n";
    std::size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            wipe(line);
            return unexpected(
                makeFailure("daemon_lost", "cannot send to sscardd: " + errnoText(err)));
        }
        off += static_cast<std::size_t>(n);
    }
    wipe(line);
    return readAnswer(id, std::chrono::steady_clock::now() + timeout);
}

Expected<json, Failure> DaemonLink::readAnswer(long long id,
                                               std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        auto nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            json msg = json::parse(
                buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
            buffer_.erase(0, nl + 1);
            if (msg.is_discarded() || !msg.is_object())
                return unexpected(makeFailure("daemon_lost", "sscardd sent a malformed answer"));
            auto idField = msg.find("id");
            if (idField == msg.end()) continue;  // a notification
            if (idField->is_null() && msg.contains("error"))
                return unexpected(failureFromError(msg["error"]));
            if (*idField != id) continue;
            if (auto e = msg.find("error"); e != msg.end()) return unexpected(failureFromError(*e));
            if (auto r = msg.find("result"); r != msg.end()) return std::move(*r);
            return unexpected(
                makeFailure("daemon_lost", "sscardd sent an answer without a result"));
        }
        if (buffer_.size() > kMaxAnswer)
            return unexpected(makeFailure("daemon_lost", "sscardd sent an answer too long"));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return unexpected(makeFailure("daemon_lost", "sscardd did not answer in time"));
        pollfd p{fd_, POLLIN, 0};
        int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return unexpected(makeFailure("daemon_lost", "poll: " + errnoText(errno)));
        if (rc == 0) continue;
        char buf[16384];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return unexpected(makeFailure("daemon_lost", "sscardd closed the connection"));
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace sscard::driver
