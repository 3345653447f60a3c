// One connection to sscardd's local API (docs/api.md) for the duration of one library call: the
// library keeps no connection between calls, so a restarted service is simply found again.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/expected.hpp"

namespace sscard::driver {

// A failure as the service reports it (data.code of its JSON-RPC error), or one of the library's
// own: "daemon_unreachable" (no connection), "daemon_lost" (no or a malformed answer),
// "method_missing" (the service does not know the method: an older sscardd).
struct Failure {
    std::string code;
    std::string message;
    std::optional<int> tries_left;
    std::optional<std::uint16_t> sw;
    std::optional<std::string> reason;  // data.reason: a finer cause within the code (no_psam …)
};

Failure makeFailure(std::string code, std::string message);

// SSCARD_SOCKET when set and not empty, else the service's default socket.
std::string socketPath();

class DaemonLink {
  public:
    static Expected<DaemonLink, Failure> open(const std::string& path);

    DaemonLink(DaemonLink&& o) noexcept;
    DaemonLink& operator=(DaemonLink&&) = delete;
    DaemonLink(const DaemonLink&) = delete;
    DaemonLink& operator=(const DaemonLink&) = delete;
    ~DaemonLink();

    // Sends one request whose params are the JSON object text `params` and waits for its answer.
    // Every copy of the request the link makes is wiped after sending (params may hold a PIN);
    // the caller wipes `params` itself.
    Expected<nlohmann::json, Failure> call(std::string_view method, std::string_view params,
                                           std::chrono::milliseconds timeout);
    Expected<nlohmann::json, Failure> call(std::string_view method, const nlohmann::json& params,
                                           std::chrono::milliseconds timeout);

  private:
    explicit DaemonLink(int fd) : fd_(fd) {}
    Expected<nlohmann::json, Failure> readAnswer(long long id,
                                                 std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buffer_;
    long long next_id_ = 1;
};

// Overwrites a string's bytes (explicit_bzero: not optimised away).
void wipe(std::string& s) noexcept;

}  // namespace sscard::driver
