// The PSAM's reader ([keys] psam_reader) held by the daemon alone. pcscd lets any local user in,
// and whoever reaches the PSAM can have it compute reset cryptograms for any card: so the daemon
// keeps one exclusive connection (SCARD_SHARE_EXCLUSIVE) to the PSAM for its whole life, and the
// issuer flows use that connection instead of connecting each time. When the PSAM is pulled, its
// reader unplugged or pcscd restarted, the connection is dropped and made again as soon as the PSAM
// is back: on the reader event, on the service's periodic tick, or at the next use.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "apdu/transport.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::daemon {

class SamSlot {
  public:
    // Opens a new exclusive connection to the PSAM (no_card when there is none, busy when another
    // program holds it).
    using Connector = std::function<Expected<std::unique_ptr<apdu::CardConnection>, Error>()>;
    using Operation = std::function<Expected<void, Error>(apdu::CardConnection&)>;

    // `wait`: how long a use waits for another use of the PSAM before it answers busy.
    SamSlot(std::string reader, Connector connect,
            std::chrono::milliseconds wait = std::chrono::milliseconds(3000));

    // The production connector: PC/SC, SCARD_SHARE_EXCLUSIVE, no retry on a sharing violation.
    static Connector exclusivePcsc(const std::string& reader);

    const std::string& reader() const { return reader_; }

    // Connects when the PSAM is not held, or checks that the held connection still works
    // (reconnecting if not). Never waits behind a use in progress. Logs only changes.
    void keepHeld();
    // The PSAM (or its reader, or the service) went away: drops the connection.
    void release();
    bool held();

    // Runs op on the held connection inside one transaction, connecting first when needed. A held
    // connection that no longer works (the PSAM was pulled and reinserted) is replaced once.
    Expected<void, Error> use(const Operation& op);

  private:
    // The caller holds mutex_.
    Expected<void, Error> ensureConnectedLocked();
    void noteLocked(bool held, const std::string& why);

    std::string reader_;
    Connector connect_;
    std::chrono::milliseconds wait_;
    std::timed_mutex mutex_;
    std::unique_ptr<apdu::CardConnection> connection_;
    std::string lastNote_;  // what the log said last, so that a tick repeats nothing
};

}  // namespace sscard::daemon
