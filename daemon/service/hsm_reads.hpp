// The HSM two-step read (card.hsm_begin / card.hsm_finish; docs/card.md#the-hsm-two-step-read):
// hospitals keep the card keys in a network encryption machine (HSM), which the kiosk application
// asks between the two steps.
//
// Step 1 selects the application (FCI: the algorithm), reads the card id, version and number, and
// on a 3rd-generation card runs the internal-authentication challenge and the external challenges.
// The session then keeps the reader and the card transaction, so nothing else reaches the card
// before EXTERNAL AUTHENTICATE: other operations on that reader get busy. Step 2 compares the
// card's internal answer with the HSM's (card_not_genuine: nothing more is sent), authenticates
// with the HSM's cryptogram (auth_failed with tries_left: never retried here), reads the rest and
// decides against the list. 1st/2nd-generation cards skip the authentications.
//
// A session belongs to the API connection that began it and ends with it, after step 2 or a
// failure in it, or when it expires ([hsm] session_timeout).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "apdu/ssse/application.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"

namespace sscard::daemon {

// What step 1 gives the application for its HSM (hex upper case).
struct HsmStep1 {
    std::string session;
    std::string region;
    std::string atrHist;
    std::string algorithm;  // "01" DES/3DES, "03" SM4 (from the FCI; "01" when absent)
    std::string cardId;
    std::string internalFactor;  // empty on 1st/2nd-generation cards
    std::string internalRandom;
    std::string externalFactor;
    std::string externalRandom;
    std::string terminalSerial;  // [backend] terminal_id
    // 区划|ATR历史字节|算法标识|卡识别码|内部认证过程因子|内部认证原始信息|外部认证过程因子|外部认证原始信息|终端序列号|
    std::string interfaceString() const;
};

struct HsmFinishRequest {
    std::string session;
    Bytes internalResult;      // at least 8 bytes: the first 8 are compared
    Bytes externalCryptogram;  // 16 bytes
};

class HsmReads {
  public:
    HsmReads(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
             ListAccess& list, EventRecorder& events);
    ~HsmReads();  // ends every session
    HsmReads(const HsmReads&) = delete;
    HsmReads& operator=(const HsmReads&) = delete;

    Expected<HsmStep1, Error> begin(std::uint64_t owner, const std::optional<std::string>& reader);
    // The decision JSON with `holder`.
    Expected<nlohmann::json, Error> finish(std::uint64_t owner, const HsmFinishRequest& request);

    // The connection closed: its sessions end.
    void dropOwner(std::uint64_t owner);
    std::size_t openSessions() const;

  private:
    struct Session;
    void expireLoop();
    std::unique_ptr<Session> take(std::uint64_t owner, const std::string& id);

    const Config& config_;
    CardDesk& desk_;
    ssse::ReadStrategyCache& readStrategy_;
    ListAccess& list_;
    EventRecorder& events_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::map<std::string, std::unique_ptr<Session>> sessions_;
    std::thread expiry_;
};

}  // namespace sscard::daemon
