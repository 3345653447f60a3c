// The configuration file (docs/configuration.md): the settings, their built-in
// defaults, and loading them from TOML with errors that name the file, the line and the key.
//
// Nothing here throws: every failure (unreadable file, TOML syntax, unknown key, wrong type, bad
// value) comes back as a ConfigError.
//
// Keys beyond the contract (extensions, documented in config/sscardd.toml.example):
//   [log] level      = "info"   error | warn | info | debug
//   [log] apdu_trace = false    log every APDU exchanged with a card (PINs and keys redacted)
//   [backend] outbox = "/var/lib/sscard/outbox.db"   the outbox and audit database (absolute)
//   [backend] max_events = 100000  undelivered events kept (card.checked dropped oldest first)
//   [api] max_clients_per_user = 32  API connections one Unix user may hold
//   [audit] retention   = "90d"      audit entries older than this are deleted (at least 1h)
//   [audit] max_entries = 1000000    at most this many audit entries are kept (1 to 1000000000)
//   [roles] personal_data = []  groups whose kiosk callers may receive holder data (admins always)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard {

inline constexpr const char* kDefaultConfigPath = "/etc/sscard/sscardd.toml";

enum class StalePolicy {
    deny,   // refuse every card while the list is stale
    allow,  // decide on the stale list and flag the decision
};

// A card whose number cannot be read (a 3rd-generation card that keeps it behind the read key) in
// a region where the list holds entries known only by region + card number: such an entry could be
// this card (docs/feed.md#decision-rules).
enum class UnreadableNumberPolicy {
    deny,   // refuse it (reason number_unreadable): the safe default
    allow,  // let it through, flagged with reason number_unreadable
};

enum class ReaderPreference {
    contact,      // with cards in several readers and none named, use a contact reader first
    contactless,  // ... or a contactless one first
};

enum class LogLevel { error, warn, info, debug };

std::string_view stalePolicyName(StalePolicy p);
std::string_view readerPreferenceName(ReaderPreference p);
std::string_view logLevelName(LogLevel l);

struct ListConfig {
    std::string feed_url;                   // empty = no sync; else http:// or https://
    std::vector<std::string> trusted_keys;  // absolute paths of feed public keys
    std::string database = "/var/lib/sscard/list.db";
    std::string ca_file;  // empty = system CAs only
    std::chrono::milliseconds poll_interval = std::chrono::seconds(60);
    std::chrono::milliseconds grace = std::chrono::hours(24);
    StalePolicy stale_policy = StalePolicy::deny;
    UnreadableNumberPolicy unreadable_number = UnreadableNumberPolicy::deny;
    // Extensions: plain http:// feed_url only with this (labs, tests); how many distinct trusted
    // keys must sign each feed document; how far ahead of the local clock a top file's issue time
    // may be; the deadline of one whole sync.
    bool allow_insecure_http = false;
    int threshold = 1;
    std::chrono::milliseconds max_clock_skew = std::chrono::minutes(5);
    std::chrono::milliseconds sync_timeout = std::chrono::hours(1);
    bool operator==(const ListConfig&) const = default;
};

struct NfcConfig {
    std::vector<std::string> devices;  // libnfc connection strings, "driver:port..."
    bool operator==(const NfcConfig&) const = default;
};

struct ReadersConfig {
    ReaderPreference prefer = ReaderPreference::contact;
    bool operator==(const ReadersConfig&) const = default;
};

struct ApiConfig {
    std::string socket = "/run/sscard/sscardd.sock";  // absolute; fits sockaddr_un
    // Extension: connections one Unix user may hold open at once (1 to 256).
    int max_clients_per_user = 32;
    bool operator==(const ApiConfig&) const = default;
};

// Extension: how the terminal proves itself to the backend.
enum class BackendAuth {
    none,         // nothing beyond TLS of the server
    client_cert,  // a TLS client certificate (client_cert, client_key)
    hmac,         // X-Sscard-Signature: t=<unix>,hmac=<hex> over "<t>.<body>" (hmac_key_file)
};
std::string_view backendAuthName(BackendAuth a);

struct BackendConfig {
    std::string url;          // empty = keep events queued; else http:// or https://
    std::string terminal_id;  // required when url is set
    std::string ca_file;      // empty = system CAs only
    // Extension: the SQLite file of the outbox (events until the backend takes them) and the audit
    // log; absolute.
    std::string outbox = "/var/lib/sscard/outbox.db";
    // Extensions: plain http:// url only with this; client authentication (see BackendAuth).
    bool allow_insecure_http = false;
    BackendAuth auth = BackendAuth::none;
    std::string client_cert;    // PEM certificate, absolute path
    std::string client_key;     // PEM private key, absolute path
    std::string hmac_key_file;  // the per-terminal key: a file only the service can read
    // Extension: at most this many undelivered events (card.checked dropped oldest first).
    std::int64_t max_events = 100'000;
    bool operator==(const BackendConfig&) const = default;
};

struct RolesConfig {
    std::vector<std::string> kiosk{"sscard-kiosk"};  // Unix groups whose members are kiosks
    std::vector<std::string> admin{"sscard-admin"};  // Unix groups whose members are admins
    // Extension: kiosk callers in one of these groups may receive personal data (holder fields);
    // admins always may. Default: none.
    std::vector<std::string> personal_data;
    bool operator==(const RolesConfig&) const = default;
};

// Extension (not in the contract).
struct LogConfig {
    LogLevel level = LogLevel::info;
    bool apdu_trace = false;
    bool operator==(const LogConfig&) const = default;
};

// Extension (not in the contract): retention of the audit log (in the [backend] outbox file).
struct AuditConfig {
    std::chrono::milliseconds retention = std::chrono::hours(24 * 90);
    std::int64_t max_entries = 1'000'000;
    bool operator==(const AuditConfig&) const = default;
};

// Extension (not in the contract): where the issuer's keys for pin.reset / pin.unblock come from.
// Staffed counters only; kiosks leave source = none and the methods are refused.
enum class KeySourceKind { none, psam, file };
std::string_view keySourceName(KeySourceKind k);

struct KeysConfig {
    KeySourceKind source = KeySourceKind::none;
    // PSAM: the PC/SC reader of the SAM slot (never treated as a card reader), the PSAM
    // application, how many diversification steps lie between the PSAM's key and the card's, and
    // BF DE's usage (P1) and key id (P2) for the PUK key.
    std::string psam_reader;
    std::string psam_aid = "D15600000590";
    int psam_levels = 2;
    int psam_puk_usage = 0x27;
    int psam_puk_key = 0x01;      // for SM4 cards
    int psam_puk_key_des = 0x02;  // for 3DES cards
    // The read key RKSSSE (3rd-generation holder data) and the internal-authentication key IAK.
    int psam_read_usage = 0x28;
    int psam_read_key = 0x01;
    int psam_read_key_des = 0x02;
    int psam_internal_usage = 0x2B;
    int psam_internal_key = 0x01;
    int psam_internal_key_des = 0x02;
    // The card's key ids: PUK and RKSSSE (EXTERNAL AUTHENTICATE P2), IAK (INTERNAL AUTHENTICATE
    // P2).
    int card_puk_id = 0x01;
    int card_read_id = 0x0A;
    int card_internal_id = 0x09;
    // Every automatic check proves the chip genuine first (internal authentication through the
    // key source): a copy carrying another card's id is refused with card_not_genuine.
    bool authenticate_cards = false;
    // Software key file (labs and tests): refused unless allow_software_keys is true.
    std::string file;
    bool allow_software_keys = false;
    bool operator==(const KeysConfig&) const = default;
};

// Extension: the HSM two-step read (card.hsm_begin / card.hsm_finish).
struct HsmConfig {
    // How long a session holds its reader waiting for card.hsm_finish.
    std::chrono::milliseconds session_timeout = std::chrono::seconds(30);
    bool operator==(const HsmConfig&) const = default;
};

// Extension (not in the contract): PIN handling.
struct PinConfig {
    // PIN attempts (verify, change, activation, issuer operations) per reader per minute.
    int attempts_per_minute = 5;
    // The length a new PIN must have (and what a PIN pad accepts).
    int min_length = 6;
    int max_length = 6;
    bool operator==(const PinConfig&) const = default;
};

struct Config {
    ListConfig list;
    NfcConfig nfc;
    ReadersConfig readers;
    ApiConfig api;
    BackendConfig backend;
    RolesConfig roles;
    LogConfig log;
    AuditConfig audit;
    KeysConfig keys;
    HsmConfig hsm;
    PinConfig pin;

    // Where the settings came from: the file's path, or empty for the built-in defaults.
    std::string source;

    // Compares the settings only, not where they came from.
    bool operator==(const Config& o) const {
        return list == o.list && nfc == o.nfc && readers == o.readers && api == o.api &&
               backend == o.backend && roles == o.roles && log == o.log && audit == o.audit &&
               keys == o.keys && pin == o.pin;
    }
};

struct ConfigError {
    std::string file;     // path or source name
    int line = 0;         // 1-based; 0 when the error is not about one line
    std::string key;      // dotted key, e.g. "list.poll_interval"; empty when not about one key
    std::string message;  // what is wrong, and what would be right

    // "FILE:LINE: KEY: MESSAGE"; ":LINE" and "KEY: " are left out when they are unknown.
    std::string toString() const;
};

// A ConfigError as the contract's failure class `config` (exit status 2).
Error toError(const ConfigError& e);

// The built-in defaults (what an empty file gives).
Config defaultConfig();

// Parses and validates TOML text. sourceName is what errors call the file.
Expected<Config, ConfigError> parseConfig(std::string_view text, const std::string& sourceName);

// Reads and parses one file; a missing or unreadable file is an error.
Expected<Config, ConfigError> loadConfig(const std::string& path);

// The CLI rule (docs/configuration.md#loading-rules): an explicit --config file must
// exist and parse; without one, a missing default file means the built-in defaults, and a
// present one (even if unreadable) must parse.
Expected<Config, ConfigError> loadConfigOrDefault(
    const std::optional<std::string>& explicitPath,
    const std::string& defaultPath = kDefaultConfigPath);

// Durations as written in the file and on command lines: one or more <number><unit> with units
// ms, s, m, h, d (e.g. "500ms", "60s", "1h30m", "7d"); at most 3650d. The error says what is wrong
// (e.g. `add a unit, e.g. "60s"`) without repeating the input.
Expected<std::chrono::milliseconds, std::string> parseDuration(std::string_view text);

// The shortest form parseDuration reads back: "0s", "500ms", "1m30s", "1d".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace sscard
