// A blocking client of the local API, for `sscardd status` and tests: one connection, one call at
// a time, notifications kept for nextNotification().
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::api {

class Client {
  public:
    // Errors: not_allowed when the socket may not be opened (EACCES), internal otherwise (no
    // daemon, wrong path), each naming the path.
    static Expected<Client, Error> connect(const std::string& socketPath);

    Client(Client&& o) noexcept;
    Client& operator=(Client&& o) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    // Sends one request and waits for its answer. An error answer becomes the contract Error it
    // describes (fromJsonRpcError); a timeout, a lost connection or a malformed answer are
    // internal errors. Notifications arriving meanwhile are kept.
    Expected<nlohmann::json, Error> call(
        std::string_view method, const nlohmann::json& params = nlohmann::json::object(),
        std::chrono::milliseconds timeout = std::chrono::seconds(60));

    // The next notification ({"method", "params"} as sent); nullopt on timeout. An error if the
    // connection is gone.
    Expected<std::optional<nlohmann::json>, Error> nextNotification(
        std::chrono::milliseconds timeout);

  private:
    explicit Client(int fd) : fd_(fd) {}
    // The next line as JSON; nullopt on timeout.
    Expected<std::optional<nlohmann::json>, Error> readMessage(
        std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buffer_;
    std::deque<nlohmann::json> notifications_;
    long long next_id_ = 1;
};

}  // namespace sscard::api
