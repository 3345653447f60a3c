#include "daemon/readers.hpp"

#include "apdu/outcome.hpp"

namespace sscard::daemon {

ReaderDirectory::ReaderDirectory(ReaderDirectory&& other) noexcept
    : providers_(std::move(other.providers_)) {
    std::lock_guard lock(other.ownerMutex_);
    owner_ = std::move(other.owner_);
}

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
    std::map<std::string, apdu::ReaderProvider*> owners;
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
            owners[info.name] = provider.get();
            all.push_back(std::move(info));
        }
    }
    {
        std::lock_guard lock(ownerMutex_);
        owner_ = std::move(owners);
    }
    if (!providers_.empty() && failures == providers_.size()) return unexpected(*firstFailure);
    return all;
}

Expected<std::unique_ptr<apdu::CardConnection>, Error> ReaderDirectory::connect(
    const std::string& reader) {
    apdu::ReaderProvider* provider = ownerOf(reader);
    if (provider == nullptr) {
        (void)listReaders();
        provider = ownerOf(reader);
    }
    if (provider == nullptr) {
        return unexpected(makeError(ErrorCode::no_reader, "no reader named \"" + reader + "\""));
    }
    auto connection = provider->connect(reader);
    if (!connection) {
        const auto& e = connection.error();
        if (e.kind == apdu::TransportErrorKind::card_removed) {
            return unexpected(makeError(ErrorCode::no_card, "no card in " + reader));
        }
        return unexpected(apdu::fromTransport(e, "connecting to the card in " + reader));
    }
    return std::move(*connection);
}

apdu::ReaderProvider* ReaderDirectory::ownerOf(const std::string& reader) {
    std::lock_guard lock(ownerMutex_);
    auto it = owner_.find(reader);
    return it == owner_.end() ? nullptr : it->second;
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
