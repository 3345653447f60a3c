#include "daemon/service/service.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "base/errno_text.hpp"
#include "base/worker_pool.hpp"
#include "daemon/api/server.hpp"
#include "daemon/card_check.hpp"
#include "daemon/log.hpp"
#include "daemon/monitor_group.hpp"
#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"
#include "daemon/outbox/sender.hpp"
#include "daemon/outbox/unknown_activations.hpp"
#include "daemon/reader_setup.hpp"
#include "daemon/service/api_bindings.hpp"
#include "daemon/service/card_checker.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/card_reading.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/hsm_reads.hpp"
#include "daemon/service/issuer_flows.hpp"
#include "daemon/service/key_access.hpp"
#include "daemon/service/pin_attempts.hpp"
#include "daemon/service/pin_flows.hpp"
#include "daemon/service/sam_slot.hpp"
#include "daemon/service/status_report.hpp"
#include "daemon/service/sync_scheduler.hpp"

namespace sscard::daemon {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

CardDeskOptions deskOptions(const Config& config) {
    CardDeskOptions o;
    o.prefer = config.readers.prefer == ReaderPreference::contactless ? apdu::Interface::contactless
                                                                      : apdu::Interface::contact;
    if (config.keys.source == KeySourceKind::psam) o.samSlot = config.keys.psam_reader;
    return o;
}

// The API server's options: [api] and [roles], its warnings to the log, and its failure (epoll
// broken: the API is down) to the main thread, which then exits with an error for systemd to
// restart the service; a watchdog kept alive over a dead API would hide it.
api::ServerOptions serverOptions(const Config& config) {
    auto o = api::ServerOptions::fromConfig(config);
    o.log = [](std::string_view m) { logWarn(m); };
    o.on_failure = [](std::string_view) { ::kill(::getpid(), SIGUSR1); };
    return o;
}

// The list and the outbox (with its audit log of every card seen) are the service's alone: files an
// older version left readable to its group are made 0600 (SQLite's -wal and -shm files too).
void keepStateFilesPrivate(const Config& config) {
    for (const std::string& db : {config.list.database, config.backend.outbox}) {
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::string path = db + suffix;
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
                st.st_uid != ::geteuid() || (st.st_mode & 077) == 0)
                continue;
            if (::chmod(path.c_str(), 0600) != 0)
                logWarn("cannot make " + path + " private (0600): " + errnoText(errno));
        }
    }
}

// The parts of the service, built in dependency order and stopped in reverse.
class Service {
  public:
    explicit Service(const Config& config)
        : config_(config),
          desk_(makeReaderDirectory(config), deskOptions(config)),
          list_(config.list.database),
          attempts_(config.pin.attempts_per_minute),
          server_(apiOptions(config)),
          sync_(config_, [this](const blacklist::SyncResult& r) { onListUpdated(r); }) {}

    int run();

  private:
    // The API server's options (serverOptions above); a closed connection ends its HSM read
    // sessions.
    api::ServerOptions apiOptions(const Config& config) {
        auto options = serverOptions(config);
        options.on_disconnect = [this](std::uint64_t connection) {
            if (hsm_) hsm_->dropOwner(connection);
        };
        return options;
    }
    Expected<void, Error> openStores();
    void onReaderEvent(const apdu::ReaderEvent& event);
    void onListUpdated(const blacklist::SyncResult& result);
    int waitForStop(sigset_t& signals);

    Config config_;
    CardDesk desk_;
    ssse::ReadStrategyCache readStrategy_;
    ListAccess list_;
    PinAttemptLimiter attempts_;
    api::Server server_;
    SyncScheduler sync_;
    std::unique_ptr<outbox::Outbox> outbox_;
    std::unique_ptr<outbox::AuditLog> audit_;
    std::unique_ptr<outbox::UnknownActivations> unknownActivations_;
    // Pruning's time, not fooled by a wall clock set forward.
    std::shared_ptr<const outbox::AuditClock> auditClock_ = std::make_shared<outbox::AuditClock>();
    std::unique_ptr<outbox::Sender> sender_;
    std::unique_ptr<EventRecorder> events_;
    std::unique_ptr<KeyAccess> keys_;
    std::unique_ptr<CardReading> reading_;
    std::unique_ptr<HsmReads> hsm_;
    std::unique_ptr<CardChecker> checker_;
    std::unique_ptr<PinFlows> pins_;
    std::unique_ptr<SamSlot> samSlot_;  // with [keys] source = "psam"
    std::unique_ptr<IssuerFlows> issuer_;
    std::unique_ptr<StatusReport> status_;
    std::unique_ptr<MonitorGroup> monitors_;
    std::unique_ptr<WorkerPool> checks_;  // automatic checks of inserted cards
};

Expected<void, Error> Service::openStores() {
    keepStateFilesPrivate(config_);
    outbox::OutboxOptions boxOptions;
    boxOptions.terminal_id = config_.backend.terminal_id;
    boxOptions.max_events = config_.backend.max_events;
    auto box = outbox::Outbox::open(config_.backend.outbox, boxOptions);
    if (!box) {
        Error e = box.error();
        e.message = "cannot open the outbox " + config_.backend.outbox + ": " + e.message;
        return unexpected(std::move(e));
    }
    outbox_ = std::move(*box);
    auto auditOptions = outbox::auditOptions(config_.audit);
    auditOptions.clock = auditClock_;
    auto audit = outbox::AuditLog::open(config_.backend.outbox, auditOptions);
    if (!audit) {
        Error e = audit.error();
        e.message = "cannot open the audit log: " + e.message;
        return unexpected(std::move(e));
    }
    audit_ = std::move(*audit);
    auto unknown = outbox::UnknownActivations::open(config_.backend.outbox);
    if (!unknown) {
        Error e = unknown.error();
        e.message = "cannot open the record of unknown activations: " + e.message;
        return unexpected(std::move(e));
    }
    unknownActivations_ = std::move(*unknown);
    if (auto pruned = audit_->prune(auditClock_->now()); !pruned)
        logWarn("audit pruning: " + errorText(pruned.error()));
    return {};
}

void Service::onReaderEvent(const apdu::ReaderEvent& event) {
    using T = apdu::ReaderEvent::Type;
    if ((event.type == T::card_inserted || event.type == T::card_removed) &&
        desk_.isSamSlot(event.reader)) {
        logInfo(std::string(event.type == T::card_inserted ? "PSAM inserted in "
                                                           : "PSAM removed from ") +
                event.reader);
        if (samSlot_) {
            if (event.type == T::card_inserted)
                samSlot_->keepHeld();
            else
                samSlot_->release();
        }
        return;
    }
    if (samSlot_ && (event.type == T::service_lost ||
                     (event.type == T::reader_removed && desk_.isSamSlot(event.reader))))
        samSlot_->release();
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
            checks_->post([this, reader = event.reader] {
                auto result = checker_->check(reader, "automatic");
                if (result) {
                    server_.notify("card.checked", *result);
                    return;
                }
                logWarn("automatic check in " + reader + " failed: " + errorText(result.error()));
                server_.notify("card.checked", {{"reader", reader},
                                                {"error",
                                                 {{"code", codeName(result.error().code)},
                                                  {"message", result.error().message}}}});
            });
            return;
        }
        case T::card_removed:
            server_.notify("card.removed", params);
            events_->audit("card.removed", event.reader, nullptr, "");
            return;
        case T::service_lost:
            logWarn("reader service lost: " + event.message);
            return;
        case T::service_restored:
            logInfo("reader service restored");
            return;
    }
}

void Service::onListUpdated(const blacklist::SyncResult& result) {
    list_.reset();
    server_.notify("list.updated", {{"version", result.version},
                                    {"previous_version", result.previous_version},
                                    {"entries", result.entries},
                                    {"outcome", blacklist::outcomeName(result.outcome)}});
}

// Signals are taken by the main thread only (sigtimedwait); between them it feeds the watchdog,
// prunes the audit log hourly (an idle kiosk records nothing) and keeps STATUS= current.
int Service::waitForStop(sigset_t& signals) {
    std::uint64_t watchdogUsec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdogUsec) > 0;
    auto tick =
        watchdog ? std::chrono::microseconds(watchdogUsec / 2) : std::chrono::microseconds(5s);
    auto nextPrune = Clock::now() + 1h;
    for (;;) {
        timespec timeout{static_cast<time_t>(tick.count() / 1000000),
                         static_cast<long>((tick.count() % 1000000) * 1000)};
        int sig = sigtimedwait(&signals, nullptr, &timeout);
        if (sig == SIGTERM || sig == SIGINT) return sig;
        if (server_.failed()) return SIGUSR1;
        if (sig == SIGHUP)
            logInfo("SIGHUP: configuration is read at start; restart to apply changes");
        if (watchdog) sd_notify(0, "WATCHDOG=1");
        if (samSlot_) samSlot_->keepHeld();
        if (Clock::now() >= nextPrune) {
            nextPrune = Clock::now() + 1h;
            events_->pruneAudit(auditClock_->now());
        }
        auto list = status_->list();
        std::string text = "STATUS=list version " +
                           list.value("version", nlohmann::json(0)).dump() +
                           (list.value("stale", true) ? " (stale)" : "") +
                           (list.value("feed_set", true) ? "" : "; no feed set");
        sd_notify(0, text.c_str());
    }
}

int Service::run() {
    // A core file could hold a PIN: never write one.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // Every file the service (and its sync child) creates is its own: 0600, directories 0700.
    ::umask(0077);

    // Signals are taken by the main thread only, so block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);  // the API server failed
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    if (auto opened = openStores(); !opened) {
        logError(opened.error().message);
        return exitStatus(opened.error().code);
    }
    // Without a backend nothing is queued for one (the outbox stays open for what an earlier
    // configuration left there, shown in status).
    events_ = std::make_unique<EventRecorder>(config_.backend.url.empty() ? nullptr : outbox_.get(),
                                              audit_.get());
    if (config_.keys.source == KeySourceKind::psam) {
        samSlot_ = std::make_unique<SamSlot>(config_.keys.psam_reader,
                                             SamSlot::exclusivePcsc(config_.keys.psam_reader));
        samSlot_->keepHeld();  // a PSAM missing now is taken when it arrives
    }
    keys_ = std::make_unique<KeyAccess>(config_, samSlot_.get());
    reading_ = std::make_unique<CardReading>(config_, desk_, readStrategy_, *keys_);
    hsm_ = std::make_unique<HsmReads>(config_, desk_, readStrategy_, list_, *events_);
    checker_ =
        std::make_unique<CardChecker>(config_, desk_, readStrategy_, list_, *events_, *keys_);
    pins_ = std::make_unique<PinFlows>(config_, desk_, readStrategy_, list_, *events_, attempts_,
                                       unknownActivations_.get());
    issuer_ = std::make_unique<IssuerFlows>(config_, desk_, readStrategy_, list_, *events_,
                                            attempts_, *keys_);
    if (auto keys = keys_->load(); !keys) {
        logError("cannot load the key file " + config_.keys.file + ": " + errorText(keys.error()));
        return exitStatus(keys.error().code);
    }
    if (config_.keys.source == KeySourceKind::psam) {
        logInfo("issuer keys: the PSAM in " + config_.keys.psam_reader +
                " (pin.reset and pin.unblock for admins)");
    }
    if (!config_.backend.url.empty()) {
        auto configured = outbox::senderOptions(config_.backend);
        if (!configured) {
            logError(errorText(configured.error()));
            return exitStatus(configured.error().code);
        }
        outbox::SenderOptions options = std::move(*configured);
        if (config_.backend.auth == BackendAuth::none) {
            logWarn(
                "backend.auth is \"none\": the backend cannot tell this terminal's events "
                "from forged ones");
        }
        options.log = [](LogLevel level, const std::string& m) {
            logMessage(level, "backend: " + m);
        };
        sender_ = std::make_unique<outbox::Sender>(*outbox_, std::move(options));
        sender_->start();
    }
    status_ = std::make_unique<StatusReport>(config_, desk_, list_, sync_, sender_.get(),
                                             outbox_.get(), events_.get());

    if (auto bound = bindApi(
            server_, {*reading_, *hsm_, *checker_, *pins_, *issuer_, sync_, list_, *status_});
        !bound) {
        logError(errorText(bound.error()));
        return exitStatus(bound.error().code);
    }
    if (auto started = server_.start(); !started) {
        logError(errorText(started.error()));
        return exitStatus(started.error().code);
    }
    checks_ = std::make_unique<WorkerPool>(WorkerPoolOptions{4, 0});
    monitors_ = std::make_unique<MonitorGroup>(makeMonitors(config_));
    monitors_->start([this](const apdu::ReaderEvent& e) { onReaderEvent(e); });
    sync_.start();

    logInfo("sscardd " SSCARD_VERSION " running; API on " + config_.api.socket);
    sd_notify(0, "READY=1\nSTATUS=running");

    int stopSignal = waitForStop(signals);

    if (stopSignal == SIGUSR1) {
        logError("the API server failed; exiting for a restart");
    } else {
        logInfo(std::string("stopping on ") + (stopSignal == SIGTERM ? "SIGTERM" : "SIGINT"));
    }
    sd_notify(0, "STOPPING=1");
    monitors_->stop();
    sync_.stop();
    server_.stop();
    checks_->stop();
    events_->stop();  // finishes the queued writes
    if (sender_) sender_->stop();
    if (stopSignal == SIGUSR1) return exitStatus(ErrorCode::internal);
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
