// The exported functions of SSCardDriver.h: each opens its own connection to sscardd, asks it,
// and writes the answer in the interface's layout (docs/driver.md).
#include "driver/SSCardDriver.h"

#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "driver/card_fields.hpp"
#include "driver/daemon_link.hpp"
#include "driver/error_table.hpp"
#include "driver/gbk_output.hpp"
#include "driver/reader_choice.hpp"

namespace sscard::driver {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kListTimeout = 10s;
constexpr auto kCardTimeout = 30s;
constexpr auto kPinpadTimeout = 120s;  // the holder types on the reader

long answer(long code, std::string_view text, char* out) {
    writeOut(text, out);
    return code;
}

long fail(const Failure& failure, char* out) {
    Outcome o = outcomeOf(failure);
    return answer(o.code, o.text, out);
}

long badInput(std::string_view what, char* out) {
    return fail(makeFailure("usage", std::string(what)), out);
}

// A connection and the reader iType chose.
struct CardSession {
    DaemonLink link;
    std::string reader;
};

Expected<CardSession, Failure> openCardSession(int iType) {
    if (!validType(iType)) return unexpected(makeFailure("usage", "iType must be 1 to 4"));
    auto link = DaemonLink::open(socketPath());
    if (!link) return unexpected(link.error());
    auto list = link->call("readers.list", json::object(), kListTimeout);
    if (!list) return unexpected(list.error());
    auto reader = chooseReader(iType, list->value("readers", json::array()));
    if (!reader) return unexpected(reader.error());
    return CardSession{std::move(*link), std::move(*reader)};
}

// 终端机编号 is the service's [backend] terminal_id (status), 终端设备号 the reader's name.
TerminalFields terminalFields(DaemonLink& link, const std::string& reader) {
    TerminalFields t;
    t.device_number = reader;
    if (auto status = link.call("status", json::object(), kListTimeout)) {
        if (auto id = status->find("terminal_id"); id != status->end() && id->is_string())
            t.terminal_number = id->get<std::string>();
    }
    return t;
}

// Request parameters that hold PINs: one buffer reserved up front (no reallocation leaves a
// copy behind), wiped when done. Values are checked digits or JSON-escaped names.
class SecretParams {
  public:
    explicit SecretParams(const std::string& reader) {
        text_.reserve(1024);
        text_ += R"({"reader":)";
        text_ += json(reader).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    SecretParams(const SecretParams&) = delete;
    SecretParams& operator=(const SecretParams&) = delete;
    ~SecretParams() { wipe(text_); }

    void add(std::string_view key, std::string_view digits) {
        text_ += ",\"";
        text_ += key;
        text_ += "\":\"";
        text_ += digits;
        text_ += '"';
    }
    std::string_view finish() {
        text_ += '}';
        return text_;
    }

  private:
    std::string text_;
};

// card.read without holder data, to compare the card with what the caller names.
Expected<void, Failure> expectCard(CardSession& s, const CardInfo& info) {
    auto read = s.link.call("card.read", json{{"reader", s.reader}}, kCardTimeout);
    if (!read) return unexpected(read.error());
    const json card = read->value("card", json::object());
    std::string id =
        card.value("card_id", json(nullptr)).is_string() ? card["card_id"].get<std::string>() : "";
    for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const json number = card.value("card_number", json(nullptr));
    if (id != info.card_id || !number.is_string() || number.get<std::string>() != info.card_number)
        return unexpected(
            makeFailure("data_mismatch", "the card in the reader is not the card named"));
    return {};
}

template <class F>
long guarded(char* out, F&& body) {
    if (out == nullptr) return kBadInput;
    try {
        return body();
    } catch (const std::exception& e) {
        return fail(makeFailure("internal", e.what()), out);
    } catch (...) {
        return fail(makeFailure("internal", "unexpected failure"), out);
    }
}

long pinResult(const Expected<json, Failure>& r, char* out) {
    if (!r) return fail(r.error(), out);
    if (r->value("ok", false)) return answer(kOk, "", out);
    Failure wrong = makeFailure("pin_wrong", "");
    if (auto t = r->find("tries_left"); t != r->end() && t->is_number_integer())
        wrong.tries_left = t->get<int>();
    return fail(wrong, out);
}

long readBasic(int iType, char* out) {
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    auto read =
        s->link.call("card.read", json{{"reader", s->reader}, {"holder", true}}, kCardTimeout);
    if (!read) return fail(read.error(), out);
    // A 3rd-generation card read without the issuer's read key: the service names the fields the
    // card refused. Applications expect −2203 here, to fall back to the HSM steps, rather than a
    // record with the SSN and name empty.
    const auto card = read->find("card");
    if (card != read->end() && card->is_object() && card->contains("protected") &&
        (*card)["protected"].is_array() && !(*card)["protected"].empty())
        return fail(makeFailure("read_key_required",
                                "the card keeps holder data behind the read key RKSSSE"),
                    out);
    return answer(kOk, basicCardText(*read, terminalFields(s->link, s->reader)), out);
}

long checkCard(int iType, char* out) {
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    auto r = s->link.call("card.check", json{{"reader", s->reader}}, kCardTimeout);
    if (!r) return fail(r.error(), out);
    return answer(kOk, r->value("decision", "") + "|" + r->value("reason", "") + "|", out);
}

long verifyOnPad(int iType, const char* method, char* out) {
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    auto r =
        s->link.call(method, json{{"reader", s->reader}, {"pin_source", "pinpad"}}, kPinpadTimeout);
    return pinResult(r, out);
}

long verifyPin(int iType, const char* pin, char* out) {
    if (pin == nullptr || !isPin(pin)) return badInput("the PIN must be 4 to 16 digits", out);
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    SecretParams params(s->reader);
    params.add("pin", pin);
    return pinResult(s->link.call("pin.verify", params.finish(), kCardTimeout), out);
}

long changePin(int iType, const char* oldPin, const char* newPin, char* out) {
    if (oldPin == nullptr || newPin == nullptr || !isPin(oldPin) || !isPin(newPin))
        return badInput("the PINs must be 4 to 16 digits", out);
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    SecretParams params(s->reader);
    params.add("old_pin", oldPin);
    params.add("new_pin", newPin);
    return pinResult(s->link.call("pin.change", params.finish(), kCardTimeout), out);
}

long issuerOperation(int iType, const char* cardInfo, bool reset, char* out) {
    if (cardInfo == nullptr) return badInput("pCardInfo is missing", out);
    auto info = parseCardInfo(cardInfo, reset);
    if (!info)
        return badInput(reset ? "pCardInfo must be <card id 32 hex>|<card number 9>|<new PIN>|"
                              : "pCardInfo must be <card id 32 hex>|<card number 9>|",
                        out);
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    if (auto same = expectCard(*s, *info); !same) return fail(same.error(), out);
    SecretParams params(s->reader);
    if (reset) params.add("new_pin", info->new_pin);
    auto r = s->link.call(reset ? "pin.reset" : "pin.unblock", params.finish(), kCardTimeout);
    if (!r) return fail(r.error(), out);
    return answer(kOk, "", out);
}

// The HSM read's state between the two steps: the service ties a session to the connection that
// began it, so the connection of the last Step 1 stays open until its Step 2 (or the next Step 1).
struct HsmState {
    std::mutex mutex;
    std::unique_ptr<DaemonLink> link;
    std::string session;
    std::string reader;
};

HsmState& hsmState() {
    static HsmState state;
    return state;
}

std::string hsmStep1Text(const json& begin, const std::string& terminalId) {
    if (auto s = begin.find("step1"); s != begin.end() && s->is_string())
        return s->get<std::string>();
    const json f = begin.value("factors", json::object());
    std::string out;
    for (const char* key : {"region", "atr_hist", "algorithm", "card_id", "internal_factor",
                            "internal_random", "external_factor", "external_random"}) {
        auto it = f.find(key);
        if (it != f.end() && it->is_string()) out += it->get<std::string>();
        out += '|';
    }
    return out + terminalId + "|";
}

long hsmStep1(int iType, char* out) {
    // A new Step 1 ends the previous session (closing its connection ends it on the service too).
    std::lock_guard lock(hsmState().mutex);
    hsmState().link.reset();
    auto s = openCardSession(iType);
    if (!s) return fail(s.error(), out);
    auto begin = s->link.call("card.hsm_begin", json{{"reader", s->reader}}, kCardTimeout);
    if (!begin) return fail(begin.error(), out);
    auto session = begin->find("session");
    if (session == begin->end() || !session->is_string())
        return fail(makeFailure("daemon_lost", "card.hsm_begin gave no session"), out);
    TerminalFields t = terminalFields(s->link, s->reader);
    std::string text = hsmStep1Text(*begin, t.terminal_number);
    hsmState().session = session->get<std::string>();
    hsmState().reader = s->reader;
    hsmState().link = std::make_unique<DaemonLink>(std::move(s->link));
    return answer(kOk, text, out);
}

bool isHex(std::string_view s) {
    for (char c : s) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return !s.empty() && s.size() % 2 == 0;
}

long hsmStep2(const char* key, char* out) {
    if (key == nullptr) return badInput("pKey is missing", out);
    auto fields = splitFields(key);
    // Both empty: a 1st/2nd-generation card, which has no authentication to finish.
    const bool nothingToCompare = fields.size() >= 2 && fields[0].empty() && fields[1].empty();
    if (!nothingToCompare && (fields.size() < 2 || fields[0].size() < 16 || !isHex(fields[0]) ||
                              fields[1].size() != 32 || !isHex(fields[1])))
        return badInput(
            "pKey must be <internal result, 16 hex or more>|<external cryptogram, 32 hex>|", out);
    std::lock_guard lock(hsmState().mutex);
    std::unique_ptr<DaemonLink> link = std::move(hsmState().link);
    if (!link)
        return fail(makeFailure("no_session", "iReadCardBas_HSM_Step1 must come first"), out);
    auto r = link->call("card.hsm_finish",
                        json{{"session", hsmState().session},
                             {"internal_result", fields[0]},
                             {"external_cryptogram", fields[1]}},
                        kCardTimeout);
    if (!r) return fail(r.error(), out);
    const std::string reader = r->value("reader", hsmState().reader);
    return answer(kOk, basicCardText(*r, terminalFields(*link, reader)), out);
}

}  // namespace

}  // namespace sscard::driver

using sscard::driver::guarded;

extern "C" {

long iReadCardBas(int iType, char* pOutInfo) {
    return guarded(pOutInfo, [&] { return sscard::driver::readBasic(iType, pOutInfo); });
}

long iReadCardBas_HSM_Step1(int iType, char* pOutInfo) {
    return guarded(pOutInfo, [&] { return sscard::driver::hsmStep1(iType, pOutInfo); });
}

long iReadCardBas_HSM_Step2(char* pKey, char* pOutInfo) {
    return guarded(pOutInfo, [&] { return sscard::driver::hsmStep2(pKey, pOutInfo); });
}

long iVerifyPIN(int iType, char* pOutInfo) {
    return guarded(pOutInfo,
                   [&] { return sscard::driver::verifyOnPad(iType, "pin.verify", pOutInfo); });
}

long iChangePIN(int iType, char* pOutInfo) {
    return guarded(pOutInfo,
                   [&] { return sscard::driver::verifyOnPad(iType, "pin.change", pOutInfo); });
}

long iVerifyPin(int iType, char* pin, char* pOutInfo) {
    return guarded(pOutInfo, [&] { return sscard::driver::verifyPin(iType, pin, pOutInfo); });
}

long iChangePin(int iType, char* oldPin, char* newPin, char* pOutInfo) {
    return guarded(pOutInfo,
                   [&] { return sscard::driver::changePin(iType, oldPin, newPin, pOutInfo); });
}

long iReloadPIN(int iType, char* pCardInfo, char* pOutInfo) {
    return guarded(pOutInfo, [&] {
        return sscard::driver::issuerOperation(iType, pCardInfo, true, pOutInfo);
    });
}

long iUnblockPIN(int iType, char* pCardInfo, char* pOutInfo) {
    return guarded(pOutInfo, [&] {
        return sscard::driver::issuerOperation(iType, pCardInfo, false, pOutInfo);
    });
}

long iCheckCard(int iType, char* pOutInfo) {
    return guarded(pOutInfo, [&] { return sscard::driver::checkCard(iType, pOutInfo); });
}

}  // extern "C"
