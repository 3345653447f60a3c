// The outbox sender: one background thread that POSTs stored events (outbox.hpp) to
// `[backend] url` and removes each one the backend accepts.
//
// - Each event is POSTed alone, its stored body as is, with `Content-Type: application/json` and
//   `Idempotency-Key: <event_id>`; TLS verification on (peer and host name), `[backend] ca_file`
//   as the CA bundle when set; no redirects; connect timeout 5 s, whole request 15 s.
// - Oldest first. A 2xx answer deletes the event.
// - "Backend unavailable" — no connection, a timeout, a TLS failure, 5xx, 408, 429: the event
//   stays, and the whole sender waits (exponential backoff with jitter: 0.5-1 s after the first
//   failure, doubling to 2.5-5 min; a Retry-After in seconds is honoured up to that cap) before
//   trying again, starting with the same oldest event. The queue keeps its order and a down
//   backend is not hammered.
// - Any other answer (3xx, 4xx other than 408/429): the backend is up but refuses this event. It
//   is NOT dropped — a dropped activation event is a card the backend never hears about, and only a
//   person can decide it is garbage — but retried on its own backoff (by its attempt count) while
//   the events behind it go on, and every refusal is logged at error level with the status and the
//   start of the answer. An operator sees it in the log and in status (last_error).
// - No busy polling: the thread sleeps until an enqueue (the outbox's listener), the next due
//   retry, or stop(). stop() aborts a request in flight (that event stays queued and is sent again
//   later, under the same key).
// - Next-attempt times are wall-clock (they persist across restarts); a time further ahead than the
//   backoff cap can only come from the clock having gone back, and is pulled in to "now".
// - An empty url: start() starts nothing; events stay queued until a url is configured. A plain
//   http:// url without allow_insecure_http: start() logs an error and starts nothing either.
// - Client authentication ([backend] auth): a TLS client certificate (client_cert, client_key), or
//   `X-Sscard-Signature: t=<unix seconds>,hmac=<hex>` where hmac is HMAC-SHA256 under the
//   terminal's key of "<t>.<body>" (the exact bytes POSTed). A receiver recomputes it, refuses a
//   t more than 5 minutes from its own clock, and keeps refusing replays by Idempotency-Key.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/outbox/outbox.hpp"

namespace sscard::http {
class Client;
}

namespace sscard::outbox {

struct SenderOptions {
    std::string url;      // empty = do not send
    std::string ca_file;  // empty = the system's CAs
    bool allow_insecure_http = false;
    std::string client_cert;  // PEM; with client_key: TLS client authentication
    std::string client_key;
    Bytes hmac_key;  // non-empty: every POST carries X-Sscard-Signature
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
    std::chrono::milliseconds total_timeout = std::chrono::seconds(15);
    std::chrono::milliseconds backoff_initial = std::chrono::seconds(1);
    std::chrono::milliseconds backoff_max = std::chrono::minutes(5);
    std::size_t batch = 32;  // events read from the database per round
    // Where the sender logs (never a PIN or holder data: event ids, types, HTTP statuses).
    // Default: stderr.
    std::function<void(LogLevel, const std::string&)> log;
};

// The options for `[backend]` of the configuration (url, ca_file, allow_insecure_http, the client
// authentication with its key file read; the rest at their defaults). config error when the HMAC
// key file is unusable (see readHmacKeyFile).
Expected<SenderOptions, Error> senderOptions(const BackendConfig& backend);

// The per-terminal HMAC key: a regular file of at most 4 KiB, not readable or writable by group or
// others, holding 64 to 128 hex digits (32 to 64 bytes; surrounding whitespace ignored), e.g.
// `openssl rand -hex 32`. config error otherwise, naming the file, never its content.
Expected<Bytes, Error> readHmacKeyFile(const std::string& path);

// The X-Sscard-Signature header value for a body sent at Unix time t.
Expected<std::string, Error> signatureHeader(ByteView key, std::int64_t t, std::string_view body);

// How an answer is treated.
enum class AttemptClass {
    delivered,    // 2xx
    unavailable,  // transport failure (status 0), 5xx, 408, 429: back off, retry
    refused,      // anything else: retry this event on its own backoff, log loudly
};
AttemptClass classifyStatus(long http_status);

// The delay before the next try after `failures` (>= 1) consecutive failures: initial * 2^(n-1),
// at most max, times a jitter factor in [0.5, 1] given by `unit` in [0, 1].
std::chrono::milliseconds backoffDelay(int failures, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double unit);

struct SenderStatus {
    bool enabled = false;               // a url is configured
    bool running = false;               // the thread is running
    std::int64_t queued = -1;           // undelivered events (-1: could not be read)
    std::uint64_t delivered = 0;        // since start
    std::uint64_t failed_attempts = 0;  // since start
    int consecutive_failures = 0;       // of the backend as a whole (0 = healthy)
    std::string last_error;             // of the most recent failed attempt
    std::optional<TimePoint> last_error_at;
    std::optional<TimePoint> last_delivered_at;
    std::optional<TimePoint> next_attempt_at;  // earliest stored next attempt
};

// {"enabled", "running", "queued", "delivered", "failed_attempts", "consecutive_failures",
//  "last_error" (null if none), "last_error_at", "last_delivered_at", "next_attempt_at"} with times
// in RFC 3339 or null: for the API's `status`.
nlohmann::json toJson(const SenderStatus& s);

class Sender {
  public:
    // `outbox` must outlive the Sender.
    Sender(Outbox& outbox, SenderOptions options);
    ~Sender();  // stop()
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    // Starts the thread (no-op with an empty url, or when already running).
    void start();
    // Stops and joins the thread, aborting a request in flight. Idempotent.
    void stop();
    // Look at the outbox now (the outbox's enqueue listener calls this). Does not cut a backoff
    // short: a down backend is not retried sooner because more events arrive.
    void wake();

    SenderStatus status();

  private:
    struct Attempt;
    void run();
    void loop(http::Client& client);  // returns when stopping
    Attempt post(http::Client& client, const PendingEvent& e);
    void log(LogLevel level, const std::string& msg);
    double jitterUnit();

    Outbox& outbox_;
    SenderOptions options_;

    std::mutex mu_;  // guards what follows; never held while calling into the outbox
    std::condition_variable cv_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    bool kicked_ = false;
    bool running_ = false;
    std::optional<std::chrono::steady_clock::time_point> down_until_;
    std::uint64_t delivered_ = 0;
    std::uint64_t failed_attempts_ = 0;
    int consecutive_failures_ = 0;
    std::string last_error_;
    std::optional<TimePoint> last_error_at_;
    std::optional<TimePoint> last_delivered_at_;

    std::mt19937_64 rng_;  // the sender thread's only
};

}  // namespace sscard::outbox
