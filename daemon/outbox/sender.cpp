#include "daemon/outbox/sender.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <iterator>

#include "base/backoff.hpp"
#include "base/clock.hpp"
#include "base/errno_text.hpp"
#include "base/http_client.hpp"
#include "crypto/hmac.hpp"
#include "crypto/sha256.hpp"
#include "crypto/wipe.hpp"

namespace sscard::outbox {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxAnswerKept = 200;

// The start of an answer body, for a log line: printable ASCII only, cut short.
std::string snippet(const std::string& body) {
    std::string out;
    for (char c : body) {
        if (out.size() >= kMaxAnswerKept) {
            out += "...";
            break;
        }
        auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7F) ? c : ' ';
    }
    return out;
}

// Only the delay-seconds form; an HTTP date gives nullopt (our own backoff applies).
std::optional<long> parseRetryAfter(std::string_view value) {
    long v = 0;
    bool digits = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            if (digits) break;
            continue;
        }
        if (c == '\r' || c == '\n') break;
        if (c < '0' || c > '9') {
            digits = false;
            break;
        }
        digits = true;
        if (v < 100'000'000) v = v * 10 + (c - '0');
    }
    if (!digits) return std::nullopt;
    return v;
}

void defaultLog(LogLevel level, const std::string& msg) {
    std::fprintf(stderr, "sscardd outbox %s: %s\n", std::string(logLevelName(level)).c_str(),
                 msg.c_str());
}

nlohmann::json timeOrNull(const std::optional<TimePoint>& t) {
    return t ? nlohmann::json(rfc3339(*t)) : nlohmann::json(nullptr);
}

}  // namespace

Expected<Bytes, Error> readHmacKeyFile(const std::string& path) {
    auto bad = [&path](const std::string& why) {
        return unexpected(
            makeError(ErrorCode::config, "backend.hmac_key_file " + path + ": " + why));
    };
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return bad(errnoText(errno));
    if (!S_ISREG(st.st_mode)) return bad("not a regular file");
    if ((st.st_mode & 077) != 0) {
        return bad(
            "readable or writable by group or others; it must be readable by the service only "
            "(chmod 600)");
    }
    if (st.st_size > 4096) return bad("longer than 4 KiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) return bad("cannot be read");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto first = text.find_first_not_of(" \t\r\n");
    auto last = text.find_last_not_of(" \t\r\n");
    std::string hex = first == std::string::npos ? "" : text.substr(first, last - first + 1);
    crypto::wipe(text);
    auto key = fromHex(hex);
    crypto::wipe(hex);
    if (!key || key->size() < 32 || key->size() > 64) {
        return bad("must hold 64 to 128 hex digits (a key of 32 to 64 bytes)");
    }
    return std::move(*key);
}

Expected<std::string, Error> signatureHeader(ByteView key, std::int64_t t, std::string_view body) {
    std::string message = std::to_string(t) + ".";
    message.append(body);
    auto mac = crypto::hmacSha256(key, message);
    if (!mac) return unexpected(mac.error());
    return "X-Sscard-Signature: t=" + std::to_string(t) + ",hmac=" + crypto::toLowerHex(*mac);
}

Expected<SenderOptions, Error> senderOptions(const BackendConfig& backend) {
    SenderOptions o;
    o.url = backend.url;
    o.ca_file = backend.ca_file;
    o.allow_insecure_http = backend.allow_insecure_http;
    if (backend.auth == BackendAuth::client_cert) {
        o.client_cert = backend.client_cert;
        o.client_key = backend.client_key;
    } else if (backend.auth == BackendAuth::hmac) {
        auto key = readHmacKeyFile(backend.hmac_key_file);
        if (!key) return unexpected(key.error());
        o.hmac_key = std::move(*key);
    }
    return o;  // the caller's copy of hmac_key is its to wipe; the Sender wipes its own
}

AttemptClass classifyStatus(long http_status) {
    if (http_status >= 200 && http_status <= 299) return AttemptClass::delivered;
    if (http_status == 0 || http_status >= 500 || http_status == 408 || http_status == 429) {
        return AttemptClass::unavailable;
    }
    return AttemptClass::refused;
}

milliseconds backoffDelay(int failures, milliseconds initial, milliseconds max, double unit) {
    return sscard::backoffDelay(BackoffPolicy{initial, max, 0.5, 0.0}, failures, unit);
}

nlohmann::json toJson(const SenderStatus& s) {
    return nlohmann::json{
        {"enabled", s.enabled},
        {"running", s.running},
        {"queued", s.queued},
        {"delivered", s.delivered},
        {"failed_attempts", s.failed_attempts},
        {"consecutive_failures", s.consecutive_failures},
        {"last_error",
         s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error)},
        {"last_error_at", timeOrNull(s.last_error_at)},
        {"last_delivered_at", timeOrNull(s.last_delivered_at)},
        {"next_attempt_at", timeOrNull(s.next_attempt_at)},
    };
}

struct Sender::Attempt {
    long status = 0;  // 0 = no HTTP answer
    std::string error;
    std::optional<long> retry_after_s;
    bool aborted = false;  // stop() cut it short
};

Sender::Sender(Outbox& outbox, SenderOptions options)
    : outbox_(outbox), options_(std::move(options)), rng_(std::random_device{}()) {
    if (!options_.log) options_.log = &defaultLog;
    if (options_.batch == 0) options_.batch = 1;
    http::globalInit();
}

Sender::~Sender() {
    stop();
    crypto::wipe(options_.hmac_key);
}

void Sender::start() {
    if (options_.url.empty()) {
        log(LogLevel::info, "backend.url is empty: events stay queued in the outbox");
        return;
    }
    if (http::isPlainHttp(options_.url) && !options_.allow_insecure_http) {
        log(LogLevel::error, "backend.url " + http::redactUrl(options_.url) +
                                 " is plain http and backend.allow_insecure_http is not set: "
                                 "events stay queued in the outbox");
        return;
    }
    {
        std::lock_guard lk(mu_);
        if (running_) return;
        running_ = true;
        stopping_ = false;
        kicked_ = true;
        down_until_.reset();
    }
    outbox_.setEnqueueListener([this] { wake(); });
    thread_ = std::thread([this] { run(); });
}

void Sender::stop() {
    {
        std::lock_guard lk(mu_);
        if (!running_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    // Not under mu_: the listener takes mu_ (through wake()) while the outbox holds its own lock.
    outbox_.setEnqueueListener(nullptr);
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(mu_);
    running_ = false;
}

void Sender::wake() {
    {
        std::lock_guard lk(mu_);
        kicked_ = true;
    }
    cv_.notify_all();
}

SenderStatus Sender::status() {
    SenderStatus s;
    std::optional<TimePoint> down;  // the end of a sender-wide backoff
    {
        std::lock_guard lk(mu_);
        s.enabled = !options_.url.empty();
        s.running = running_;
        s.delivered = delivered_;
        s.failed_attempts = failed_attempts_;
        s.consecutive_failures = consecutive_failures_;
        s.last_error = last_error_;
        s.last_error_at = last_error_at_;
        s.last_delivered_at = last_delivered_at_;
        auto steadyNow = SteadyClock::now();
        if (down_until_ && *down_until_ > steadyNow) {
            down = now() + std::chrono::duration_cast<milliseconds>(*down_until_ - steadyNow);
        }
    }
    if (auto n = outbox_.count()) s.queued = *n;
    if (auto next = outbox_.nextAttemptAt(); next && *next) {
        s.next_attempt_at = down ? std::max(*down, **next) : **next;
    } else if (down && s.queued > 0) {
        s.next_attempt_at = down;
    }
    return s;
}

void Sender::log(LogLevel level, const std::string& msg) {
    try {
        options_.log(level, msg);
    } catch (...) {
        // A failing logger must not take the sender down.
    }
}

double Sender::jitterUnit() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

Sender::Attempt Sender::post(http::Client& client, const PendingEvent& e) {
    Attempt a;
    std::string answer;  // first bytes of the response body
    http::Request req;
    req.url = options_.url;
    req.method = http::Method::post;
    req.body = e.body;
    req.user_agent = "sscardd/0.1";
    req.ca_file = options_.ca_file;
    req.client_cert = options_.client_cert;
    req.client_key = options_.client_key;
    req.connect_timeout = options_.connect_timeout;
    req.total_timeout = options_.total_timeout;
    req.headers = {"Content-Type: application/json", "Accept: application/json",
                   "Idempotency-Key: " + e.event_id, "Expect:"};  // no 100-continue round trip
    if (!options_.hmac_key.empty()) {
        auto header = signatureHeader(options_.hmac_key, unixSecondsNow(), e.body);
        if (!header) {
            a.error = header.error().message;
            return a;
        }
        req.headers.push_back(std::move(*header));
    }
    req.cancel = [this] { return stopping_.load(); };
    req.sink = [&answer](std::string_view data) {
        if (answer.size() < kMaxAnswerKept + 1) {
            answer.append(data.substr(0, kMaxAnswerKept + 1 - answer.size()));
        }
        return true;
    };
    http::Result r = client.perform(req);
    if (r.cancelled && stopping_) {
        a.aborted = true;
        a.error = "stopped";
        return a;
    }
    if (!r.ok()) {
        a.error = r.error;
        return a;
    }
    a.status = r.status;
    if (auto v = client.header("Retry-After")) a.retry_after_s = parseRetryAfter(*v);
    if (classifyStatus(a.status) != AttemptClass::delivered) {
        a.error = "HTTP " + std::to_string(a.status);
        std::string s = snippet(answer);
        if (!s.empty()) a.error += ": " + s;
    }
    return a;
}

void Sender::run() {
    http::Client client;
    for (;;) {
        try {
            loop(client);
            break;  // stopping
        } catch (const std::exception& ex) {
            // Out of memory or similar: not a reason to end the thread (events would pile up).
            std::lock_guard lk(mu_);
            ++consecutive_failures_;
            last_error_ = std::string("internal error: ") + ex.what();
            last_error_at_ = now();
            down_until_ = SteadyClock::now() + options_.backoff_max;
        }
        log(LogLevel::error,
            "outbox sender: internal error; retrying in " + formatDuration(options_.backoff_max));
    }
}

void Sender::loop(http::Client& client) {
    for (;;) {
        {
            std::unique_lock lk(mu_);
            if (stopping_) break;
            if (down_until_ && SteadyClock::now() < *down_until_) {
                // Backing off: only stop() ends this early.
                cv_.wait_until(lk, *down_until_, [this] { return stopping_.load(); });
                continue;
            }
            down_until_.reset();
            kicked_ = false;
        }

        auto backOff = [this](const std::string& why) {
            std::lock_guard lk(mu_);
            ++failed_attempts_;
            ++consecutive_failures_;
            last_error_ = why;
            last_error_at_ = now();
            auto d = backoffDelay(consecutive_failures_, options_.backoff_initial,
                                  options_.backoff_max, jitterUnit());
            down_until_ = SteadyClock::now() + d;
            return d;
        };

        if (!client.ensureValid()) {
            auto d = backOff("libcurl initialisation failed");
            log(LogLevel::error, "libcurl initialisation failed; retrying in " + formatDuration(d));
            continue;
        }

        TimePoint t0 = now();
        auto batch = outbox_.due(t0, options_.batch);
        if (!batch) {
            auto d = backOff(batch.error().message);
            log(LogLevel::error, "cannot read the outbox: " + batch.error().message +
                                     "; retrying in " + formatDuration(d));
            continue;
        }

        bool down = false;
        for (const PendingEvent& e : *batch) {
            if (stopping_) break;
            Attempt a = post(client, e);
            if (a.aborted) break;
            AttemptClass cls = a.status == 0 ? AttemptClass::unavailable : classifyStatus(a.status);
            TimePoint t = now();
            if (cls == AttemptClass::delivered) {
                auto r = outbox_.markDelivered(e.event_id);
                if (!r) {
                    // It will be sent again under the same key (the receiver deduplicates), but
                    // not at once: back off as if the backend were down.
                    auto d = backOff("cannot remove a delivered event: " + r.error().message);
                    log(LogLevel::error, "event " + e.event_id +
                                             " was delivered but cannot be removed from the "
                                             "outbox: " +
                                             r.error().message + "; retrying in " +
                                             formatDuration(d));
                    down = true;
                    break;
                }
                bool recovered;
                {
                    std::lock_guard lk(mu_);
                    ++delivered_;
                    last_delivered_at_ = t;
                    recovered = consecutive_failures_ > 0;
                    consecutive_failures_ = 0;
                }
                if (recovered) log(LogLevel::info, "backend reachable again");
                log(LogLevel::debug, "delivered " + e.type + " event " + e.event_id);
                continue;
            }
            if (cls == AttemptClass::unavailable) {
                int streak;
                milliseconds d;
                {
                    std::lock_guard lk(mu_);
                    ++failed_attempts_;
                    streak = ++consecutive_failures_;
                    last_error_ = a.error;
                    last_error_at_ = t;
                    d = backoffDelay(streak, options_.backoff_initial, options_.backoff_max,
                                     jitterUnit());
                    if (a.retry_after_s) {
                        auto ra = std::chrono::duration_cast<milliseconds>(
                            std::chrono::seconds(*a.retry_after_s));
                        d = std::clamp(ra, d, std::max(d, options_.backoff_max));
                    }
                    down_until_ = SteadyClock::now() + d;
                }
                // The event stays due: the sender-wide wait (down_until_) gates the retry, and it
                // starts again with this, the oldest, event. (A per-event time here could let a
                // younger event overtake it by the few ms the two clocks differ.)
                auto r = outbox_.markAttemptFailed(e.event_id, a.error, t);
                if (!r) log(LogLevel::error, "cannot update the outbox: " + r.error().message);
                log(streak == 1 ? LogLevel::warn : LogLevel::debug,
                    "backend unavailable (" + a.error + "); " + e.type + " event " + e.event_id +
                        " stays queued, retrying in " + formatDuration(d));
                down = true;
                break;
            }
            // Refused: the backend is up but does not take this event. Keep it, retry it on its
            // own backoff, and say so loudly every time.
            auto d = backoffDelay(e.attempts + 1, options_.backoff_initial, options_.backoff_max,
                                  jitterUnit());
            {
                std::lock_guard lk(mu_);
                ++failed_attempts_;
                consecutive_failures_ = 0;
                last_error_ = a.error;
                last_error_at_ = t;
            }
            auto r = outbox_.markAttemptFailed(e.event_id, a.error, t + d);
            if (!r) log(LogLevel::error, "cannot update the outbox: " + r.error().message);
            log(LogLevel::error, "backend REFUSED " + e.type + " event " + e.event_id + " (" +
                                     a.error + ", attempt " + std::to_string(e.attempts + 1) +
                                     "); it is kept and retried in " + formatDuration(d) +
                                     " — check the backend or remove the event by hand");
        }
        if (stopping_) break;
        if (down) continue;
        if (batch->size() == options_.batch) continue;  // there may be more due now

        // Idle: sleep until the next due attempt, an enqueue, or stop().
        auto next = outbox_.nextAttemptAt();
        if (!next) {
            auto d = backOff(next.error().message);
            log(LogLevel::error, "cannot read the outbox: " + next.error().message +
                                     "; retrying in " + formatDuration(d));
            continue;
        }
        TimePoint tn = now();
        if (*next && **next > tn + options_.backoff_max) {
            // Further ahead than any backoff: the wall clock went back. Due now.
            auto r = outbox_.rescheduleLaterThan(tn + options_.backoff_max, tn);
            if (r && *r > 0) {
                log(LogLevel::warn, "the clock went back; " + std::to_string(*r) +
                                        " queued event(s) rescheduled to now");
            }
            continue;
        }
        std::unique_lock lk(mu_);
        if (stopping_) break;
        if (kicked_) continue;
        auto woken = [this] { return stopping_.load() || kicked_; };
        if (!*next) {
            cv_.wait(lk, woken);
        } else if (**next > tn) {
            cv_.wait_until(lk, SteadyClock::now() + (**next - tn), woken);
        }
    }
}

}  // namespace sscard::outbox
