#include "apdu/pcsc/context.hpp"

#include <algorithm>
#include <utility>

#include "apdu/pcsc/errors.hpp"

namespace sscard::apdu::pcsc {

std::vector<std::string> splitMultiString(const char* data, std::size_t size) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < size) {
        std::size_t end = pos;
        while (end < size && data[end] != '\0') ++end;
        if (end > pos) out.emplace_back(data + pos, end - pos);
        pos = end + 1;
    }
    return out;
}

ReaderState toReaderState(const std::string& name, DWORD eventState, const unsigned char* atr,
                          DWORD atrLength) {
    ReaderState state;
    state.name = name;
    state.eventState = eventState;
    state.known = (eventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) == 0;
    state.cardPresent = state.known && (eventState & SCARD_STATE_PRESENT) != 0;
    if (state.cardPresent && atr != nullptr) {
        const DWORD n = std::min<DWORD>(atrLength, MAX_ATR_SIZE);
        state.atr.assign(atr, atr + n);
    }
    return state;
}

Expected<Context, TransportError> Context::establish() {
    SCARDCONTEXT handle = 0;
    const LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &handle);
    if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, "SCardEstablishContext"));
    Context context(handle);
    context.valid_ = true;
    return context;
}

Context::Context(Context&& other) noexcept
    : handle_(std::exchange(other.handle_, 0)), valid_(std::exchange(other.valid_, false)) {}

Context& Context::operator=(Context&& other) noexcept {
    if (this != &other) {
        release();
        handle_ = std::exchange(other.handle_, 0);
        valid_ = std::exchange(other.valid_, false);
    }
    return *this;
}

Context::~Context() {
    release();
}

void Context::release() noexcept {
    if (valid_) {
        // After service loss this fails (the daemon is gone); the client side is freed anyway.
        (void)SCardReleaseContext(handle_);
        valid_ = false;
        handle_ = 0;
    }
}

void Context::cancel() const noexcept {
    if (valid_) (void)SCardCancel(handle_);
}

Expected<std::vector<std::string>, TransportError> Context::listReaders() const {
    // The list can change between the size query and the fetch: retry on a short buffer.
    for (int attempt = 0; attempt < 3; ++attempt) {
        DWORD size = 0;
        LONG rv = SCardListReaders(handle_, nullptr, nullptr, &size);
        if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
        if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, "SCardListReaders"));
        std::string buffer(size, '\0');
        rv = SCardListReaders(handle_, nullptr, buffer.data(), &size);
        if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
        if (rv == SCARD_E_INSUFFICIENT_BUFFER) continue;
        if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, "SCardListReaders"));
        return splitMultiString(buffer.data(), std::min<std::size_t>(size, buffer.size()));
    }
    return unexpected(mapError(SCARD_E_INSUFFICIENT_BUFFER, "SCardListReaders"));
}

Expected<std::vector<ReaderState>, TransportError> Context::readerStates(
    const std::vector<std::string>& names) const {
    std::vector<ReaderState> out;
    if (names.empty()) return out;
    std::vector<SCARD_READERSTATE> states(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        states[i] = SCARD_READERSTATE{};
        states[i].szReader = names[i].c_str();
        states[i].dwCurrentState = SCARD_STATE_UNAWARE;
    }
    // UNAWARE makes every entry "changed", so the call returns at once. pcsc-lite marks a reader it
    // does not know with SCARD_STATE_UNKNOWN; should it instead fail the whole call, ask one by
    // one.
    LONG rv = SCardGetStatusChange(handle_, 0, states.data(), static_cast<DWORD>(states.size()));
    if (rv == SCARD_E_UNKNOWN_READER) {
        for (auto& state : states) {
            rv = SCardGetStatusChange(handle_, 0, &state, 1);
            if (rv == SCARD_E_UNKNOWN_READER) {
                state.dwEventState = SCARD_STATE_UNKNOWN;
            } else if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
                return unexpected(mapError(rv, "SCardGetStatusChange"));
            }
        }
    } else if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
        return unexpected(mapError(rv, "SCardGetStatusChange"));
    }
    out.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        out.push_back(
            toReaderState(names[i], states[i].dwEventState, states[i].rgbAtr, states[i].cbAtr));
    }
    return out;
}

}  // namespace sscard::apdu::pcsc
