#include "apdu/nfc/device.hpp"

#include <map>
#include <utility>

#include "apdu/nfc/iso14443.hpp"

namespace sscard::apdu::nfc {

namespace {

// 256 data bytes (short Le) plus SW1 SW2, with room to spare: libnfc reports NFC_EOVFLOW beyond.
constexpr std::size_t kReceiveBufferSize = 264;

}  // namespace

std::shared_ptr<NfcDevice> NfcDevice::shared(const std::string& connstring,
                                             const std::string& readerName, DeviceOptions options) {
    static std::mutex registryMutex;
    static std::map<std::string, std::weak_ptr<NfcDevice>> registry;
    std::lock_guard lock(registryMutex);
    auto& slot = registry[connstring];
    if (auto existing = slot.lock()) return existing;
    auto device = std::make_shared<NfcDevice>(connstring, readerName, options);
    slot = device;
    return device;
}

NfcDevice::NfcDevice(std::string connstring, std::string readerName, DeviceOptions options)
    : connstring_(std::move(connstring)),
      readerName_(std::move(readerName)),
      options_(options),
      receive_(kReceiveBufferSize) {}

NfcDevice::~NfcDevice() {
    std::lock_guard lock(mutex_);
    closeLocked();
}

void NfcDevice::closeLocked() noexcept {
    device_.reset();
    context_.reset();
    card_.reset();
    inTransaction_ = false;
}

Expected<void, TransportError> NfcDevice::openLocked() {
    if (device_) return {};
    nfc_context* context = nullptr;
    nfc_init(&context);
    if (context == nullptr) {
        return unexpected(TransportError{TransportErrorKind::other,
                                         "NFC: libnfc could not be initialised (nfc_init)"});
    }
    context_.reset(context);
    nfc_device* device = nfc_open(context_.get(), connstring_.c_str());
    if (device == nullptr) {
        context_.reset();
        return unexpected(TransportError{TransportErrorKind::reader_gone,
                                         "NFC device " + connstring_ +
                                             " cannot be opened (nfc_open failed: no such device, "
                                             "no permission, or no PN532 answering)"});
    }
    device_.reset(device);
    // The first real command: libnfc ignores a failed chip initialisation during nfc_open.
    if (int rc = nfc_initiator_init(device_.get()); rc < 0) {
        std::string why = nfc_strerror(device_.get());
        closeLocked();
        return unexpected(TransportError{
            TransportErrorKind::reader_gone,
            "NFC device " + connstring_ + " does not answer (nfc_initiator_init: " + why + ")"});
    }
    // Selection must come back at once when the field is empty (the default waits for a card).
    const std::pair<nfc_property, bool> properties[] = {
        {NP_INFINITE_SELECT, false}, {NP_AUTO_ISO14443_4, true}, {NP_EASY_FRAMING, true}};
    for (const auto& [property, value] : properties) {
        if (int rc = nfc_device_set_property_bool(device_.get(), property, value); rc < 0) {
            TransportError error = failLocked(rc, "nfc_device_set_property_bool");
            closeLocked();
            return unexpected(std::move(error));
        }
    }
    return {};
}

TransportError NfcDevice::failLocked(int result, const char* operation) {
    std::string why = device_ ? nfc_strerror(device_.get()) : "device closed";
    TransportError error{errorKind(result), "NFC device " + connstring_ + ": " + operation +
                                                " failed: " + why + " (" + std::to_string(result) +
                                                ")"};
    if (needsReopen(result)) {
        closeLocked();
    } else if (error.kind == TransportErrorKind::card_removed) {
        card_.reset();
        inTransaction_ = false;
    }
    return error;
}

Expected<std::optional<FieldCard>, TransportError> NfcDevice::selectLocked() {
    const nfc_modulation modulation{NMT_ISO14443A, NBR_106};
    nfc_target target{};
    const int rc =
        nfc_initiator_select_passive_target(device_.get(), modulation, nullptr, 0, &target);
    if (rc < 0) {
        if (needsReopen(rc)) {
            return unexpected(failLocked(rc, "nfc_initiator_select_passive_target"));
        }
        return std::optional<FieldCard>{};  // a failed activation: no usable card this round
    }
    if (rc == 0) return std::optional<FieldCard>{};
    const nfc_iso14443a_info& info = target.nti.nai;
    if ((info.btSak & 0x20) == 0 || info.szAtsLen == 0) {
        // Not ISO 14443-4 (a memory card, a tag): nothing to exchange APDUs with.
        (void)nfc_initiator_deselect_target(device_.get());
        return std::optional<FieldCard>{};
    }
    target_ = target;
    FieldCard card;
    card.session = nextSession_++;
    // libnfc's target structures are packed: read their size_t fields by value, never bind a
    // reference to them (misaligned).
    const std::size_t uidLength = info.szUidLen;
    const std::size_t atsLength = info.szAtsLen;
    card.uid.assign(info.abtUid, info.abtUid + std::min<std::size_t>(uidLength, 10));
    card.ats.assign(info.abtAts, info.abtAts + std::min<std::size_t>(atsLength, 254));
    card.atr = pseudoAtr(historicalBytesFromAts(card.ats));
    card_ = card;
    return card_;
}

Expected<std::optional<FieldCard>, TransportError> NfcDevice::poll() {
    std::lock_guard lock(mutex_);
    if (auto opened = openLocked(); !opened) return unexpected(std::move(opened).error());
    if (inTransaction_) return card_;
    if (card_) {
        const int rc = nfc_initiator_target_is_present(device_.get(), &target_);
        if (rc == NFC_SUCCESS) return card_;
        if (needsReopen(rc)) {
            return unexpected(failLocked(rc, "nfc_initiator_target_is_present"));
        }
        card_.reset();  // it left the field; another may have come
    }
    return selectLocked();
}

Expected<void, TransportError> NfcDevice::checkSessionLocked(std::uint64_t session) const {
    if (!device_) {
        return unexpected(TransportError{TransportErrorKind::reader_gone,
                                         "NFC device " + connstring_ + " is gone"});
    }
    if (!card_ || card_->session != session) {
        return unexpected(TransportError{TransportErrorKind::card_removed,
                                         "the card left the field of " + readerName_});
    }
    return {};
}

Expected<void, TransportError> NfcDevice::beginTransaction(std::uint64_t session) {
    std::lock_guard lock(mutex_);
    if (auto ok = checkSessionLocked(session); !ok) return ok;
    inTransaction_ = true;
    return {};
}

void NfcDevice::endTransaction(std::uint64_t session) noexcept {
    std::lock_guard lock(mutex_);
    if (card_ && card_->session == session) inTransaction_ = false;
}

Expected<Bytes, TransportError> NfcDevice::transceive(std::uint64_t session, ByteView command) {
    if (auto refused = refuseCommand(command)) return unexpected(std::move(*refused));
    std::lock_guard lock(mutex_);
    if (auto ok = checkSessionLocked(session); !ok) return unexpected(std::move(ok).error());
    const int rc = nfc_initiator_transceive_bytes(
        device_.get(), command.data(), command.size(), receive_.data(), receive_.size(),
        static_cast<int>(options_.transceiveTimeout.count()));
    if (rc < 0) return unexpected(failLocked(rc, "nfc_initiator_transceive_bytes"));
    if (rc < 2) {
        return unexpected(TransportError{
            TransportErrorKind::comm_error,
            "NFC device " + connstring_ + ": answer of " + std::to_string(rc) + " bytes"});
    }
    return Bytes(receive_.begin(), receive_.begin() + rc);
}

}  // namespace sscard::apdu::nfc
