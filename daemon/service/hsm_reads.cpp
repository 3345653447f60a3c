#include "daemon/service/hsm_reads.hpp"

#include "apdu/outcome.hpp"
#include "apdu/ssse/authentication.hpp"
#include "apdu/ssse/card_keys.hpp"
#include "crypto/random.hpp"
#include "daemon/card_json.hpp"
#include "daemon/key_config.hpp"
#include "daemon/log.hpp"

namespace sscard::daemon {

struct HsmReads::Session {
    std::string id;
    std::uint64_t owner = 0;
    std::chrono::steady_clock::time_point expires;
    // Declared in this order so that they are destroyed in reverse: the application, then the
    // transaction, then the connection and the reader.
    HeldCard held;
    std::optional<apdu::Transaction> tx;
    std::unique_ptr<ssse::SsseApplication> app;
    ssse::CardInfo card;
    bool authenticate = false;  // 3rd generation: the challenges were run in step 1
    ssse::AuthChallenges challenges;
    std::uint64_t apdusAtBegin = 0;
};

namespace {

// 128 random bits: a session id no other connection can guess.
Expected<std::string, Error> newSessionId() {
    auto bytes = crypto::randomBytes(16);
    if (!bytes) return unexpected(bytes.error());
    return toHex(*bytes);
}

Error noSession() {
    return makeError(ErrorCode::no_session,
                     "no such HSM read session for this connection: it ended, expired, or was "
                     "begun on another connection; start again with card.hsm_begin");
}

// The fields step 1 needs on a card whose EF05 multi-record read is refused (one record needs the
// key): the card id, the version and the number.
constexpr std::uint8_t kStep1Tags[] = {0x01, 0x03, 0x07};

}  // namespace

std::string HsmStep1::interfaceString() const {
    std::string out;
    for (const std::string* f :
         {&region, &atrHist, &algorithm, &cardId, &internalFactor, &internalRandom, &externalFactor,
          &externalRandom, &terminalSerial}) {
        out += *f;
        out += '|';
    }
    return out;
}

HsmReads::HsmReads(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
                   ListAccess& list, EventRecorder& events)
    : config_(config), desk_(desk), readStrategy_(readStrategy), list_(list), events_(events) {
    expiry_ = std::thread([this] { expireLoop(); });
}

HsmReads::~HsmReads() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    expiry_.join();
    std::lock_guard lock(mutex_);
    sessions_.clear();
}

void HsmReads::expireLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        auto now = std::chrono::steady_clock::now();
        auto next = now + std::chrono::seconds(1);
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (it->second->expires <= now) {
                logInfo("HSM read session in " +
                        it->second->card.card_id.value_or("?").substr(0, 6) +
                        "… expired before step 2; reader " + it->second->held.card().readerName() +
                        " released");
                it = sessions_.erase(it);
            } else {
                next = std::min(next, it->second->expires);
                ++it;
            }
        }
        wake_.wait_until(lock, next);
    }
}

void HsmReads::dropOwner(std::uint64_t owner) {
    std::vector<std::unique_ptr<Session>> ended;
    {
        std::lock_guard lock(mutex_);
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (it->second->owner == owner) {
                ended.push_back(std::move(it->second));
                it = sessions_.erase(it);
            } else {
                ++it;
            }
        }
    }
    // Destroyed here, outside the lock: ending a card transaction may take a moment.
}

std::size_t HsmReads::openSessions() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

std::unique_ptr<HsmReads::Session> HsmReads::take(std::uint64_t owner, const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->owner != owner) return nullptr;
    if (it->second->expires <= std::chrono::steady_clock::now()) {
        sessions_.erase(it);
        return nullptr;
    }
    auto session = std::move(it->second);
    sessions_.erase(it);
    return session;
}

Expected<HsmStep1, Error> HsmReads::begin(std::uint64_t owner,
                                          const std::optional<std::string>& reader) {
    auto id = newSessionId();
    if (!id) return unexpected(id.error());
    auto s = std::make_unique<Session>();
    s->id = *id;
    s->owner = owner;
    auto held = desk_.hold(reader);
    if (!held) return unexpected(held.error());
    s->held = std::move(*held);
    apdu::CardConnection& card = s->held.card();
    s->apdusAtBegin = card.apduCount();
    auto tx = card.begin();
    if (!tx) return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
    s->tx.emplace(std::move(*tx));
    s->app = std::make_unique<ssse::SsseApplication>(*s->tx, readStrategy_);

    auto fci = s->app->selectWithFci();
    if (!fci) return unexpected(fci.error());
    auto info = s->app->readCardInfo(kStep1Tags);
    if (!info) return unexpected(info.error());
    if (!info->card_id) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "the card has no card id (EF05 tag 01): the HSM cannot derive "
                                    "its keys"));
    }
    s->card = std::move(*info);
    HsmStep1 out;
    out.session = s->id;
    out.region = s->card.region.value_or(s->card.card_id->substr(0, 6));
    auto historical = ssse::atrHistoricalBytes(card.atr());
    out.atrHist = historical ? toHex(*historical) : "";
    // The interface's 算法标识: "01" when the FCI names none.
    out.algorithm = toHex(Bytes{ssse::algorithmIdFromFci(*fci).value_or(0x01)});
    out.cardId = *s->card.card_id;
    out.terminalSerial = config_.backend.terminal_id;
    s->authenticate = s->card.generation >= 3;
    if (s->authenticate) {
        // Step 2 authenticates with the read key: the session's transaction ends with a card reset,
        // so that no other program can read the holder data on that authentication.
        card.resetWhenTransactionEnds();
        const auto ids = authKeyIds(config_.keys);
        if (auto r = ssse::runInternalChallenge(*s->tx, ids, s->challenges); !r)
            return unexpected(r.error());
        if (auto r = ssse::runExternalChallenge(*s->tx, s->challenges); !r)
            return unexpected(r.error());
        out.internalFactor = toHex(s->challenges.internalFactor);
        out.internalRandom = toHex(s->challenges.internalRandom);
        out.externalFactor = toHex(s->challenges.externalFactor);
        out.externalRandom = toHex(s->challenges.externalRandom);
    }
    s->expires = std::chrono::steady_clock::now() + config_.hsm.session_timeout;
    {
        std::lock_guard lock(mutex_);
        sessions_.emplace(s->id, std::move(s));
    }
    wake_.notify_all();
    return out;
}

Expected<nlohmann::json, Error> HsmReads::finish(std::uint64_t owner,
                                                 const HsmFinishRequest& request) {
    auto s = take(owner, request.session);
    if (!s) return unexpected(noSession());
    apdu::CardConnection& card = s->held.card();
    const std::string& readerName = card.readerName();
    if (s->authenticate) {
        if (request.internalResult.empty() || request.externalCryptogram.empty()) {
            return unexpected(makeError(ErrorCode::usage,
                                        "a 3rd-generation card needs the HSM's internal_result "
                                        "and external_cryptogram; the session has ended"));
        }
        if (auto genuine =
                ssse::checkInternalAnswer(s->challenges.internalAnswer, request.internalResult);
            !genuine) {
            events_.audit("card.not_genuine", readerName, &s->card, "card_not_genuine");
            logWarn("HSM read in " + readerName + ": card " +
                    maskCardNumber(s->card.card_number.value_or("")) +
                    " failed internal authentication (a copied card, or other keys)");
            return unexpected(genuine.error());
        }
        auto authenticated = ssse::externalAuthenticate(*s->tx, authKeyIds(config_.keys),
                                                        request.externalCryptogram);
        if (!authenticated) {
            events_.audit("card.auth_failed", readerName, &s->card,
                          std::string(codeName(authenticated.error().code)));
            return unexpected(authenticated.error());
        }
        s->app->setAuthenticated();
    }
    auto info = s->app->readCardInfo();
    if (!info) return unexpected(info.error());
    auto holder = s->app->readHolder(info->generation);
    if (!holder) return unexpected(holder.error());
    auto decision = list_.decide(*info, config_);
    if (!decision) return unexpected(decision.error());
    events_.decision(readerName, *info, *decision);
    logInfo("HSM read in " + readerName + ": card " +
            maskCardNumber(info->card_number.value_or("")) + " " +
            (decision->allow ? "allow" : "deny") + " (" +
            std::string(blacklist::reasonName(decision->reason)) + ")");
    auto json = decisionJson(
        cardReadJson(readerName, card.interface(), card.atr(), *info, &*holder), *decision);
    json["timing"] = {{"apdus", card.apduCount() - s->apdusAtBegin}};
    return json;
}

}  // namespace sscard::daemon
