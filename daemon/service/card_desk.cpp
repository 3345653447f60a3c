#include "daemon/service/card_desk.hpp"

#include <algorithm>

namespace sscard::daemon {

CardDesk::CardDesk(ReaderDirectory readers, CardDeskOptions options)
    : readers_(std::move(readers)), options_(std::move(options)) {}

Expected<std::vector<apdu::ReaderInfo>, Error> CardDesk::listReaders() {
    return readers_.listReaders();
}

bool CardDesk::isSamSlot(const std::string& reader) const {
    return options_.samSlot && reader == *options_.samSlot;
}

Expected<apdu::ReaderInfo, Error> CardDesk::pick(const std::optional<std::string>& named) {
    if (named && isSamSlot(*named)) {
        return unexpected(makeError(ErrorCode::no_reader,
                                    *named + " is the PSAM's slot ([keys] psam_reader), not a "
                                             "card reader"));
    }
    auto list = readers_.listReaders();
    if (!list) return unexpected(list.error());
    std::erase_if(*list, [this](const apdu::ReaderInfo& r) { return isSamSlot(r.name); });
    return chooseReader(*list, named, options_.prefer);
}

std::shared_ptr<std::timed_mutex> CardDesk::lockFor(const std::string& reader) {
    std::lock_guard lock(locksMutex_);
    auto& slot = locks_[reader];
    if (!slot) slot = std::make_shared<std::timed_mutex>();
    return slot;
}

Expected<HeldCard, Error> CardDesk::hold(const std::optional<std::string>& named) {
    auto reader = pick(named);
    if (!reader) return unexpected(reader.error());
    return holdReader(reader->name, reader->name);
}

Expected<HeldCard, Error> CardDesk::holdReader(const std::string& reader, const std::string& what) {
    HeldCard held;
    held.mutex_ = lockFor(reader);
    held.guard_ = std::unique_lock(*held.mutex_, std::defer_lock);
    if (!held.guard_.try_lock_for(options_.wait)) {
        return unexpected(makeError(ErrorCode::busy, what + " is busy with another operation"));
    }
    auto connection = readers_.connect(reader);
    if (!connection) {
        Error e = connection.error();
        if (what != reader) e.message = what + ": " + e.message;
        return unexpected(std::move(e));
    }
    held.connection_ = std::move(*connection);
    return held;
}

}  // namespace sscard::daemon
