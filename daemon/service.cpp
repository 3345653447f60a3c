#include "daemon/service.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "apdu/ssse/application.hpp"
#include "apdu/ssse/errors.hpp"
#include "apdu/ssse/pin.hpp"
#include "blacklist/sync.hpp"
#include "daemon/api/server.hpp"
#include "daemon/card_check.hpp"
#include "daemon/card_json.hpp"
#include "daemon/log.hpp"
#include "daemon/monitor_group.hpp"
#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"
#include "daemon/outbox/sender.hpp"
#include "daemon/reader_setup.hpp"

namespace sscard::daemon {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kReaderWait = 3s;  // how long a request waits for a reader busy with another
// PIN attempts per reader: at most [pin] attempts_per_minute per window, so that a compromised
// kiosk application cannot walk a card's retry counter down in a burst.
constexpr auto kPinWindow = 60s;

// A PIN parameter of a request as a SecretPin; the copy taken out of the JSON is wiped.
Expected<ssse::SecretPin, Error> pinParam(const nlohmann::json& params, const char* key) {
    if (!params.is_object() || !params.contains(key) || !params[key].is_string()) {
        return unexpected(
            makeError(ErrorCode::usage, std::string("missing string parameter \"") + key + "\""));
    }
    std::string digits = params[key].get<std::string>();
    return ssse::SecretPin::take(digits);
}

// The same into `out`, for PINs that only some variants of a request carry.
Expected<void, Error> takePin(const nlohmann::json& params, const char* key,
                              std::optional<ssse::SecretPin>& out) {
    auto pin = pinParam(params, key);
    if (!pin) return unexpected(pin.error());
    out.emplace(std::move(*pin));
    return {};
}

// The optional "reader" parameter of a request.
std::optional<std::string> readerParam(const nlohmann::json& params) {
    if (params.is_object() && params.contains("reader") && params["reader"].is_string()) {
        return params["reader"].get<std::string>();
    }
    return std::nullopt;
}

// card.activate's optional "old_card" (the card a replacement replaces, for the backend to link):
// null, or an object of card_id / region / card_number strings (what card.read gives).
Expected<nlohmann::json, Error> oldCardParam(const nlohmann::json& params) {
    if (!params.is_object() || !params.contains("old_card") || params["old_card"].is_null())
        return nlohmann::json(nullptr);
    const auto& old = params["old_card"];
    auto bad = [] {
        return unexpected(makeError(ErrorCode::usage,
                                    "\"old_card\" must be an object with card_id, or region "
                                    "and card_number (strings of at most 64 characters)"));
    };
    if (!old.is_object()) return bad();
    nlohmann::json out = nlohmann::json::object();
    for (const char* key : {"card_id", "region", "card_number"}) {
        if (!old.contains(key)) continue;
        if (!old[key].is_string() || old[key].get_ref<const std::string&>().size() > 64)
            return bad();
        out[key] = old[key];
    }
    if (!out.contains("card_id") && !(out.contains("region") && out.contains("card_number")))
        return bad();
    return out;
}

enum class PinSource { host, pinpad };

// "pin_source": "host" (the default: the PIN is in the request) or "pinpad" (the holder types it
// on the reader and it never reaches this process).
Expected<PinSource, Error> pinSourceParam(const nlohmann::json& params) {
    if (!params.is_object() || !params.contains("pin_source")) return PinSource::host;
    const auto& v = params["pin_source"];
    if (v == "host") return PinSource::host;
    if (v == "pinpad") return PinSource::pinpad;
    return unexpected(makeError(ErrorCode::usage, "\"pin_source\" must be \"host\" or \"pinpad\""));
}

// The reader's PIN pad (PC/SC part 10); not_allowed when it has none for the operation.
Expected<ssse::PinpadFeatures, Error> requirePinpad(apdu::CardConnection& card, bool modify) {
    auto features = ssse::pinpadFeatures(card);
    if (!features) return unexpected(features.error());
    if (!*features || (modify && (*features)->modifyPinDirect == 0)) {
        return unexpected(
            makeError(ErrorCode::not_allowed,
                      card.readerName() + " has no PIN pad for " +
                          (modify ? "changing a PIN (PC/SC part 10 FEATURE_MODIFY_PIN_DIRECT)"
                                  : "entering a PIN (PC/SC part 10 FEATURE_VERIFY_PIN_DIRECT)")));
    }
    return **features;
}

// The PIN pad when the request asks for one (and the reader has it); nullopt for host PINs.
Expected<std::optional<ssse::PinpadFeatures>, Error> pinpadFor(PinSource source,
                                                               apdu::CardConnection& card,
                                                               bool modify) {
    if (source != PinSource::pinpad) return std::optional<ssse::PinpadFeatures>{};
    auto pad = requirePinpad(card, modify);
    if (!pad) return unexpected(pad.error());
    return std::optional<ssse::PinpadFeatures>(*pad);
}

ssse::PinpadParams pinpadParams(const ssse::PinPolicy& policy) {
    ssse::PinpadParams params;
    params.minDigits = policy.minLength;
    params.maxDigits = policy.maxLength;
    return params;
}

// Flows that may change a PIN say where it stands when they fail: the library marks the step that
// changes it ("unknown" when the card left during it); anything earlier left it unchanged.
Expected<nlohmann::json, Error> withPinState(Expected<nlohmann::json, Error> result) {
    if (!result && !result.error().pin_state) {
        Error e = std::move(result).error();
        e.pin_state = "unchanged";
        return unexpected(std::move(e));
    }
    return result;
}

outbox::CardRef cardRef(const ssse::CardInfo& card) {
    return {card.card_id.value_or(""), card.region.value_or(""), card.card_number.value_or("")};
}

std::string errorText(const Error& e) {
    return std::string(codeName(e.code)) + ": " + e.message;
}

struct ChildResult {
    int status = 0;  // exit status; 128 + signal when killed
    std::string output;
};

// Runs a command, collecting its standard output; `pid` holds the child's pid while it runs (so
// that stopping the service can end it).
Expected<ChildResult, Error> runChild(const std::vector<std::string>& args,
                                      std::atomic<pid_t>& pid) {
    int pipeFds[2];
    if (pipe2(pipeFds, O_CLOEXEC) != 0) {
        return unexpected(
            makeError(ErrorCode::internal, std::string("pipe: ") + std::strerror(errno)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The child must not inherit the daemon's blocked signals (SIGTERM would not end it).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t child = 0;
    int rc = posix_spawn(&child, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(pipeFds[1]);
    if (rc != 0) {
        close(pipeFds[0]);
        return unexpected(
            makeError(ErrorCode::internal, std::string("spawn: ") + std::strerror(rc)));
    }
    pid = child;
    ChildResult result;
    char buf[4096];
    for (;;) {
        ssize_t n = read(pipeFds[0], buf, sizeof buf);
        if (n > 0)
            result.output.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR)
            break;
    }
    close(pipeFds[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    pid = 0;
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

// A queue of jobs run by a fixed set of threads (automatic checks of inserted cards).
class JobPool {
  public:
    explicit JobPool(std::size_t threads) {
        for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    ~JobPool() { stop(); }
    void post(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            jobs_.push_back(std::move(job));
        }
        cv_.notify_one();
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            if (stopping_ && workers_.empty()) return;
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

  private:
    void work() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> workers_;
    bool stopping_ = false;
};

class Service {
  public:
    explicit Service(const Config& config)
        : config_(config),
          readers_(makeReaderDirectory(config)),
          list_(config.list.database),
          server_(api::ServerOptions::fromConfig(config)),
          started_(Clock::now()) {}

    int run();

  private:
    // --- cards ---
    std::shared_ptr<std::timed_mutex> readerLock(const std::string& reader);
    // A reader held for one request (waiting up to kReaderWait for another to finish) and a
    // connection to its card; the connection closes before the reader is released.
    struct LockedCard {
        std::shared_ptr<std::timed_mutex> mutex;
        std::unique_lock<std::timed_mutex> guard;
        std::unique_ptr<apdu::CardConnection> connection;
    };
    // busyName names the reader in the busy error; connectPrefix goes before connection errors.
    Expected<LockedCard, Error> lockAndConnect(const std::string& reader,
                                               const std::string& busyName,
                                               const std::string& connectPrefix);
    Expected<apdu::ReaderInfo, Error> pickReader(const std::optional<std::string>& named);
    template <class Fn>
    auto withCard(const std::optional<std::string>& named, Fn&& fn)
        -> decltype(fn(std::declval<apdu::CardConnection&>()));
    Expected<nlohmann::json, Error> check(const std::optional<std::string>& reader,
                                          const std::string& origin);
    void onReaderEvent(const apdu::ReaderEvent& event);
    void record(const std::string& kind, const std::string& reader, const ssse::CardInfo* card,
                const blacklist::Decision* decision, const std::string& code);

    // --- PIN flows (each inside one PC/SC transaction) ---
    bool allowPinAttempt(const std::string& reader);
    // Runs fn(card, transaction, application) with the SSSE application selected on the card of
    // the request's reader, inside one PC/SC transaction.
    template <class Fn>
    Expected<nlohmann::json, Error> withApplication(const nlohmann::json& params, Fn&& fn);
    Expected<nlohmann::json, Error> verifyPinFlow(const nlohmann::json& params);
    Expected<nlohmann::json, Error> changePinFlow(const nlohmann::json& params);
    Expected<nlohmann::json, Error> activateFlow(const nlohmann::json& params);
    Expected<nlohmann::json, Error> resumeActivationFlow(const nlohmann::json& params);
    // Issuer operations (admin): PIN reset with a new PIN, or unblock (counter only).
    Expected<nlohmann::json, Error> issuerFlow(const nlohmann::json& params, bool reset);
    Expected<nlohmann::json, Error> resetFlow(const nlohmann::json& params) {
        return issuerFlow(params, true);
    }
    Expected<nlohmann::json, Error> unblockFlow(const nlohmann::json& params) {
        return issuerFlow(params, false);
    }
    // Runs fn(KeySource&) with the configured issuer keys: the software key file, or the PSAM
    // in its reader (locked for the operation).
    template <class Fn>
    Expected<void, Error> withIssuerKeys(Fn&& fn);
    ssse::PinPolicy pinPolicy() const {
        ssse::PinPolicy policy;
        policy.minLength = static_cast<std::size_t>(config_.pin.min_length);
        policy.maxLength = static_cast<std::size_t>(config_.pin.max_length);
        return policy;
    }
    // A new PIN against the policy, with the holder's birth date where EF06 can be read.
    Expected<void, Error> checkNewPinFor(ssse::SsseApplication& app, const ssse::CardInfo& info,
                                         const ssse::SecretPin& newPin,
                                         const ssse::SecretPin* initial);
    // The card.activated event queued and audited once the card holds the holder's new PIN.
    Expected<nlohmann::json, Error> completeActivation(const apdu::CardConnection& card,
                                                       const ssse::CardInfo& info,
                                                       const nlohmann::json& oldCard, bool resumed);
    bool isSamSlot(const std::string& reader) const {
        return config_.keys.source == KeySourceKind::psam && reader == config_.keys.psam_reader;
    }
    Expected<nlohmann::json, Error> readersJson();
    void auditEvent(const std::string& kind, const std::string& reader, const ssse::CardInfo& card,
                    const std::string& code, const std::string& eventId);
    // card_denied (audited as `refusedKind`) unless the list allows the card.
    Expected<void, Error> requireAllowed(const ssse::CardInfo& card, const std::string& reader,
                                         const std::string& refusedKind,
                                         const std::string& refusal);

    // --- list ---
    void syncLoop();
    Expected<blacklist::SyncResult, Error> syncNow();
    nlohmann::json listStatusJson();

    // --- API ---
    void registerMethods();
    nlohmann::json statusJson();

    Config config_;
    std::mutex readersMutex_;  // ReaderDirectory is not thread-safe
    ReaderDirectory readers_;
    std::mutex locksMutex_;
    std::map<std::string, std::shared_ptr<std::timed_mutex>> readerLocks_;
    ssse::ReadStrategyCache readStrategy_;
    ListAccess list_;
    api::Server server_;
    std::unique_ptr<outbox::Outbox> outbox_;
    std::unique_ptr<outbox::AuditLog> audit_;
    std::unique_ptr<outbox::Sender> sender_;
    std::unique_ptr<ssse::SoftwareKeySource> softwareKeys_;  // [keys] source = "file" only
    std::unique_ptr<MonitorGroup> monitors_;
    std::unique_ptr<JobPool> checks_;
    std::unique_ptr<JobPool> writer_;  // one thread: audit and outbox writes, in order
    std::thread syncThread_;
    std::mutex syncMutex_;
    std::condition_variable syncCv_;
    bool stopping_ = false;
    std::mutex pinAttemptsMutex_;
    std::map<std::string, std::deque<Clock::time_point>> pinAttempts_;
    std::mutex syncRunMutex_;          // one sync at a time (background loop or list.sync)
    std::atomic<pid_t> syncChild_{0};  // the sync process while one runs
    std::mutex syncStateMutex_;
    std::string lastSyncError_;
    std::int64_t lastSyncAt_ = 0;
    Clock::time_point started_;
};

std::shared_ptr<std::timed_mutex> Service::readerLock(const std::string& reader) {
    std::lock_guard lock(locksMutex_);
    auto& slot = readerLocks_[reader];
    if (!slot) slot = std::make_shared<std::timed_mutex>();
    return slot;
}

Expected<apdu::ReaderInfo, Error> Service::pickReader(const std::optional<std::string>& named) {
    std::lock_guard lock(readersMutex_);
    auto list = readers_.listReaders();
    if (!list) return unexpected(list.error());
    if (named && isSamSlot(*named)) {
        return unexpected(makeError(ErrorCode::no_reader,
                                    *named + " is the PSAM's slot ([keys] psam_reader), not a "
                                             "card reader"));
    }
    std::erase_if(*list, [this](const apdu::ReaderInfo& r) { return isSamSlot(r.name); });
    auto prefer = config_.readers.prefer == ReaderPreference::contactless
                      ? apdu::Interface::contactless
                      : apdu::Interface::contact;
    return chooseReader(*list, named, prefer);
}

template <class Fn>
auto Service::withCard(const std::optional<std::string>& named, Fn&& fn)
    -> decltype(fn(std::declval<apdu::CardConnection&>())) {
    auto reader = pickReader(named);
    if (!reader) return unexpected(reader.error());
    auto locked = lockAndConnect(reader->name, reader->name, "");
    if (!locked) return unexpected(locked.error());
    return fn(*locked->connection);
}

Expected<Service::LockedCard, Error> Service::lockAndConnect(const std::string& reader,
                                                             const std::string& busyName,
                                                             const std::string& connectPrefix) {
    LockedCard locked;
    locked.mutex = readerLock(reader);
    locked.guard = std::unique_lock(*locked.mutex, std::defer_lock);
    if (!locked.guard.try_lock_for(kReaderWait)) {
        return unexpected(makeError(ErrorCode::busy, busyName + " is busy with another operation"));
    }
    std::lock_guard readersLock(readersMutex_);
    auto c = readers_.connect(reader);
    if (!c) {
        Error e = c.error();
        e.message = connectPrefix + e.message;
        return unexpected(std::move(e));
    }
    locked.connection = std::move(*c);
    return locked;
}

// Audit rows and outbox events are written by one thread in order, after the decision has gone out:
// an outbox write waits for an fsync (synchronous=FULL, ~4 ms here), which must not delay the
// card.checked notification.
void Service::record(const std::string& kind, const std::string& reader, const ssse::CardInfo* card,
                     const blacklist::Decision* decision, const std::string& code) {
    if (!audit_ || !writer_) return;
    outbox::AuditRecord r;
    r.kind = kind;
    r.reader = reader;
    if (card != nullptr) {
        r.card.card_id = card->card_id.value_or("");
        r.card.region = card->region.value_or("");
        r.card.card_number = card->card_number.value_or("");
    }
    if (decision != nullptr) {
        r.decision = decision->allow ? "allow" : "deny";
        r.reason = std::string(blacklist::reasonName(decision->reason));
        if (decision->list) {
            r.list_version = decision->list->version;
            r.list_age_s = decision->list->age_s;
        }
    }
    r.code = code;
    r.at = outbox::now();
    bool toBackend = decision != nullptr;
    writer_->post([this, r, toBackend]() mutable {
        if (toBackend && outbox_) {
            nlohmann::json extra{{"reader", r.reader},
                                 {"decision", r.decision},
                                 {"reason", r.reason},
                                 {"list_version", r.list_version ? nlohmann::json(*r.list_version)
                                                                 : nlohmann::json(nullptr)}};
            auto id = outbox_->enqueue("card.checked", r.card, extra);
            if (id)
                r.event_id = *id;
            else
                logError("outbox: " + errorText(id.error()));
        }
        if (auto a = audit_->record(r); !a) logError("audit: " + errorText(a.error()));
    });
}

Expected<nlohmann::json, Error> Service::check(const std::optional<std::string>& reader,
                                               const std::string& origin) {
    return withCard(reader, [&](apdu::CardConnection& card) -> Expected<nlohmann::json, Error> {
        auto t0 = Clock::now();
        auto read = ssse::readCard(card, readStrategy_, false);
        auto t1 = Clock::now();
        if (!read) {
            record("card.check_failed", card.readerName(), nullptr, nullptr,
                   std::string(codeName(read.error().code)));
            return unexpected(read.error());
        }
        auto decision = list_.decide(read->card, config_);
        if (!decision) return unexpected(decision.error());
        auto t2 = Clock::now();
        record("card.checked", card.readerName(), &read->card, &*decision, "");
        logInfo(origin + " check in " + card.readerName() + ": card " +
                maskCardNumber(read->card.card_number.value_or("")) + " " +
                (decision->allow ? "allow" : "deny") + " (" +
                std::string(blacklist::reasonName(decision->reason)) + ")");
        auto json = decisionJson(
            cardReadJson(card.readerName(), card.interface(), card.atr(), read->card, nullptr),
            *decision);
        // Extension: where the time went (card I/O vs the decision), for technicians and
        // benchmarks.
        auto ms = [](Clock::duration d) {
            return std::chrono::duration<double, std::milli>(d).count();
        };
        json["timing"] = {
            {"read_ms", ms(t1 - t0)}, {"decide_ms", ms(t2 - t1)}, {"apdus", card.apduCount()}};
        return json;
    });
}

void Service::onReaderEvent(const apdu::ReaderEvent& event) {
    using T = apdu::ReaderEvent::Type;
    if ((event.type == T::card_inserted || event.type == T::card_removed) &&
        isSamSlot(event.reader)) {
        logInfo(std::string(event.type == T::card_inserted ? "PSAM inserted in "
                                                           : "PSAM removed from ") +
                event.reader);
        return;
    }
    nlohmann::json params{{"reader", event.reader}};
    switch (event.type) {
        case T::reader_added:
        case T::reader_removed:
            params["interface"] = apdu::interfaceName(event.interface);
            logInfo(std::string(apdu::eventName(event.type)) + ": " + event.reader);
            server_.notify(apdu::eventName(event.type), params);
            return;
        case T::card_inserted: {
            params["interface"] = apdu::interfaceName(event.interface);
            params["atr"] = toHex(event.atr);
            server_.notify("card.inserted", params);
            std::string reader = event.reader;
            checks_->post([this, reader] {
                auto result = check(reader, "automatic");
                if (result) {
                    server_.notify("card.checked", *result);
                } else {
                    logWarn("automatic check in " + reader +
                            " failed: " + errorText(result.error()));
                    server_.notify("card.checked", {{"reader", reader},
                                                    {"error",
                                                     {{"code", codeName(result.error().code)},
                                                      {"message", result.error().message}}}});
                }
            });
            return;
        }
        case T::card_removed:
            server_.notify("card.removed", params);
            record("card.removed", event.reader, nullptr, nullptr, "");
            return;
        case T::service_lost:
            logWarn("reader service lost: " + event.message);
            return;
        case T::service_restored:
            logInfo("reader service restored");
            return;
    }
}

bool Service::allowPinAttempt(const std::string& reader) {
    std::lock_guard lock(pinAttemptsMutex_);
    auto& times = pinAttempts_[reader];
    auto now = Clock::now();
    while (!times.empty() && now - times.front() > kPinWindow) times.pop_front();
    if (times.size() >= static_cast<std::size_t>(config_.pin.attempts_per_minute)) return false;
    times.push_back(now);
    return true;
}

void Service::auditEvent(const std::string& kind, const std::string& reader,
                         const ssse::CardInfo& card, const std::string& code,
                         const std::string& eventId) {
    if (!audit_ || !writer_) return;
    outbox::AuditRecord r;
    r.at = outbox::now();
    r.kind = kind;
    r.reader = reader;
    r.card = cardRef(card);
    r.code = code;
    r.event_id = eventId;
    writer_->post([this, r] {
        if (auto a = audit_->record(r); !a) logError("audit: " + errorText(a.error()));
    });
}

Expected<void, Error> Service::requireAllowed(const ssse::CardInfo& card, const std::string& reader,
                                              const std::string& refusedKind,
                                              const std::string& refusal) {
    auto decision = list_.decide(card, config_);
    if (!decision) return unexpected(decision.error());
    if (decision->allow) return {};
    auditEvent(refusedKind, reader, card, "card_denied", "");
    return unexpected(
        makeError(ErrorCode::card_denied,
                  refusal + ": " + std::string(blacklist::reasonName(decision->reason))));
}

namespace {

Error tooManyAttempts(const std::string& reader) {
    return makeError(ErrorCode::busy, "too many PIN attempts at " + reader +
                                          " in the last minute; wait before trying again");
}

}  // namespace

template <class Fn>
Expected<nlohmann::json, Error> Service::withApplication(const nlohmann::json& params, Fn&& fn) {
    return withCard(
        readerParam(params), [&](apdu::CardConnection& card) -> Expected<nlohmann::json, Error> {
            auto tx = card.begin();
            if (!tx) {
                return unexpected(ssse::fromTransport(tx.error(), "starting a transaction"));
            }
            ssse::SsseApplication app(*tx, readStrategy_);
            if (auto sel = app.select(); !sel) return unexpected(sel.error());
            return fn(card, *tx, app);
        });
}

Expected<nlohmann::json, Error> Service::verifyPinFlow(const nlohmann::json& params) {
    auto source = pinSourceParam(params);
    if (!source) return unexpected(source.error());
    std::optional<ssse::SecretPin> pin;
    if (*source == PinSource::host) {
        if (auto taken = takePin(params, "pin", pin); !taken) return unexpected(taken.error());
    }
    return withApplication(
        params,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication&) -> Expected<nlohmann::json, Error> {
            auto pinpad = pinpadFor(*source, card, false);
            if (!pinpad) return unexpected(pinpad.error());
            const std::optional<ssse::PinpadFeatures>& pad = *pinpad;
            if (!allowPinAttempt(card.readerName())) {
                return unexpected(tooManyAttempts(card.readerName()));
            }
            auto verified = pad ? ssse::verifyPinOnPinpad(tx, *pad, pinpadParams(pinPolicy()))
                                : ssse::verifyPin(tx, *pin);
            nlohmann::json result = nlohmann::json::object();
            if (pad) result["pin_source"] = "pinpad";
            if (!verified) {
                Error e = std::move(verified).error();
                if (e.code != ErrorCode::pin_wrong) return unexpected(std::move(e));
                result["ok"] = false;
                result["tries_left"] =
                    e.tries_left ? nlohmann::json(*e.tries_left) : nlohmann::json(nullptr);
                return result;
            }
            auto left = ssse::pinTriesLeft(tx);
            result["ok"] = true;
            result["tries_left"] = left && *left ? nlohmann::json(**left) : nlohmann::json(nullptr);
            return result;
        });
}

// A holder's PIN change. From the host, the new PIN must pass the policy before the card is
// touched. On a PIN pad the PINs never reach this process, so the policy cannot be applied: the
// reader enforces only the length (PinpadParams).
Expected<nlohmann::json, Error> Service::changePinFlow(const nlohmann::json& params) {
    auto source = pinSourceParam(params);
    if (!source) return unexpected(source.error());
    std::optional<ssse::SecretPin> oldPin;
    std::optional<ssse::SecretPin> newPin;
    ssse::PinPolicy policy = pinPolicy();
    if (*source == PinSource::host) {
        if (auto taken = takePin(params, "old_pin", oldPin); !taken)
            return unexpected(taken.error());
        if (auto taken = takePin(params, "new_pin", newPin); !taken)
            return unexpected(taken.error());
        if (auto weak = ssse::checkNewPin(policy, *newPin, {}); !weak) {
            return unexpected(weak.error());
        }
    }
    return withApplication(
        params,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<nlohmann::json, Error> {
            auto pinpad = pinpadFor(*source, card, true);
            if (!pinpad) return unexpected(pinpad.error());
            const std::optional<ssse::PinpadFeatures>& pad = *pinpad;
            if (!allowPinAttempt(card.readerName())) {
                return unexpected(tooManyAttempts(card.readerName()));
            }
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            auto changed = pad ? ssse::changePinOnPinpad(tx, *pad, pinpadParams(policy))
                               : ssse::changePin(tx, *oldPin, *newPin);
            if (!changed) return unexpected(changed.error());
            std::string eventId;
            if (auto id = outbox_->enqueue("pin.changed", cardRef(*info),
                                           {{"reader", card.readerName()}})) {
                eventId = *id;
            } else {
                logError("outbox: " + errorText(id.error()));
            }
            auditEvent("pin.changed", card.readerName(), *info, "", eventId);
            logInfo("PIN changed on card " + maskCardNumber(info->card_number.value_or("")) +
                    " in " + card.readerName());
            nlohmann::json result{{"ok", true}, {"event_id", eventId}, {"pin_state", "changed"}};
            if (pad) result["pin_source"] = "pinpad";
            return result;
        });
}

// Activation of a new or replacement card: the list must allow it, the holder's new PIN must pass
// the policy (checked before the card is touched, so no try is spent on a weak PIN), the initial
// PIN must verify, then CHANGE PIN, then the card.activated event goes to the outbox. A failure
// says where the PIN stands (Error::pin_state). On a PIN pad the holder types the initial PIN and
// the new one (twice) on the reader, which sends CHANGE PIN itself: the card checks the initial
// PIN, and the policy beyond the length cannot be applied.
Expected<nlohmann::json, Error> Service::activateFlow(const nlohmann::json& params) {
    if (params.is_object() && params.value("resume", false)) return resumeActivationFlow(params);
    auto source = pinSourceParam(params);
    if (!source) return unexpected(source.error());
    std::optional<ssse::SecretPin> initial;
    std::optional<ssse::SecretPin> newPin;
    if (*source == PinSource::host) {
        if (auto taken = takePin(params, "initial_pin", initial); !taken)
            return unexpected(taken.error());
        if (auto taken = takePin(params, "new_pin", newPin); !taken)
            return unexpected(taken.error());
    }
    auto oldCard = oldCardParam(params);
    if (!oldCard) return unexpected(oldCard.error());
    return withApplication(
        params,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<nlohmann::json, Error> {
            auto pinpad = pinpadFor(*source, card, true);
            if (!pinpad) return unexpected(pinpad.error());
            const std::optional<ssse::PinpadFeatures>& pad = *pinpad;
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (oldCard->is_object() && oldCard->value("card_id", "") == info->card_id) {
                return unexpected(
                    makeError(ErrorCode::usage,
                              "old_card is this very card: insert the new card to activate"));
            }
            if (auto allowed = requireAllowed(*info, card.readerName(), "card.activate_refused",
                                              "this card may not be activated");
                !allowed)
                return unexpected(allowed.error());
            if (!pad) {
                if (auto weak = checkNewPinFor(app, *info, *newPin, &*initial); !weak)
                    return unexpected(weak.error());
            }
            // Counted only now: a refused card or a weak PIN never reaches the card's retry
            // counter.
            if (!allowPinAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            if (!pad) {
                if (auto verified = ssse::verifyPin(tx, *initial); !verified) {
                    auditEvent("card.activate_failed", card.readerName(), *info,
                               std::string(codeName(verified.error().code)), "");
                    return unexpected(verified.error());
                }
            }
            auto changed = pad ? ssse::changePinOnPinpad(tx, *pad, pinpadParams(pinPolicy()))
                               : ssse::changePin(tx, *initial, *newPin);
            if (!changed) {
                auditEvent("card.activate_failed", card.readerName(), *info,
                           std::string(codeName(changed.error().code)), "");
                return unexpected(changed.error());
            }
            auto result = completeActivation(card, *info, *oldCard, false);
            if (result && pad) (*result)["pin_source"] = "pinpad";
            return result;
        });
}

Expected<nlohmann::json, Error> Service::completeActivation(const apdu::CardConnection& card,
                                                            const ssse::CardInfo& info,
                                                            const nlohmann::json& oldCard,
                                                            bool resumed) {
    nlohmann::json extra{{"reader", card.readerName()}};
    if (resumed) extra["resumed"] = true;
    if (oldCard.is_object()) extra["old_card"] = oldCard;
    auto id = outbox_->enqueue("card.activated", cardRef(info), extra);
    if (!id) {
        // The card's PIN is already the new one: say so, the event is the part that failed.
        logError("outbox: " + errorText(id.error()));
        Error e = makeError(ErrorCode::internal,
                            "the card's PIN was changed, but the activation event could not be "
                            "stored: " +
                                id.error().message);
        e.pin_state = "changed";
        return unexpected(std::move(e));
    }
    auditEvent("card.activated", card.readerName(), info, resumed ? "resumed" : "", *id);
    logInfo("card " + maskCardNumber(info.card_number.value_or("")) + " activated " +
            (resumed ? "(resumed) " : "") + "in " + card.readerName());
    nlohmann::json result{
        {"ok", true}, {"card", cardJson(info)}, {"event_id", *id}, {"pin_state", "changed"}};
    if (resumed) result["resumed"] = true;
    return result;
}

Expected<void, Error> Service::checkNewPinFor(ssse::SsseApplication& app,
                                              const ssse::CardInfo& info,
                                              const ssse::SecretPin& newPin,
                                              const ssse::SecretPin* initial) {
    ssse::PinPolicyContext context{initial, std::nullopt};
    if (info.generation < 3) {  // 3rd-generation EF06 needs the issuer's read key
        if (auto holder = app.readHolder(info.generation)) context.birthDate = holder->birth_date;
    }
    return ssse::checkNewPin(pinPolicy(), newPin, context);
}

// After an activation ended with pin_state "unknown" (the card left during CHANGE PIN), the kiosk
// asks for the card again and calls card.activate with resume: true and the holder's new PIN. If
// the card takes that PIN, the change did happen: the activation is complete and its event is
// queued (marked "resumed"). If not, pin_wrong: the PIN is still the initial one, start again.
Expected<nlohmann::json, Error> Service::resumeActivationFlow(const nlohmann::json& params) {
    auto newPin = pinParam(params, "new_pin");
    if (!newPin) return unexpected(newPin.error());
    auto oldCard = oldCardParam(params);
    if (!oldCard) return unexpected(oldCard.error());
    return withApplication(
        params,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<nlohmann::json, Error> {
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (auto allowed = requireAllowed(*info, card.readerName(), "card.activate_refused",
                                              "this card may not be activated");
                !allowed)
                return unexpected(allowed.error());
            if (!allowPinAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            if (auto verified = ssse::verifyPin(tx, *newPin); !verified)
                return unexpected(verified.error());
            return completeActivation(card, *info, *oldCard, true);
        });
}

template <class Fn>
Expected<void, Error> Service::withIssuerKeys(Fn&& fn) {
    if (softwareKeys_) return fn(*softwareKeys_);
    const std::string& reader = config_.keys.psam_reader;
    auto psam = lockAndConnect(reader, "the PSAM in " + reader,
                               "the PSAM ([keys] psam_reader \"" + reader + "\"): ");
    if (!psam) return unexpected(psam.error());
    ssse::PsamOptions options;
    options.aid = fromHex(config_.keys.psam_aid).value_or(options.aid);
    options.levels = config_.keys.psam_levels;
    options.keys[ssse::KeyPurpose::puk] = {static_cast<std::uint8_t>(config_.keys.psam_puk_usage),
                                           static_cast<std::uint8_t>(config_.keys.psam_puk_key)};
    ssse::PsamKeySource keys(*psam->connection, options);
    return fn(keys);
}

// The issuer's PIN reset (a new PIN, counter reset) or unblock (counter reset, PIN kept), at a
// staffed counter: EXTERNAL AUTHENTICATE with the PUK key, then 84 24 with a MAC, keys from the
// PSAM (or a lab key file). A card the list denies is refused: a frozen or replaced card must not
// be made usable again here.
Expected<nlohmann::json, Error> Service::issuerFlow(const nlohmann::json& params, bool reset) {
    const char* method = reset ? "pin.reset" : "pin.unblock";
    if (config_.keys.source == KeySourceKind::none) {
        return unexpected(makeError(
            ErrorCode::not_allowed,
            std::string(method) +
                " needs the issuer's keys, and this terminal has none: set [keys] source = "
                "\"psam\" and psam_reader (the SAM slot) in the configuration"));
    }
    std::optional<ssse::SecretPin> newPin;
    if (reset) {
        if (auto taken = takePin(params, "new_pin", newPin); !taken)
            return unexpected(taken.error());
    }
    return withApplication(
        params,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<nlohmann::json, Error> {
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (!info->card_id) {
                return unexpected(makeError(ErrorCode::card_error,
                                            "the card has no card id (EF05 tag 01): its keys "
                                            "cannot be derived"));
            }
            if (auto allowed = requireAllowed(
                    *info, card.readerName(), std::string(method) + "_refused",
                    std::string("this card's PIN may not be ") + (reset ? "reset" : "unblocked"));
                !allowed)
                return unexpected(allowed.error());
            if (reset) {
                if (auto weak = checkNewPinFor(app, *info, *newPin, nullptr); !weak)
                    return unexpected(weak.error());
            }
            // A failed authentication counts on the card too (its key may lock).
            if (!allowPinAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            auto cipher = ssse::readCardCipher(tx, *info->card_id);
            if (!cipher) return unexpected(cipher.error());
            auto keyContext = ssse::cardKeyContext(*cipher, *info->card_id, card.atr());
            if (!keyContext) return unexpected(keyContext.error());
            ssse::IssuerKeyIds ids{static_cast<std::uint8_t>(config_.keys.card_puk_id)};
            auto done = withIssuerKeys([&](ssse::KeySource& keys) {
                return reset ? ssse::resetPin(tx, *newPin, keys, *keyContext, ids)
                             : ssse::unblockPin(tx, keys, *keyContext, ids);
            });
            if (!done) {
                auditEvent(std::string(method) + "_failed", card.readerName(), *info,
                           std::string(codeName(done.error().code)), "");
                return unexpected(done.error());
            }
            const char* type = reset ? "pin.reset" : "pin.unblocked";
            std::string eventId;
            if (auto id = outbox_->enqueue(type, cardRef(*info), {{"reader", card.readerName()}})) {
                eventId = *id;
            } else {
                logError("outbox: " + errorText(id.error()));
            }
            auditEvent(type, card.readerName(), *info, "", eventId);
            logInfo(std::string(reset ? "PIN reset" : "PIN unblocked") + " on card " +
                    maskCardNumber(info->card_number.value_or("")) + " in " + card.readerName());
            nlohmann::json result{{"ok", true}, {"event_id", eventId}};
            if (reset) result["pin_state"] = "changed";
            return result;
        });
}

// The sync runs in a child process (`sscardd sync --json`): a 10 M-entry download needs a few
// hundred MiB while it runs, which glibc would otherwise keep in the long-running daemon. Killing
// the child is safe: each update is one SQLite transaction.
Expected<blacklist::SyncResult, Error> Service::syncNow() {
    std::lock_guard one(syncRunMutex_);
    std::vector<std::string> args{"/proc/self/exe", "sync", "--json"};
    if (!config_.source.empty()) {
        args.push_back("--config");
        args.push_back(config_.source);
    }
    auto run = runChild(args, syncChild_);
    Expected<blacklist::SyncResult, Error> result =
        unexpected(makeError(ErrorCode::sync_failed, ""));
    if (!run) {
        result = unexpected(run.error());
    } else {
        auto j = nlohmann::json::parse(run->output, nullptr, false);
        if (j.is_object() && j.contains("error") && j["error"].is_object()) {
            auto code = codeFromName(j["error"].value("code", ""));
            result = unexpected(makeError(code.value_or(ErrorCode::sync_failed),
                                          j["error"].value("message", "sync failed")));
        } else if (j.is_object() && run->status == 0) {
            blacklist::SyncResult r;
            r.version = j.value("version", std::int64_t{0});
            r.previous_version = j.value("previous_version", std::int64_t{0});
            r.entries = j.value("entries", std::uint64_t{0});
            r.downloaded_bytes = j.value("downloaded_bytes", std::uint64_t{0});
            std::string outcome = j.value("outcome", "");
            for (auto o : {blacklist::SyncOutcome::not_modified, blacklist::SyncOutcome::up_to_date,
                           blacklist::SyncOutcome::updated_delta,
                           blacklist::SyncOutcome::updated_snapshot}) {
                if (blacklist::outcomeName(o) == outcome) r.outcome = o;
            }
            result = r;
        } else {
            result = unexpected(makeError(ErrorCode::sync_failed,
                                          "the sync process ended with status " +
                                              std::to_string(run->status) + " and no answer"));
        }
    }
    {
        std::lock_guard lock(syncStateMutex_);
        lastSyncAt_ = unixNow();
        lastSyncError_ = result ? "" : errorText(result.error());
    }
    if (result && result->version != result->previous_version) {
        list_.reset();
        logInfo("list updated to version " + std::to_string(result->version) + " (" +
                std::string(blacklist::outcomeName(result->outcome)) + ")");
        server_.notify("list.updated", {{"version", result->version},
                                        {"previous_version", result->previous_version},
                                        {"entries", result->entries},
                                        {"outcome", blacklist::outcomeName(result->outcome)}});
    }
    return result;
}

void Service::syncLoop() {
    std::mt19937_64 rng{std::random_device{}()};
    auto poll = config_.list.poll_interval;
    auto jitter = [&](std::chrono::milliseconds d) {
        std::uniform_real_distribution<double> f(0.9, 1.1);
        return std::chrono::milliseconds(
            static_cast<std::int64_t>(static_cast<double>(d.count()) * f(rng)));
    };
    std::chrono::milliseconds wait{std::uniform_int_distribution<int>(0, 2000)(rng)};
    int failures = 0;
    for (;;) {
        {
            std::unique_lock lock(syncMutex_);
            if (syncCv_.wait_for(lock, wait, [&] { return stopping_; })) return;
        }
        auto result = syncNow();
        if (result) {
            failures = 0;
            wait = jitter(poll);
        } else {
            ++failures;
            logWarn("list sync failed (" + std::to_string(failures) +
                    " in a row): " + errorText(result.error()));
            // Back off on repeated failures, never beyond 15 minutes (or the poll interval if
            // longer).
            auto backoff = poll * (1 << std::min(failures - 1, 4));
            auto cap = std::max<std::chrono::milliseconds>(poll, 15min);
            wait = jitter(std::min(backoff, cap));
        }
    }
}

nlohmann::json Service::listStatusJson() {
    auto meta = list_.meta();
    if (!meta)
        return {
            {"error", {{"code", codeName(meta.error().code)}, {"message", meta.error().message}}}};
    auto j = blacklist::statusJson(meta->value_or(blacklist::ListMeta{}), unixNow(),
                                   graceSeconds(config_));
    j["feed_set"] = !config_.list.feed_url.empty();
    std::lock_guard lock(syncStateMutex_);
    j["last_sync_attempt"] = lastSyncAt_ ? nlohmann::json(lastSyncAt_) : nlohmann::json(nullptr);
    j["last_sync_error"] =
        lastSyncError_.empty() ? nlohmann::json(nullptr) : nlohmann::json(lastSyncError_);
    return j;
}

// The readers as `diag readers` shows them; the PSAM's slot is marked "sam_slot": true.
Expected<nlohmann::json, Error> Service::readersJson() {
    std::lock_guard lock(readersMutex_);
    auto list = readers_.listReaders();
    if (!list) return unexpected(list.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *list) {
        auto j = readerJson(r);
        if (isSamSlot(r.name)) j["sam_slot"] = true;
        arr.push_back(std::move(j));
    }
    return arr;
}

nlohmann::json Service::statusJson() {
    auto readers = readersJson();
    nlohmann::json j{
        {"version", SSCARD_VERSION},
        {"uptime_s",
         std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count()},
        {"readers", readers ? *readers : nlohmann::json::array()},
        {"list", listStatusJson()},
        {"issuer_keys", keySourceName(config_.keys.source)},
    };
    if (sender_) {
        // The whole sender state: a technician sees why events are not leaving (last_error).
        j["outbox"] = outbox::toJson(sender_->status());
    } else if (outbox_) {
        auto n = outbox_->count();
        j["outbox"] = {{"queued", n ? nlohmann::json(*n) : nlohmann::json(nullptr)}};
    }
    return j;
}

void Service::registerMethods() {
    server_.registerMethod("status", [this](const api::Caller&, const nlohmann::json&,
                                            api::Reply reply) { reply(statusJson()); });
    server_.registerMethod("readers.list",
                           [this](const api::Caller&, const nlohmann::json&, api::Reply reply) {
                               auto readers = readersJson();
                               if (!readers) return (void)reply(readers.error());
                               reply(nlohmann::json{{"readers", *readers}});
                           });
    server_.registerMethod("card.read", [this](const api::Caller& caller,
                                               const nlohmann::json& params, api::Reply reply) {
        bool holder = params.is_object() && params.value("holder", false);
        if (holder && !api::mayReceivePersonalData(caller)) {
            return (void)reply(
                makeError(ErrorCode::not_allowed, "this caller may not receive holder data"));
        }
        auto result =
            withCard(readerParam(params),
                     [&](apdu::CardConnection& card) -> Expected<nlohmann::json, Error> {
                         auto read = ssse::readCard(card, readStrategy_, holder);
                         if (!read) return unexpected(read.error());
                         return cardReadJson(card.readerName(), card.interface(), card.atr(),
                                             read->card, read->holder ? &*read->holder : nullptr);
                     });
        if (!result) return (void)reply(result.error());
        reply(*result);
    });
    server_.registerMethod(
        "card.check", [this](const api::Caller&, const nlohmann::json& params, api::Reply reply) {
            auto result = check(readerParam(params), "requested");
            if (!result) return (void)reply(result.error());
            reply(*result);
        });
    auto flow = [this](Expected<nlohmann::json, Error> (Service::*fn)(const nlohmann::json&)) {
        return [this, fn](const api::Caller&, const nlohmann::json& params, api::Reply reply) {
            auto result = (this->*fn)(params);
            if (!result) return (void)reply(result.error());
            reply(*result);
        };
    };
    auto changingFlow =
        [this](Expected<nlohmann::json, Error> (Service::*fn)(const nlohmann::json&)) {
            return [this, fn](const api::Caller&, const nlohmann::json& params, api::Reply reply) {
                auto result = withPinState((this->*fn)(params));
                if (!result) return (void)reply(result.error());
                reply(*result);
            };
        };
    server_.registerMethod("pin.verify", flow(&Service::verifyPinFlow));
    server_.registerMethod("pin.change", changingFlow(&Service::changePinFlow));
    server_.registerMethod("card.activate", changingFlow(&Service::activateFlow));
    server_.registerMethod("pin.reset", changingFlow(&Service::resetFlow));
    server_.registerMethod("pin.unblock", flow(&Service::unblockFlow));
    server_.registerMethod(
        "list.sync", [this](const api::Caller&, const nlohmann::json&, api::Reply reply) {
            auto result = syncNow();
            if (!result) return (void)reply(result.error());
            reply(nlohmann::json{{"version", result->version},
                                 {"previous_version", result->previous_version},
                                 {"outcome", blacklist::outcomeName(result->outcome)},
                                 {"entries", result->entries}});
        });
    server_.registerMethod(
        "list.lookup", [this](const api::Caller&, const nlohmann::json& params, api::Reply reply) {
            blacklist::CardFacts facts;
            if (params.is_object() && params.contains("card_id") && params["card_id"].is_string()) {
                facts.card_id = params["card_id"].get<std::string>();
                facts.region =
                    facts.card_id->substr(0, std::min<std::size_t>(6, facts.card_id->size()));
            } else if (params.is_object() && params.contains("region") &&
                       params["region"].is_string() && params.contains("card_number") &&
                       params["card_number"].is_string()) {
                facts.region = params["region"].get<std::string>();
                facts.card_number = params["card_number"].get<std::string>();
            } else {
                return (void)reply.error(
                    api::makeJsonRpcError(-32602, "give card_id, or region and card_number"));
            }
            auto entries = list_.lookup(facts);
            if (!entries) return (void)reply(entries.error());
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& e : *entries) arr.push_back(blacklist::toJson(e));
            reply(nlohmann::json{{"entries", arr}, {"list", listStatusJson()}});
        });
}

int Service::run() {
    // A core file could hold a PIN: never write one.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    // Signals are taken by the main thread only (sigtimedwait), so block them before any thread.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto box = outbox::Outbox::open(config_.backend.outbox, {config_.backend.terminal_id});
    if (!box) {
        logError("cannot open the outbox " + config_.backend.outbox + ": " +
                 errorText(box.error()));
        return exitStatus(box.error().code);
    }
    outbox_ = std::move(*box);
    auto audit =
        outbox::AuditLog::open(config_.backend.outbox, outbox::auditOptions(config_.audit));
    if (!audit) {
        logError("cannot open the audit log: " + errorText(audit.error()));
        return exitStatus(audit.error().code);
    }
    audit_ = std::move(*audit);
    if (auto pruned = audit_->prune(outbox::now()); !pruned) {
        logWarn("audit pruning: " + errorText(pruned.error()));
    }
    writer_ = std::make_unique<JobPool>(1);
    if (config_.keys.source == KeySourceKind::file) {
        ssse::SoftwareKeyOptions options;
        options.enabled = config_.keys.allow_software_keys;
        options.warn = [](std::string_view w) { logWarn(std::string(w)); };
        auto keys = ssse::SoftwareKeySource::load(config_.keys.file, options);
        if (!keys) {
            logError("cannot load the key file " + config_.keys.file + ": " +
                     errorText(keys.error()));
            return exitStatus(keys.error().code);
        }
        softwareKeys_ = std::move(*keys);
    } else if (config_.keys.source == KeySourceKind::psam) {
        logInfo("issuer keys: the PSAM in " + config_.keys.psam_reader +
                " (pin.reset and pin.unblock for admins)");
    }
    if (!config_.backend.url.empty()) {
        auto options = outbox::senderOptions(config_.backend);
        options.log = [](LogLevel level, const std::string& m) {
            logMessage(level, "backend: " + m);
        };
        sender_ = std::make_unique<outbox::Sender>(*outbox_, options);
        sender_->start();
    }

    registerMethods();
    if (auto started = server_.start(); !started) {
        logError(errorText(started.error()));
        return exitStatus(started.error().code);
    }
    checks_ = std::make_unique<JobPool>(4);
    monitors_ = std::make_unique<MonitorGroup>(makeMonitors(config_));
    monitors_->start([this](const apdu::ReaderEvent& e) { onReaderEvent(e); });
    if (!config_.list.feed_url.empty())
        syncThread_ = std::thread([this] { syncLoop(); });
    else
        logWarn("no [list] feed_url: the frozen-card list is never synced");

    logInfo("sscardd " SSCARD_VERSION " running; API on " + config_.api.socket);
    sd_notify(0, "READY=1\nSTATUS=running");

    std::uint64_t watchdogUsec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdogUsec) > 0;
    auto tick =
        watchdog ? std::chrono::microseconds(watchdogUsec / 2) : std::chrono::microseconds(5s);
    int stopSignal = 0;
    auto nextPrune = Clock::now() + 1h;  // an idle kiosk records nothing, so prune on a timer too
    while (stopSignal == 0) {
        timespec timeout{static_cast<time_t>(tick.count() / 1000000),
                         static_cast<long>((tick.count() % 1000000) * 1000)};
        int sig = sigtimedwait(&signals, nullptr, &timeout);
        if (sig == SIGTERM || sig == SIGINT)
            stopSignal = sig;
        else if (sig == SIGHUP)
            logInfo("SIGHUP: configuration is read at start; restart to apply changes");
        if (watchdog) sd_notify(0, "WATCHDOG=1");
        if (Clock::now() >= nextPrune) {
            nextPrune = Clock::now() + 1h;
            writer_->post([this] { (void)audit_->prune(outbox::now()); });
        }
        auto status = listStatusJson();
        std::string text = "STATUS=list version " +
                           status.value("version", nlohmann::json(0)).dump() +
                           (status.value("stale", true) ? " (stale)" : "") +
                           (status.value("feed_set", true) ? "" : "; no feed set");
        sd_notify(0, text.c_str());
    }

    logInfo(std::string("stopping on ") + (stopSignal == SIGTERM ? "SIGTERM" : "SIGINT"));
    sd_notify(0, "STOPPING=1");
    monitors_->stop();
    {
        std::lock_guard lock(syncMutex_);
        stopping_ = true;
    }
    syncCv_.notify_all();
    if (pid_t child = syncChild_.load(); child > 0) kill(child, SIGTERM);
    if (syncThread_.joinable()) syncThread_.join();
    server_.stop();
    checks_->stop();
    writer_->stop();  // finishes the queued writes
    if (sender_) sender_->stop();
    logInfo("stopped");
    return 0;
}

}  // namespace

int runService(const Config& config) {
    setLogLevel(config.log.level);
    Service service(config);
    return service.run();
}

}  // namespace sscard::daemon
