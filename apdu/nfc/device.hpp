// One libnfc device (a PN532 on a serial line, ...), opened from a connection string, and the card
// in its field.
//
// libnfc is not thread-safe per device: every call on the device goes through this object, under
// its mutex. Within a process there is one NfcDevice per connection string (NfcDevice::shared),
// used by the reader provider, the card connections and the monitor alike; the monitor's presence
// checks are skipped while a connection holds a transaction, so they never come between the APDUs
// of a sequence.
//
// A device that fails (I/O error, no answer in time) is closed; the next poll() opens it again.
#pragma once

#include <nfc/nfc.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu::nfc {

struct DeviceOptions {
    // How long one APDU exchange may take before the device counts as not answering.
    std::chrono::milliseconds transceiveTimeout{2000};
};

// The card in the field: an ISO 14443-A target that answered RATS (ISO 14443-4).
struct FieldCard {
    std::uint64_t session = 0;  // different for every activation (a new tap is a new session)
    Bytes uid;
    Bytes ats;  // without TL, as libnfc keeps it
    Bytes atr;  // the PC/SC part 3 pseudo-ATR (iso14443.hpp)
};

class NfcDevice {
  public:
    // The process-wide device for a connection string, created on first use. `readerName` is used
    // when the object is created.
    static std::shared_ptr<NfcDevice> shared(const std::string& connstring,
                                             const std::string& readerName,
                                             DeviceOptions options = {});

    NfcDevice(std::string connstring, std::string readerName, DeviceOptions options = {});
    NfcDevice(const NfcDevice&) = delete;
    NfcDevice& operator=(const NfcDevice&) = delete;
    ~NfcDevice();

    const std::string& connstring() const { return connstring_; }
    const std::string& readerName() const { return readerName_; }

    // Opens the device when it is closed (nfc_open, then nfc_initiator_init, whose result is
    // checked: libnfc reports success for an open whose chip initialisation failed), then looks at
    // the field: a presence check of the card already activated, else a selection of a new one.
    // nullopt: no ISO 14443-4 card. Error reader_gone: the device cannot be opened or died.
    // While a transaction is held, the known card is returned without touching the device.
    Expected<std::optional<FieldCard>, TransportError> poll();

    // A transaction on the card of `session`: card_removed when that card is no longer the one in
    // the field, reader_gone when the device is closed.
    Expected<void, TransportError> beginTransaction(std::uint64_t session);
    void endTransaction(std::uint64_t session) noexcept;

    // One APDU exchange with the card of `session` (refuses what libnfc cannot carry).
    Expected<Bytes, TransportError> transceive(std::uint64_t session, ByteView command);

  private:
    struct ContextDeleter {
        void operator()(nfc_context* c) const noexcept { nfc_exit(c); }
    };
    struct DeviceDeleter {
        void operator()(nfc_device* d) const noexcept { nfc_close(d); }
    };

    Expected<void, TransportError> openLocked();
    void closeLocked() noexcept;
    // The TransportError for a failed libnfc call; closes the device when it must be re-opened and
    // forgets the card when it left.
    TransportError failLocked(int result, const char* operation);
    Expected<std::optional<FieldCard>, TransportError> selectLocked();
    Expected<void, TransportError> checkSessionLocked(std::uint64_t session) const;

    const std::string connstring_;
    const std::string readerName_;
    const DeviceOptions options_;

    std::mutex mutex_;
    std::unique_ptr<nfc_context, ContextDeleter> context_;
    std::unique_ptr<nfc_device, DeviceDeleter> device_;
    nfc_target target_{};
    std::optional<FieldCard> card_;
    std::uint64_t nextSession_ = 1;
    bool inTransaction_ = false;
    Bytes receive_;
};

}  // namespace sscard::apdu::nfc
