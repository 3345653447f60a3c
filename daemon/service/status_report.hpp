// What the service reports about itself: `status` (version, uptime, readers, list, issuer keys,
// outbox), `readers.list`, and the list's state with the last sync.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/outbox/outbox.hpp"
#include "daemon/outbox/sender.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/sync_scheduler.hpp"

namespace sscard::daemon {

class StatusReport {
  public:
    // `sender`, `outbox` and `events` may be null.
    StatusReport(const Config& config, CardDesk& desk, ListAccess& list, SyncScheduler& sync,
                 outbox::Sender* sender, outbox::Outbox* outbox, EventRecorder* events = nullptr)
        : config_(config),
          desk_(desk),
          list_(list),
          sync_(sync),
          sender_(sender),
          outbox_(outbox),
          events_(events),
          started_(std::chrono::steady_clock::now()) {}

    nlohmann::json status();
    // The readers as `diag readers` shows them; the PSAM's slot is marked "sam_slot": true.
    Expected<nlohmann::json, Error> readers();
    // The list's status (version, age, stale…) with last_sync_attempt and last_sync_error.
    nlohmann::json list();

  private:
    const Config& config_;
    CardDesk& desk_;
    ListAccess& list_;
    SyncScheduler& sync_;
    outbox::Sender* sender_;
    outbox::Outbox* outbox_;
    EventRecorder* events_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace sscard::daemon
