// Drives the PIN modules (apdu/ssse/pin_commands.hpp, issuer.hpp) through the real PC/SC stack for
// test/integration/test_pin_flows.py. PINs come from stdin, never from argv (visible in ps).
//
//   pin_flows_driver --card READER [--psam READER | --keys FILE --allow-software-keys]
//                    [--cipher auto|sm4|3des] [--puk-id N] [--psam-key-id N] [--trace FILE]
//
// stdin, one command a line:   verify PIN | tries | change OLD NEW | reset NEW | unblock
// stdout, one JSON object a line per command:
//   {"op":"verify","ok":true}  /  {"op":"verify","ok":false,"code":"pin_wrong","tries_left":2,…}
// Each command runs in its own connection and transaction: SELECT, then the operation (reset and
// unblock read EF05 for the card id first). --trace appends the redacted APDU trace of both
// readers to FILE.
#include <sys/prctl.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "apdu/outcome.hpp"
#include "apdu/pcsc/card.hpp"
#include "apdu/ssse/application.hpp"
#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/pin_commands.hpp"
#include "apdu/ssse/psam.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "crypto/wipe.hpp"

using namespace sscard;
using namespace sscard::ssse;

namespace {

struct Options {
    std::string card;
    std::string psam;
    std::string keys;
    bool allowSoftwareKeys = false;
    std::optional<crypto::CardCipher> cipher;  // nullopt: from the card's FCI
    std::uint8_t pukId = 0x01;
    std::uint8_t psamKeyId = 0x01;
    std::string trace;
};

std::string jsonEscape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void report(std::string_view op, const Expected<void, Error>& r, std::string extra = "") {
    std::string line = "{\"op\":\"" + std::string(op) + "\",\"ok\":" + (r ? "true" : "false");
    if (!r) {
        line += ",\"code\":\"" + std::string(codeName(r.error().code)) + "\"";
        if (r.error().tries_left)
            line += ",\"tries_left\":" + std::to_string(*r.error().tries_left);
        line += ",\"message\":\"" + jsonEscape(r.error().message) + "\"";
    }
    line += extra + "}";
    std::cout << line << std::endl;
}

Expected<SecretPin, Error> nextPin(std::istringstream& in) {
    std::string word;
    in >> word;
    return SecretPin::take(word);
}

class Driver {
  public:
    explicit Driver(Options options) : o_(std::move(options)) {
        if (!o_.trace.empty()) traceFile_.open(o_.trace, std::ios::app);
    }

    int run() {
        std::string line;
        while (std::getline(std::cin, line)) {
            std::istringstream in(line);
            crypto::wipe(line);
            std::string op;
            in >> op;
            if (op.empty()) continue;
            handle(op, in);
            // The stream's copy of the line is not reachable for wiping; it is short-lived.
        }
        return 0;
    }

  private:
    apdu::Tracer tracer(std::string who) {
        if (!traceFile_.is_open()) return {};
        return [this, who](std::string_view l) { traceFile_ << who << " " << l << std::endl; };
    }

    void handle(const std::string& op, std::istringstream& in) {
        if (op == "verify") {
            auto p = nextPin(in);
            if (!p) return report(op, unexpected(p.error()));
            return report(op, withCard([&](apdu::Transaction& tx, SsseApplication&) {
                              return verifyPin(tx, *p);
                          }));
        }
        if (op == "tries") {
            std::string extra;
            auto r =
                withCard([&](apdu::Transaction& tx, SsseApplication&) -> Expected<void, Error> {
                    auto t = pinTriesLeft(tx);
                    if (!t) return unexpected(t.error());
                    extra = ",\"tries_left\":" + (t->has_value() ? std::to_string(**t) : "null");
                    return {};
                });
            return report(op, r, extra);
        }
        if (op == "change") {
            auto oldPin = nextPin(in);
            auto newPin = nextPin(in);
            if (!oldPin) return report(op, unexpected(oldPin.error()));
            if (!newPin) return report(op, unexpected(newPin.error()));
            return report(op, withCard([&](apdu::Transaction& tx, SsseApplication&) {
                              return changePin(tx, *oldPin, *newPin);
                          }));
        }
        if (op == "reset" || op == "unblock") {
            std::optional<SecretPin> newPin;
            if (op == "reset") {
                auto p = nextPin(in);
                if (!p) return report(op, unexpected(p.error()));
                newPin.emplace(std::move(*p));
            }
            return report(op, issuer(newPin ? &*newPin : nullptr));
        }
        report(op, unexpected(makeError(ErrorCode::usage, "unknown command")));
    }

    template <class F>
    Expected<void, Error> withCard(F&& body) {
        auto card = apdu::pcsc::PcscCard::connect(o_.card);
        if (!card) return unexpected(apdu::fromTransport(card.error(), "connecting to the card"));
        (*card)->setTracer(tracer("card"));
        auto tx = (*card)->begin();
        if (!tx) return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
        SsseApplication app(*tx, cache_);
        if (auto s = app.select(); !s) return s;
        return body(*tx, app);
    }

    Expected<std::unique_ptr<KeySource>, Error> keySource(
        std::unique_ptr<apdu::pcsc::PcscCard>& psamCard) {
        if (!o_.psam.empty()) {
            auto c = apdu::pcsc::PcscCard::connect(o_.psam);
            if (!c) return unexpected(apdu::fromTransport(c.error(), "connecting to the PSAM"));
            psamCard = std::move(*c);
            psamCard->setTracer(tracer("psam"));
            PsamOptions options;
            for (auto& [purpose, key] : options.keys) key.keyId = o_.psamKeyId;
            return std::unique_ptr<KeySource>(new PsamKeySource(*psamCard, options));
        }
        SoftwareKeyOptions options;
        options.enabled = o_.allowSoftwareKeys;
        options.warn = [](std::string_view w) { std::cerr << "WARNING: " << w << std::endl; };
        auto s = SoftwareKeySource::load(o_.keys, options);
        if (!s) return unexpected(s.error());
        return std::unique_ptr<KeySource>(std::move(*s));
    }

    Expected<void, Error> issuer(const SecretPin* newPin) {
        std::unique_ptr<apdu::pcsc::PcscCard> psamCard;
        auto keys = keySource(psamCard);
        if (!keys) return unexpected(keys.error());
        return withCard([&](apdu::Transaction& tx, SsseApplication& app) -> Expected<void, Error> {
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (!info->card_id) {
                return unexpected(makeError(ErrorCode::card_error, "the card has no card id"));
            }
            auto cipher = o_.cipher ? Expected<crypto::CardCipher, Error>(*o_.cipher)
                                    : readCardCipher(tx, *info->card_id);
            if (!cipher) return unexpected(cipher.error());
            auto ctx = cardKeyContext(*cipher, *info->card_id, tx.connection().atr());
            if (!ctx) return unexpected(ctx.error());
            IssuerKeyIds ids{o_.pukId};
            if (newPin != nullptr) return resetPin(tx, *newPin, **keys, *ctx, ids);
            return unblockPin(tx, **keys, *ctx, ids);
        });
    }

    Options o_;
    ReadStrategyCache cache_;
    std::ofstream traceFile_;
};

int usage() {
    std::cerr << "usage: pin_flows_driver --card READER [--psam READER | --keys FILE "
                 "--allow-software-keys] [--cipher auto|sm4|3des] [--puk-id N] [--psam-key-id N] "
                 "[--trace FILE]  (commands on stdin)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // no core file with PINs in it
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--card") {
            o.card = value();
        } else if (a == "--psam") {
            o.psam = value();
        } else if (a == "--keys") {
            o.keys = value();
        } else if (a == "--allow-software-keys") {
            o.allowSoftwareKeys = true;
        } else if (a == "--cipher") {
            std::string c = value();
            if (c == "auto") {
                o.cipher.reset();
            } else if (c == "sm4") {
                o.cipher = crypto::CardCipher::sm4;
            } else if (c == "3des") {
                o.cipher = crypto::CardCipher::des3;
            } else {
                return usage();
            }
        } else if (a == "--puk-id") {
            o.pukId = static_cast<std::uint8_t>(std::strtoul(value().c_str(), nullptr, 0));
        } else if (a == "--psam-key-id") {
            o.psamKeyId = static_cast<std::uint8_t>(std::strtoul(value().c_str(), nullptr, 0));
        } else if (a == "--trace") {
            o.trace = value();
        } else {
            return usage();
        }
    }
    if (o.card.empty()) return usage();
    return Driver(std::move(o)).run();
}
