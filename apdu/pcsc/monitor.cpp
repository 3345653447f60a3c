#include "apdu/pcsc/monitor.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "apdu/pcsc/context.hpp"
#include "apdu/pcsc/errors.hpp"
#include "apdu/reader.hpp"
#include "base/backoff.hpp"

namespace sscard::apdu::pcsc {

namespace {

constexpr const char* kPnpReader = "\\\\?PnP?\\Notification";
constexpr DWORD kGoneBits = SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE;

DWORD eventCounter(DWORD state) {
    return (state >> 16) & 0xFFFF;
}

DWORD withoutChanged(DWORD state) {
    return state & ~static_cast<DWORD>(SCARD_STATE_CHANGED);
}

struct Tracked {
    std::string name;
    DWORD state = SCARD_STATE_UNAWARE;  // last dwEventState, fed back as dwCurrentState
    bool present = false;
    Interface interface = Interface::contact;
    Bytes atr;
};

}  // namespace

CardChange classifyChange(DWORD previous, DWORD current) {
    if ((current & kGoneBits) != 0) return CardChange::reader_gone;
    const bool was = (previous & SCARD_STATE_PRESENT) != 0;
    const bool is = (current & SCARD_STATE_PRESENT) != 0;
    if (!was && is) return CardChange::inserted;
    if (was && !is) return CardChange::removed;
    // Present before and after, but the reader counted events in between: the card was taken out
    // and one put in (possibly another card) between two calls.
    if (was && is && eventCounter(previous) != eventCounter(current)) {
        return CardChange::removed_and_inserted;
    }
    return CardChange::none;
}

// One context's life: from the first listing until stop or service loss.
class Monitor::Session {
  public:
    Session(Monitor& monitor, const std::atomic<bool>& stop, const Callback& onEvent,
            std::vector<Tracked>& readers)
        : monitor_(monitor), stop_(stop), onEvent_(onEvent), readers_(readers) {}

    // The service loss that ended the session; nullopt when it ended on stop.
    std::optional<TransportError> run(const Context& context, bool silentStart);

  private:
    std::optional<TransportError> probePnp();
    std::optional<TransportError> relist(bool silent);
    // Handles one SCardGetStatusChange outcome; sets relist_ when the reader list must be read.
    void process(const std::vector<SCARD_READERSTATE>& states);
    void dropReader(std::size_t index);
    void emit(ReaderEvent::Type type, const Tracked& reader);

    Monitor& monitor_;
    const std::atomic<bool>& stop_;
    const Callback& onEvent_;
    std::vector<Tracked>& readers_;
    const Context* context_ = nullptr;
    bool pnp_ = false;
    DWORD pnpState_ = SCARD_STATE_UNAWARE;
    bool relist_ = false;
};

void Monitor::Session::emit(ReaderEvent::Type type, const Tracked& reader) {
    ReaderEvent event;
    event.type = type;
    event.reader = reader.name;
    event.interface = reader.interface;
    if (type == ReaderEvent::card_inserted || type == ReaderEvent::card_removed) {
        event.atr = reader.atr;
    }
    onEvent_(event);
}

void Monitor::Session::dropReader(std::size_t index) {
    Tracked gone = std::move(readers_[index]);
    readers_.erase(readers_.begin() + static_cast<std::ptrdiff_t>(index));
    if (gone.present) emit(ReaderEvent::card_removed, gone);
    gone.interface = classifyInterface(gone.name, {});
    emit(ReaderEvent::reader_removed, gone);
}

std::optional<TransportError> Monitor::Session::probePnp() {
    pnp_ = false;
    if (!monitor_.options_.usePnp) return std::nullopt;
    SCARD_READERSTATE probe{};
    probe.szReader = kPnpReader;
    probe.dwCurrentState = SCARD_STATE_UNAWARE;
    const LONG rv = SCardGetStatusChange(context_->handle(), 0, &probe, 1);
    if (isServiceLoss(rv)) return mapError(rv, "SCardGetStatusChange");
    pnp_ = (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT) &&
           (probe.dwEventState & SCARD_STATE_UNKNOWN) == 0;
    pnpState_ = withoutChanged(probe.dwEventState);
    return std::nullopt;
}

std::optional<TransportError> Monitor::Session::relist(bool silent) {
    relist_ = false;
    auto names = context_->listReaders();
    if (!names) {
        if (names.error().kind == TransportErrorKind::no_service) return std::move(names).error();
        relist_ = true;  // transient: look again next round
        return std::nullopt;
    }

    const std::set<std::string> listed(names->begin(), names->end());
    for (std::size_t i = readers_.size(); i-- > 0;) {
        if (listed.count(readers_[i].name) == 0) dropReader(i);
    }

    std::vector<std::string> added;
    for (const std::string& name : *names) {
        const bool known = std::any_of(readers_.begin(), readers_.end(),
                                       [&](const Tracked& t) { return t.name == name; });
        if (!known) added.push_back(name);
    }
    if (added.empty()) return std::nullopt;

    auto states = context_->readerStates(added);
    if (!states) {
        if (states.error().kind == TransportErrorKind::no_service) {
            return std::move(states).error();
        }
        relist_ = true;
        return std::nullopt;
    }
    for (ReaderState& state : *states) {
        if (!state.known) continue;  // left again already
        Tracked t;
        t.name = std::move(state.name);
        t.state = withoutChanged(state.eventState);
        t.present = state.cardPresent;
        t.atr = std::move(state.atr);
        t.interface = classifyInterface(t.name, t.atr);
        readers_.push_back(t);
        if (silent) continue;
        ReaderEvent added_event;
        added_event.type = ReaderEvent::reader_added;
        added_event.reader = t.name;
        added_event.interface = classifyInterface(t.name, {});
        onEvent_(added_event);
        if (t.present) emit(ReaderEvent::card_inserted, t);
    }
    return std::nullopt;
}

void Monitor::Session::process(const std::vector<SCARD_READERSTATE>& states) {
    // Entries [0, count) are the readers in order; the PnP entry, if any, follows.
    const std::size_t count = readers_.size();
    std::vector<std::size_t> gone;
    for (std::size_t i = 0; i < count; ++i) {
        const SCARD_READERSTATE& s = states[i];
        if ((s.dwEventState & SCARD_STATE_CHANGED) == 0) continue;
        Tracked& t = readers_[i];
        const DWORD now = withoutChanged(s.dwEventState);
        const CardChange change = classifyChange(t.state, now);
        t.state = now;
        switch (change) {
            case CardChange::none:
                break;
            case CardChange::reader_gone:
                gone.push_back(i);
                break;
            case CardChange::removed:
                emit(ReaderEvent::card_removed, t);
                t.present = false;
                t.atr.clear();
                t.interface = classifyInterface(t.name, {});
                break;
            case CardChange::removed_and_inserted:
                emit(ReaderEvent::card_removed, t);
                [[fallthrough]];
            case CardChange::inserted: {
                ReaderState fresh = toReaderState(t.name, s.dwEventState, s.rgbAtr, s.cbAtr);
                t.present = true;
                t.atr = std::move(fresh.atr);
                t.interface = classifyInterface(t.name, t.atr);
                emit(ReaderEvent::card_inserted, t);
                break;
            }
        }
    }
    for (std::size_t k = gone.size(); k-- > 0;) dropReader(gone[k]);
    if (!gone.empty()) relist_ = true;

    if (pnp_ && states.size() == count + 1) {
        const SCARD_READERSTATE& p = states.back();
        if ((p.dwEventState & SCARD_STATE_CHANGED) != 0) {
            pnpState_ = withoutChanged(p.dwEventState);
            relist_ = true;
        }
    }
}

std::optional<TransportError> Monitor::Session::run(const Context& context, bool silentStart) {
    context_ = &context;
    if (auto loss = probePnp()) return loss;
    if (auto loss = relist(silentStart)) return loss;

    const auto& options = monitor_.options_;
    const auto relistEvery = pnp_ ? options.pnpRelistInterval : options.relistInterval;
    auto nextRelist = std::chrono::steady_clock::now() + relistEvery;
    std::vector<SCARD_READERSTATE> states;
    while (!monitor_.stopping(stop_)) {
        if (const auto now = std::chrono::steady_clock::now(); now >= nextRelist) {
            relist_ = true;
            nextRelist = now + relistEvery;
        }
        if (relist_) {
            if (auto loss = relist(false)) return loss;
        }
        if (readers_.empty() && !pnp_) {  // nothing to wait on: sleep until the next look
            monitor_.pause(stop_, options.relistInterval);
            continue;
        }

        states.assign(readers_.size(), SCARD_READERSTATE{});
        for (std::size_t i = 0; i < readers_.size(); ++i) {
            states[i].szReader = readers_[i].name.c_str();
            states[i].dwCurrentState = readers_[i].state;
        }
        if (pnp_) {
            SCARD_READERSTATE p{};
            p.szReader = kPnpReader;
            p.dwCurrentState = pnpState_;
            states.push_back(p);
        }
        auto timeout = options.waitTimeout;
        if (!pnp_) timeout = std::min(timeout, options.relistInterval);
        const LONG rv = SCardGetStatusChange(context.handle(), static_cast<DWORD>(timeout.count()),
                                             states.data(), static_cast<DWORD>(states.size()));
        switch (rv) {
            case SCARD_S_SUCCESS:
                process(states);
                break;
            case SCARD_E_TIMEOUT:
            case SCARD_E_CANCELLED:
                break;
            case SCARD_E_UNKNOWN_READER:
                relist_ = true;
                break;
            default:
                if (isServiceLoss(rv)) return mapError(rv, "SCardGetStatusChange");
                // Anything else (no readers, a transient failure): do not spin on it. Rest for
                // one wait, then read the reader list again.
                monitor_.pause(stop_, options.waitTimeout);
                relist_ = true;
                break;
        }
    }
    return std::nullopt;
}

Monitor::Monitor(MonitorOptions options) : options_(options) {}

Monitor::~Monitor() = default;

bool Monitor::stopping(const std::atomic<bool>& stop) const noexcept {
    return stop.load() || stopRequested_.load();
}

void Monitor::pause(const std::atomic<bool>& stop, std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    std::unique_lock lock(mutex_);
    while (!stopping(stop)) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        // The caller's flag is not tied to this condition variable: look at it every waitTimeout.
        const auto slice =
            std::min<std::chrono::steady_clock::duration>(until - now, options_.waitTimeout);
        wake_.wait_for(lock, slice);
    }
}

void Monitor::publishContext(SCARDCONTEXT context, bool valid) noexcept {
    std::lock_guard lock(mutex_);
    current_ = context;
    haveCurrent_ = valid;
}

void Monitor::requestStop() noexcept {
    stopRequested_.store(true);
    std::lock_guard lock(mutex_);
    if (haveCurrent_) (void)SCardCancel(current_);
    wake_.notify_all();
}

void Monitor::run(const std::atomic<bool>& stop, const Callback& onEvent) {
    std::vector<Tracked> readers;
    bool firstSession = true;
    bool lost = false;  // service_lost emitted and not yet restored
    Backoff backoff(BackoffPolicy::doubling(options_.backoffInitial, options_.backoffMax));

    while (!stopping(stop)) {
        std::optional<TransportError> loss;
        {
            auto context = Context::establish();
            if (!context) {
                loss = std::move(context).error();
                firstSession = false;  // readers found once the service comes are news
            } else {
                backoff.reset();
                if (lost) {
                    ReaderEvent event;
                    event.type = ReaderEvent::service_restored;
                    onEvent(event);
                    lost = false;
                }
                const bool silent = firstSession && !options_.emitInitial;
                firstSession = false;
                // requestStop() cancels waits on this context until it is released (also when a
                // callback throws out of run()).
                struct Published {
                    Monitor& monitor;
                    ~Published() { monitor.publishContext(0, false); }
                } published{*this};
                publishContext(context->handle(), true);
                // A requestStop() just before the publish found no context to cancel: look again.
                if (!stopping(stop)) {
                    Session session(*this, stop, onEvent, readers);
                    loss = session.run(*context, silent);
                }
                if (!loss) break;  // stopped
            }
        }  // the context is released here, before any waiting

        if (!lost) {
            ReaderEvent event;
            event.type = ReaderEvent::service_lost;
            event.message = loss->message;
            onEvent(event);
            lost = true;
        }
        for (const Tracked& t : readers) {
            ReaderEvent gone;
            gone.reader = t.name;
            gone.interface = t.interface;
            if (t.present) {
                gone.type = ReaderEvent::card_removed;
                gone.atr = t.atr;
                onEvent(gone);
                gone.atr.clear();
            }
            gone.type = ReaderEvent::reader_removed;
            gone.interface = classifyInterface(t.name, {});
            onEvent(gone);
        }
        readers.clear();
        pause(stop, backoff.next());
    }
}

}  // namespace sscard::apdu::pcsc
