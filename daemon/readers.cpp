#include "daemon/readers.hpp"

#include "apdu/outcome.hpp"

namespace sscard::daemon {

void ReaderDirectory::add(std::unique_ptr<apdu::ReaderProvider> provider) {
    providers_.push_back(std::move(provider));
}

static Error readerError(const apdu::TransportError& e) {
    if (e.kind == apdu::TransportErrorKind::no_service) {
        return makeError(ErrorCode::no_reader, e.message);
    }
    return makeError(ErrorCode::no_reader, "listing readers failed: " + e.message);
}

Expected<std::vector<apdu::ReaderInfo>, Error> ReaderDirectory::listReaders(
    std::vector<std::string>* warnings) {
    std::vector<apdu::ReaderInfo> all;
    owner_.clear();
    std::optional<Error> firstFailure;
    std::size_t failures = 0;
    for (auto& provider : providers_) {
        auto readers = provider->listReaders();
        if (!readers) {
            ++failures;
            if (!firstFailure) firstFailure = readerError(readers.error());
            if (warnings != nullptr) warnings->push_back(readers.error().message);
            continue;
        }
        for (auto& info : *readers) {
            owner_[info.name] = provider.get();
            all.push_back(std::move(info));
        }
    }
    if (!providers_.empty() && failures == providers_.size()) return unexpected(*firstFailure);
    return all;
}

Expected<std::unique_ptr<apdu::CardConnection>, Error> ReaderDirectory::connect(
    const std::string& reader) {
    if (owner_.count(reader) == 0) (void)listReaders();
    auto it = owner_.find(reader);
    if (it == owner_.end()) {
        return unexpected(makeError(ErrorCode::no_reader, "no reader named \"" + reader + "\""));
    }
    auto connection = it->second->connect(reader);
    if (!connection) {
        const auto& e = connection.error();
        if (e.kind == apdu::TransportErrorKind::card_removed) {
            return unexpected(makeError(ErrorCode::no_card, "no card in " + reader));
        }
        return unexpected(apdu::fromTransport(e, "connecting to the card in " + reader));
    }
    return std::move(*connection);
}

Expected<apdu::ReaderInfo, Error> chooseReader(const std::vector<apdu::ReaderInfo>& readers,
                                               const std::optional<std::string>& named,
                                               apdu::Interface prefer) {
    if (readers.empty()) {
        return unexpected(makeError(ErrorCode::no_reader, "no card reader found"));
    }
    if (named) {
        for (const auto& r : readers) {
            if (r.name != *named) continue;
            if (!r.cardPresent)
                return unexpected(makeError(ErrorCode::no_card, "no card in " + r.name));
            return r;
        }
        std::string known;
        for (const auto& r : readers) known += (known.empty() ? "" : ", ") + ("\"" + r.name + "\"");
        return unexpected(makeError(ErrorCode::no_reader,
                                    "no reader named \"" + *named + "\" (readers: " + known + ")"));
    }
    const apdu::ReaderInfo* chosen = nullptr;
    for (const auto& r : readers) {
        if (!r.cardPresent) continue;
        if (chosen == nullptr || (chosen->interface != prefer && r.interface == prefer))
            chosen = &r;
    }
    if (chosen == nullptr) {
        return unexpected(makeError(ErrorCode::no_card, "no card in any reader"));
    }
    return *chosen;
}

}  // namespace sscard::daemon
