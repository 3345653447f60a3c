// The service's methods on the local API: each method of the permission table bound to the part
// of the service that does it. Parameters are checked here (request_params.hpp); who may call
// what, including who may receive holder data, is decided by the server from the permission table
// (daemon/api/permissions.cpp) before any of these run.
#pragma once

#include "apdu/ssse/application.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "daemon/api/server.hpp"
#include "daemon/card_check.hpp"
#include "daemon/service/card_checker.hpp"
#include "daemon/service/card_reading.hpp"
#include "daemon/service/hsm_reads.hpp"
#include "daemon/service/issuer_flows.hpp"
#include "daemon/service/pin_flows.hpp"
#include "daemon/service/status_report.hpp"
#include "daemon/service/sync_scheduler.hpp"

namespace sscard::daemon {

struct ApiTargets {
    CardReading& reading;
    HsmReads& hsm;
    CardChecker& checker;
    PinFlows& pins;
    IssuerFlows& issuer;
    SyncScheduler& sync;
    ListAccess& list;
    StatusReport& status;
};

// Registers every method; an error when one cannot be registered or the permission table names a
// method without a handler.
Expected<void, Error> bindApi(api::Server& server, ApiTargets targets);

}  // namespace sscard::daemon
