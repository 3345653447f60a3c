// `sscardd run`: the service a kiosk or POS terminal runs all day.
//
// Threads: one per reader monitor (PC/SC, each NFC device) feeding one event callback; a small pool
// that checks inserted cards; the API server's I/O thread and handler workers; the list sync loop;
// the outbox sender; the main thread, which waits for signals and feeds the systemd watchdog.
// One operation at a time per reader: a second one waits up to kReaderWait, then gets `busy`.
#pragma once

#include "config/config.hpp"

namespace sscard::daemon {

// Runs until SIGTERM or SIGINT; returns the process exit status (0 on a clean stop).
int runService(const Config& config);

}  // namespace sscard::daemon
