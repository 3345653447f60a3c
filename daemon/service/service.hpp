// `sscardd run`: the service a kiosk or POS terminal runs all day. This file is its lifecycle
// only; each job has its own part (see docs/architecture.md):
//
//   card_desk        which reader a request uses, one operation at a time per reader
//   card_checker     read and decide: card.check and the automatic check of each inserted card
//   pin_flows        verify, change, activation (and its resume)
//   issuer_flows     pin.reset / pin.unblock through the PSAM or a lab key file
//   event_recorder   audit log and backend outbox
//   sync_scheduler   the periodic list sync in a child process
//   status_report    status, readers.list
//   api_bindings     the API methods, parameters checked by request_params
//
// Threads: one per reader monitor (PC/SC, each NFC device) feeding one event callback; a small pool
// that checks inserted cards; the API server's I/O thread and handler workers; the list sync loop;
// the writer of audit and outbox rows; the outbox sender; the main thread, which waits for signals
// and feeds the systemd watchdog.
#pragma once

#include "config/config.hpp"

namespace sscard::daemon {

// Runs until SIGTERM or SIGINT; returns the process exit status (0 on a clean stop).
int runService(const Config& config);

}  // namespace sscard::daemon
