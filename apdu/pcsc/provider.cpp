#include "apdu/pcsc/provider.hpp"

#include <utility>

namespace sscard::apdu::pcsc {

PcscReaderProvider::PcscReaderProvider(ConnectOptions options) : options_(options) {}

Expected<std::vector<ReaderInfo>, TransportError> PcscReaderProvider::listOnce() {
    if (!context_) {
        auto established = Context::establish();
        if (!established) return unexpected(std::move(established).error());
        context_.emplace(std::move(*established));
    }
    auto names = context_->listReaders();
    if (!names) return unexpected(std::move(names).error());
    auto states = context_->readerStates(*names);
    if (!states) return unexpected(std::move(states).error());

    std::vector<ReaderInfo> readers;
    readers.reserve(states->size());
    for (ReaderState& state : *states) {
        if (!state.known) continue;  // unplugged between the list and the status query
        ReaderInfo info;
        info.interface = classifyInterface(state.name, state.atr);
        info.name = std::move(state.name);
        info.cardPresent = state.cardPresent;
        info.atr = std::move(state.atr);
        readers.push_back(std::move(info));
    }
    return readers;
}

Expected<std::vector<ReaderInfo>, TransportError> PcscReaderProvider::listReaders() {
    std::lock_guard lock(mutex_);
    auto readers = listOnce();
    if (readers || readers.error().kind != TransportErrorKind::no_service || !context_) {
        return readers;
    }
    // The context died with the pcscd it belonged to; a new pcscd may already be up.
    context_.reset();
    return listOnce();
}

Expected<std::unique_ptr<PcscCard>, TransportError> PcscReaderProvider::connectCard(
    const std::string& readerName) {
    return PcscCard::connect(readerName, options_);
}

Expected<std::unique_ptr<CardConnection>, TransportError> PcscReaderProvider::connect(
    const std::string& readerName) {
    auto card = connectCard(readerName);
    if (!card) return unexpected(std::move(card).error());
    return std::unique_ptr<CardConnection>(std::move(*card));
}

}  // namespace sscard::apdu::pcsc
