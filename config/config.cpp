#include "config/config.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>

#include <toml++/toml.h>

#include "base/errno_text.hpp"
#include "base/url.hpp"

namespace sscard {

namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxFileSize = 1024 * 1024;
constexpr std::uint64_t kMsPerDay = 86'400'000;
constexpr std::uint64_t kMaxDurationMs = 3650 * kMsPerDay;

// ---- text helpers -------------------------------------------------------------------------

// A value for a message: in double quotes, control characters escaped, long values cut short.
std::string quote(std::string_view s) {
    constexpr std::size_t kMax = 80;
    std::string out = "\"";
    std::size_t n = 0;
    for (char c : s) {
        if (++n > kMax) {
            out += "...";
            break;
        }
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

// One part of a dotted key: bare if TOML would allow it bare, else quoted.
std::string keyPart(std::string_view k) {
    bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(k) : quote(k);
}

std::string joinKey(std::string_view table, std::string_view key) {
    if (table.empty()) return keyPart(key);
    return std::string(table) + "." + keyPart(key);
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Lower case, '-' as '_': how keys are compared for suggestions.
std::string normalized(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) out += c == '-' ? '_' : lower(c);
    return out;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// The closest candidate to `word`, if close enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
    constexpr std::size_t kMaxCompare = 64;  // longer words are no typo of ours
    if (word.size() > kMaxCompare) return std::nullopt;
    std::string w = normalized(word);
    std::optional<std::string_view> best;
    std::size_t bestDistance = 0;
    for (std::string_view c : candidates) {
        std::size_t d = editDistance(w, normalized(c));
        if (d * 3 <= std::max(w.size(), c.size()) + 1) {
            if (!best || d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
    }
    return best;
}

bool hasControl(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
}

// Text for a message as it is, but with control characters escaped.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (lower(s[i]) != prefix[i]) return false;
    return true;
}

// Empty, or http(s)://HOST[...] without spaces or control characters.
bool isHttpUrl(std::string_view s) {
    std::string_view rest;
    if (startsWithNoCase(s, "http://")) {
        rest = s.substr(7);
    } else if (startsWithNoCase(s, "https://")) {
        rest = s.substr(8);
    } else {
        return false;
    }
    if (hasControl(s) || s.find(' ') != std::string_view::npos) return false;
    std::size_t hostEnd = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, hostEnd);
    std::size_t at = authority.rfind('@');
    std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
    return !host.empty() && host[0] != ':';
}

std::string_view typeName(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::none:
            return "nothing";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
    }
    return "something else";
}

int lineOf(const toml::source_region& r) {
    return r.begin.line > 0 && r.begin.line <= 0x7FFFFFFF ? static_cast<int>(r.begin.line) : 0;
}

// ---- the schema ---------------------------------------------------------------------------

struct Checker;
using Handler = std::function<void(Checker&, const toml::node&, const std::string& key)>;

struct KeyDef {
    std::string_view name;
    Handler handle;
};

struct TableDef {
    std::string_view name;
    std::vector<KeyDef> keys;
};

struct Checker {
    std::string file;
    Config config;
    std::vector<ConfigError> errors;
    // Where some values were written, for checks that involve more than one key.
    std::map<std::string, int, std::less<>> lines;

    void fail(const toml::node& n, std::string key, std::string message) {
        errors.push_back(ConfigError{file, lineOf(n.source()), std::move(key), std::move(message)});
    }
    void failAt(int line, std::string key, std::string message) {
        errors.push_back(ConfigError{file, line, std::move(key), std::move(message)});
    }
    void wrongType(const toml::node& n, const std::string& key, std::string_view expected) {
        fail(n, key, "expected " + std::string(expected) + ", got " + std::string(typeName(n)));
    }

    // ---- typed readers; each records an error and returns nothing on a mismatch ----

    const std::string* string(const toml::node& n, const std::string& key) {
        lines[key] = lineOf(n.source());
        if (const auto* v = n.as_string()) {
            const std::string& s = v->get();
            if (s.find('\0') != std::string::npos) {
                fail(n, key, "must not contain a NUL character");
                return nullptr;
            }
            return &s;
        }
        wrongType(n, key, "a string");
        return nullptr;
    }

    // A string without control characters (names that end up in logs and events).
    const std::string* text(const toml::node& n, const std::string& key) {
        const std::string* s = string(n, key);
        if (s && hasControl(*s)) {
            fail(n, key, "bad value " + quote(*s) + ": contains a control character");
            return nullptr;
        }
        return s;
    }

    std::optional<bool> boolean(const toml::node& n, const std::string& key) {
        lines[key] = lineOf(n.source());
        if (const auto* v = n.as_boolean()) return v->get();
        if (const auto* s = n.as_string()) {
            fail(n, key,
                 "expected a boolean (true or false, without quotes), got the string " +
                     quote(s->get()));
        } else {
            wrongType(n, key, "a boolean (true or false)");
        }
        return std::nullopt;
    }

    // An integer within [min, max].
    std::optional<std::int64_t> integer(const toml::node& n, const std::string& key,
                                        std::int64_t min, std::int64_t max) {
        lines[key] = lineOf(n.source());
        std::string range = std::to_string(min) + " to " + std::to_string(max);
        if (const auto* v = n.as_integer()) {
            if (v->get() < min || v->get() > max) {
                fail(n, key, "bad value " + std::to_string(v->get()) + ": must be " + range);
                return std::nullopt;
            }
            return v->get();
        }
        if (const auto* s = n.as_string()) {
            fail(n, key, "expected an integer (without quotes), got the string " + quote(s->get()));
        } else {
            wrongType(n, key, "an integer (" + range + ")");
        }
        return std::nullopt;
    }

    // Each element goes through `check` (which may reject it); nothing on a type mismatch.
    std::optional<std::vector<std::string>> strings(
        const toml::node& n, const std::string& key,
        const std::function<bool(const toml::node&, const std::string& elementKey,
                                 const std::string& value)>& check) {
        lines[key] = lineOf(n.source());
        const auto* arr = n.as_array();
        if (!arr) {
            if (const auto* s = n.as_string()) {
                fail(
                    n, key,
                    "expected an array of strings, got a string (write [" + quote(s->get()) + "])");
            } else {
                wrongType(n, key, "an array of strings");
            }
            return std::nullopt;
        }
        std::vector<std::string> out;
        bool ok = true;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node& e = *arr->get(i);
            std::string ek = key + "[" + std::to_string(i) + "]";
            const std::string* s = string(e, ek);
            if (!s) {
                ok = false;
                continue;
            }
            if (!check(e, ek, *s)) {
                ok = false;
                continue;
            }
            out.push_back(*s);
        }
        if (!ok) return std::nullopt;
        return out;
    }

    std::optional<milliseconds> duration(const toml::node& n, const std::string& key) {
        lines[key] = lineOf(n.source());
        if (const auto* i = n.as_integer()) {
            if (i->get() < 0) {
                fail(n, key, "bad duration " + std::to_string(i->get()) + ": must not be negative");
                return std::nullopt;
            }
            std::string num = std::to_string(i->get());
            fail(n, key, "bad duration " + num + ": add a unit and quotes, e.g. \"" + num + "s\"");
            return std::nullopt;
        }
        if (n.is_floating_point()) {
            fail(n, key, "bad duration: write it as a string with a unit, e.g. \"1m30s\"");
            return std::nullopt;
        }
        const std::string* s = string(n, key);
        if (!s) return std::nullopt;
        auto d = parseDuration(*s);
        if (!d) {
            fail(n, key, "bad duration " + quote(*s) + ": " + d.error());
            return std::nullopt;
        }
        return *d;
    }

    template <class E>
    std::optional<E> choice(const toml::node& n, const std::string& key,
                            const std::vector<std::pair<std::string_view, E>>& allowed) {
        const std::string* s = string(n, key);
        if (!s) return std::nullopt;
        for (const auto& [name, value] : allowed)
            if (*s == name) return value;
        std::string list;
        for (std::size_t i = 0; i < allowed.size(); ++i) {
            if (i > 0) list += i + 1 == allowed.size() ? " or " : ", ";
            list += "\"" + std::string(allowed[i].first) + "\"";
        }
        fail(n, key, "bad value " + quote(*s) + ": must be " + list);
        return std::nullopt;
    }

    // A path that must be absolute (or, with allowEmpty, empty).
    const std::string* path(const toml::node& n, const std::string& key, bool allowEmpty) {
        const std::string* s = string(n, key);
        if (!s) return nullptr;
        if (s->empty() && allowEmpty) return s;
        if (s->empty()) {
            fail(n, key, "must not be empty; give an absolute path");
            return nullptr;
        }
        if (hasControl(*s)) {
            fail(n, key, "bad path " + quote(*s) + ": contains a control character");
            return nullptr;
        }
        if ((*s)[0] != '/') {
            fail(n, key, "bad path " + quote(*s) + ": must be an absolute path (starting with /)");
            return nullptr;
        }
        return s;
    }

    const std::string* url(const toml::node& n, const std::string& key) {
        const std::string* s = string(n, key);
        if (!s) return nullptr;
        if (s->empty() || isHttpUrl(*s)) return s;
        fail(n, key,
             "bad URL " + quote(http::redactUrl(*s)) +
                 ": must be empty or an http:// or https:// URL with a host");
        return nullptr;
    }
};

// A byte-valued key (a key id, a usage byte): 0..255.
KeyDef byteKey(std::string_view name, int KeysConfig::*field) {
    return {name, [field](Checker& c, const toml::node& n, const std::string& k) {
                if (auto v = c.integer(n, k, 0, 255)) c.config.keys.*field = int(*v);
            }};
}

bool isGroupName(std::string_view g) {
    if (g.empty() || g[0] == '-' || g.size() > 256) return false;
    return std::none_of(g.begin(), g.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F || c == ':' || c == ',' || c == '/';
    });
}

// The checker of a [roles] key: a list of Unix group names.
Handler groupList(std::vector<std::string> RolesConfig::*field) {
    return [field](Checker& c, const toml::node& n, const std::string& k) {
        auto v =
            c.strings(n, k, [&c](const toml::node& e, const std::string& ek, const std::string& s) {
                if (isGroupName(s)) return true;
                c.fail(e, ek, "bad group name " + quote(s));
                return false;
            });
        if (v) c.config.roles.*field = std::move(*v);
    };
}

// libnfc connection string: "driver:port[:options]", driver [a-z0-9_]+, below libnfc's buffer.
bool isNfcConnstring(std::string_view s) {
    constexpr std::size_t kNfcBufsizeConnstring = 1024;
    if (s.size() >= kNfcBufsizeConnstring || hasControl(s)) return false;
    std::size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
    return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

const std::vector<TableDef>& schema() {
    static const std::vector<TableDef> tables = {
        {"list",
         {
             {"feed_url",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.url(n, k)) c.config.list.feed_url = *s;
              }},
             {"trusted_keys",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.strings(
                      n, k, [&c](const toml::node& e, const std::string& ek, const std::string&) {
                          return c.path(e, ek, false) != nullptr;
                      });
                  if (v) c.config.list.trusted_keys = std::move(*v);
              }},
             {"database",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, false)) c.config.list.database = *s;
              }},
             {"ca_file",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.list.ca_file = *s;
              }},
             {"poll_interval",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto d = c.duration(n, k);
                  if (!d) return;
                  if (*d < std::chrono::seconds(1)) {
                      c.fail(n, k, "must be at least 1s, got " + formatDuration(*d));
                      return;
                  }
                  c.config.list.poll_interval = *d;
              }},
             {"grace",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto d = c.duration(n, k)) c.config.list.grace = *d;
              }},
             {"stale_policy",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.choice<StalePolicy>(
                      n, k, {{"deny", StalePolicy::deny}, {"allow", StalePolicy::allow}});
                  if (v) c.config.list.stale_policy = *v;
              }},
             {"unreadable_number",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.choice<UnreadableNumberPolicy>(
                      n, k,
                      {{"deny", UnreadableNumberPolicy::deny},
                       {"allow", UnreadableNumberPolicy::allow}});
                  if (v) c.config.list.unreadable_number = *v;
              }},
             {"allow_insecure_http",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto b = c.boolean(n, k)) c.config.list.allow_insecure_http = *b;
              }},
             {"threshold",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 1, 16)) c.config.list.threshold = int(*v);
              }},
             {"max_clock_skew",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto d = c.duration(n, k)) c.config.list.max_clock_skew = *d;
              }},
             {"sync_timeout",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto d = c.duration(n, k);
                  if (!d) return;
                  if (*d < std::chrono::seconds(10)) {
                      c.fail(n, k, "must be at least 10s, got " + formatDuration(*d));
                      return;
                  }
                  c.config.list.sync_timeout = *d;
              }},
         }},
        {"nfc",
         {
             {"devices",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  std::map<std::string, int, std::less<>> seen;
                  auto v = c.strings(
                      n, k,
                      [&c, &seen](const toml::node& e, const std::string& ek,
                                  const std::string& s) {
                          if (!isNfcConnstring(s)) {
                              c.fail(
                                  e, ek,
                                  "bad libnfc connection string " + quote(s) +
                                      ": must be \"driver:port\", e.g. \"pn532_uart:/dev/ttyS0\"");
                              return false;
                          }
                          auto [it, fresh] = seen.emplace(s, lineOf(e.source()));
                          if (!fresh) {
                              c.fail(e, ek,
                                     quote(s) + " is listed twice (also on line " +
                                         std::to_string(it->second) + ")");
                              return false;
                          }
                          return true;
                      });
                  if (v) c.config.nfc.devices = std::move(*v);
              }},
         }},
        {"readers",
         {
             {"prefer",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v =
                      c.choice<ReaderPreference>(n, k,
                                                 {{"contact", ReaderPreference::contact},
                                                  {"contactless", ReaderPreference::contactless}});
                  if (v) c.config.readers.prefer = *v;
              }},
         }},
        {"api",
         {
             {"socket",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  const std::string* s = c.path(n, k, false);
                  if (!s) return;
                  constexpr std::size_t kMax = sizeof(sockaddr_un{}.sun_path) - 1;
                  if (s->size() > kMax) {
                      c.fail(n, k,
                             "socket path is " + std::to_string(s->size()) +
                                 " bytes long; Unix sockets allow at most " + std::to_string(kMax));
                      return;
                  }
                  c.config.api.socket = *s;
              }},
             {"max_clients_per_user",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 1, 256))
                      c.config.api.max_clients_per_user = static_cast<int>(*v);
              }},
         }},
        {"backend",
         {
             {"url",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.url(n, k)) c.config.backend.url = *s;
              }},
             {"terminal_id",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.text(n, k)) c.config.backend.terminal_id = *s;
              }},
             {"ca_file",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.backend.ca_file = *s;
              }},
             {"outbox",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, false)) c.config.backend.outbox = *s;
              }},
             {"allow_insecure_http",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto b = c.boolean(n, k)) c.config.backend.allow_insecure_http = *b;
              }},
             {"auth",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.choice<BackendAuth>(n, k,
                                                 {{"none", BackendAuth::none},
                                                  {"client_cert", BackendAuth::client_cert},
                                                  {"hmac", BackendAuth::hmac}});
                  if (v) c.config.backend.auth = *v;
              }},
             {"client_cert",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.backend.client_cert = *s;
              }},
             {"client_key",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.backend.client_key = *s;
              }},
             {"hmac_key_file",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.backend.hmac_key_file = *s;
              }},
             {"max_events",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 100, 100'000'000)) c.config.backend.max_events = *v;
              }},
         }},
        {"roles",
         {
             {"kiosk", groupList(&RolesConfig::kiosk)},
             {"admin", groupList(&RolesConfig::admin)},
             {"personal_data", groupList(&RolesConfig::personal_data)},
         }},
        {"log",
         {
             {"level",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.choice<LogLevel>(n, k,
                                              {{"error", LogLevel::error},
                                               {"warn", LogLevel::warn},
                                               {"info", LogLevel::info},
                                               {"debug", LogLevel::debug}});
                  if (v) c.config.log.level = *v;
              }},
             {"apdu_trace",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto b = c.boolean(n, k)) c.config.log.apdu_trace = *b;
              }},
         }},
        {"audit",
         {
             {"retention",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto d = c.duration(n, k);
                  if (!d) return;
                  // A typo like "90s" for "90d" would silently empty the audit log.
                  if (*d < std::chrono::hours(1)) {
                      c.fail(n, k, "must be at least 1h, got " + formatDuration(*d));
                      return;
                  }
                  c.config.audit.retention = *d;
              }},
             {"max_entries",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 1, 1'000'000'000)) c.config.audit.max_entries = *v;
              }},
         }},
        {"pin",
         {
             {"attempts_per_minute",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 1, 100)) c.config.pin.attempts_per_minute = int(*v);
              }},
             {"min_length",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 4, 16)) c.config.pin.min_length = int(*v);
              }},
             {"max_length",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 4, 16)) c.config.pin.max_length = int(*v);
              }},
         }},
        {"keys",
         {
             {"source",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto v = c.choice<KeySourceKind>(n, k,
                                                   {{"none", KeySourceKind::none},
                                                    {"psam", KeySourceKind::psam},
                                                    {"file", KeySourceKind::file}});
                  if (v) c.config.keys.source = *v;
              }},
             {"psam_reader",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.text(n, k)) c.config.keys.psam_reader = *s;
              }},
             {"psam_aid",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  const std::string* s = c.string(n, k);
                  if (!s) return;
                  bool hex = s->size() >= 10 && s->size() <= 32 && s->size() % 2 == 0 &&
                             std::all_of(s->begin(), s->end(),
                                         [](char ch) { return std::isxdigit(
                                                           static_cast<unsigned char>(ch)); });
                  if (!hex) {
                      c.fail(n, k,
                             "bad value " + quote(*s) +
                                 ": must be an application id of 5 to 16 bytes in hex, e.g. "
                                 "\"D15600000590\"");
                      return;
                  }
                  c.config.keys.psam_aid = *s;
              }},
             {"psam_levels",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto v = c.integer(n, k, 0, 3)) c.config.keys.psam_levels = int(*v);
              }},
             byteKey("psam_puk_usage", &KeysConfig::psam_puk_usage),
             byteKey("psam_puk_key", &KeysConfig::psam_puk_key),
             byteKey("psam_puk_key_des", &KeysConfig::psam_puk_key_des),
             byteKey("psam_read_usage", &KeysConfig::psam_read_usage),
             byteKey("psam_read_key", &KeysConfig::psam_read_key),
             byteKey("psam_read_key_des", &KeysConfig::psam_read_key_des),
             byteKey("psam_internal_usage", &KeysConfig::psam_internal_usage),
             byteKey("psam_internal_key", &KeysConfig::psam_internal_key),
             byteKey("psam_internal_key_des", &KeysConfig::psam_internal_key_des),
             byteKey("card_puk_id", &KeysConfig::card_puk_id),
             byteKey("card_read_id", &KeysConfig::card_read_id),
             byteKey("card_internal_id", &KeysConfig::card_internal_id),
             {"authenticate_cards",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto b = c.boolean(n, k)) c.config.keys.authenticate_cards = *b;
              }},
             {"file",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto* s = c.path(n, k, true)) c.config.keys.file = *s;
              }},
             {"allow_software_keys",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  if (auto b = c.boolean(n, k)) c.config.keys.allow_software_keys = *b;
              }},
         }},
        {"hsm",
         {
             {"session_timeout",
              [](Checker& c, const toml::node& n, const std::string& k) {
                  auto d = c.duration(n, k);
                  if (!d) return;
                  if (*d < std::chrono::seconds(1) || *d > std::chrono::minutes(10)) {
                      c.fail(n, k, "must be between 1s and 10m, got " + formatDuration(*d));
                      return;
                  }
                  c.config.hsm.session_timeout = *d;
              }},
         }},
    };
    return tables;
}

std::string unknownKeyHint(std::string_view name, const std::vector<std::string_view>& here,
                           std::string_view currentTable) {
    if (auto best = closest(name, here)) return " (did you mean \"" + std::string(*best) + "\"?)";
    // The right key in the wrong table?
    std::string n = normalized(name);
    for (const TableDef& t : schema()) {
        if (t.name == currentTable) continue;
        for (const KeyDef& k : t.keys)
            if (normalized(k.name) == n)
                return " (did you mean " + std::string(t.name) + "." + std::string(k.name) +
                       ", in [" + std::string(t.name) + "]?)";
    }
    return "";
}

void checkTable(Checker& c, const TableDef& def, const toml::node& node) {
    const std::string tableKey(def.name);
    const toml::table* tbl = node.as_table();
    if (!tbl) {
        c.fail(node, tableKey,
               "expected a table ([" + tableKey + "]), got " + std::string(typeName(node)));
        return;
    }
    std::vector<std::string_view> names;
    for (const KeyDef& k : def.keys) names.push_back(k.name);
    for (const auto& [key, value] : *tbl) {
        std::string_view name = key.str();
        auto it = std::find_if(def.keys.begin(), def.keys.end(),
                               [&](const KeyDef& k) { return k.name == name; });
        std::string full = joinKey(def.name, name);
        if (it == def.keys.end()) {
            int line = lineOf(key.source());
            if (line == 0) line = lineOf(value.source());
            c.failAt(line, full,
                     std::string(value.is_table() ? "unknown table" : "unknown key") +
                         unknownKeyHint(name, names, def.name));
            continue;
        }
        it->handle(c, value, full);
    }
}

void checkCrossKeys(Checker& c) {
    auto lineFor = [&c](std::string_view key, std::string_view fallback) {
        auto it = c.lines.find(key);
        if (it != c.lines.end()) return it->second;
        it = c.lines.find(fallback);
        return it != c.lines.end() ? it->second : 0;
    };
    const Config& cfg = c.config;
    if (!cfg.list.feed_url.empty() && cfg.list.trusted_keys.empty()) {
        c.failAt(lineFor("list.trusted_keys", "list.feed_url"), "list.trusted_keys",
                 "must not be empty when list.feed_url is set (the feed's signatures could not "
                 "be checked)");
    }
    if (http::isPlainHttp(cfg.list.feed_url) && !cfg.list.allow_insecure_http) {
        c.failAt(lineFor("list.feed_url", "list.feed_url"), "list.feed_url",
                 "plain http:// lets anyone on the network see and delay the list: use https://, "
                 "or set list.allow_insecure_http = true (labs and tests only)");
    }
    if (http::isPlainHttp(cfg.backend.url) && !cfg.backend.allow_insecure_http) {
        c.failAt(lineFor("backend.url", "backend.url"), "backend.url",
                 "plain http:// lets anyone on the network read and forge events: use https://, "
                 "or set backend.allow_insecure_http = true (labs and tests only)");
    }
    if (static_cast<std::size_t>(cfg.list.threshold) >
        std::max<std::size_t>(cfg.list.trusted_keys.size(), 1)) {
        c.failAt(lineFor("list.threshold", "list.trusted_keys"), "list.threshold",
                 "is " + std::to_string(cfg.list.threshold) + " but list.trusted_keys names only " +
                     std::to_string(cfg.list.trusted_keys.size()) +
                     " key(s): no feed could ever be accepted");
    }
    if (cfg.backend.auth == BackendAuth::client_cert) {
        if (cfg.backend.client_cert.empty()) {
            c.failAt(lineFor("backend.client_cert", "backend.auth"), "backend.client_cert",
                     "must name the PEM client certificate when backend.auth is \"client_cert\"");
        }
        if (cfg.backend.client_key.empty()) {
            c.failAt(lineFor("backend.client_key", "backend.auth"), "backend.client_key",
                     "must name the PEM private key when backend.auth is \"client_cert\"");
        }
    }
    if (cfg.backend.auth == BackendAuth::hmac && cfg.backend.hmac_key_file.empty()) {
        c.failAt(lineFor("backend.hmac_key_file", "backend.auth"), "backend.hmac_key_file",
                 "must name the terminal's key file when backend.auth is \"hmac\"");
    }
    if (!cfg.backend.url.empty() && cfg.backend.terminal_id.empty()) {
        c.failAt(lineFor("backend.terminal_id", "backend.url"), "backend.terminal_id",
                 "must not be empty when backend.url is set (it goes into every event)");
    }
    if (cfg.pin.min_length > cfg.pin.max_length) {
        c.failAt(
            lineFor("pin.min_length", "pin.max_length"), "pin.min_length",
            "must not be more than pin.max_length (" + std::to_string(cfg.pin.max_length) + ")");
    }
    if (cfg.keys.source == KeySourceKind::psam && cfg.keys.psam_reader.empty()) {
        c.failAt(lineFor("keys.psam_reader", "keys.source"), "keys.psam_reader",
                 "must name the PC/SC reader of the SAM slot when keys.source is \"psam\"");
    }
    if (cfg.keys.source == KeySourceKind::file) {
        if (cfg.keys.file.empty()) {
            c.failAt(lineFor("keys.file", "keys.source"), "keys.file",
                     "must name the key file when keys.source is \"file\"");
        }
        if (!cfg.keys.allow_software_keys) {
            c.failAt(lineFor("keys.allow_software_keys", "keys.source"), "keys.allow_software_keys",
                     "must be true for keys.source = \"file\": a key file holds the issuer's "
                     "keys in the clear and is for labs and tests only; production uses a PSAM");
        }
    }
}

Expected<Config, ConfigError> parseImpl(std::string_view text, const std::string& sourceName) {
    Checker c;
    c.file = sourceName;
    c.config = defaultConfig();
    c.config.source = sourceName;

    toml::table root;
    try {
        root = toml::parse(text, sourceName);
    } catch (const toml::parse_error& e) {
        return unexpected(ConfigError{sourceName, lineOf(e.source()), "",
                                      "TOML syntax error: " + printable(e.description())});
    }

    std::vector<std::string_view> tableNames;
    for (const TableDef& t : schema()) tableNames.push_back(t.name);

    for (const auto& [key, value] : root) {
        std::string_view name = key.str();
        auto it = std::find_if(schema().begin(), schema().end(),
                               [&](const TableDef& t) { return t.name == name; });
        if (it == schema().end()) {
            int line = lineOf(key.source());
            if (line == 0) line = lineOf(value.source());
            c.failAt(line, joinKey("", name),
                     std::string(value.is_table() ? "unknown table" : "unknown key") +
                         unknownKeyHint(name, tableNames, ""));
            continue;
        }
        checkTable(c, *it, value);
    }
    if (c.errors.empty()) checkCrossKeys(c);

    if (!c.errors.empty()) {
        auto first = std::min_element(
            c.errors.begin(), c.errors.end(), [](const ConfigError& a, const ConfigError& b) {
                // Unknown lines (0) last; otherwise file order.
                auto rank = [](int l) { return l == 0 ? std::numeric_limits<int>::max() : l; };
                return rank(a.line) < rank(b.line);
            });
        return unexpected(std::move(*first));
    }
    return std::move(c.config);
}

// Reads a whole file; on failure, the errno.
Expected<std::string, int> readFile(const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return unexpected(errno);
    std::string out;
    char buf[16384];
    for (;;) {
        std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
        out.append(buf, n);
        if (out.size() > kMaxFileSize) return unexpected(EFBIG);
        if (n < sizeof buf) {
            if (std::ferror(f.get())) return unexpected(errno != 0 ? errno : EIO);
            break;
        }
    }
    return out;
}

}  // namespace

std::string_view backendAuthName(BackendAuth a) {
    switch (a) {
        case BackendAuth::none:
            return "none";
        case BackendAuth::client_cert:
            return "client_cert";
        case BackendAuth::hmac:
            return "hmac";
    }
    return "none";
}

std::string_view stalePolicyName(StalePolicy p) {
    switch (p) {
        case StalePolicy::deny:
            return "deny";
        case StalePolicy::allow:
            return "allow";
    }
    return "deny";
}

std::string_view readerPreferenceName(ReaderPreference p) {
    switch (p) {
        case ReaderPreference::contact:
            return "contact";
        case ReaderPreference::contactless:
            return "contactless";
    }
    return "contact";
}

std::string_view keySourceName(KeySourceKind k) {
    switch (k) {
        case KeySourceKind::none:
            return "none";
        case KeySourceKind::psam:
            return "psam";
        case KeySourceKind::file:
            return "file";
    }
    return "none";
}

std::string_view logLevelName(LogLevel l) {
    switch (l) {
        case LogLevel::error:
            return "error";
        case LogLevel::warn:
            return "warn";
        case LogLevel::info:
            return "info";
        case LogLevel::debug:
            return "debug";
    }
    return "info";
}

std::string ConfigError::toString() const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    if (!key.empty()) out += key + ": ";
    out += message;
    return out;
}

Error toError(const ConfigError& e) {
    return makeError(ErrorCode::config, e.toString());
}

Config defaultConfig() {
    return Config{};
}

Expected<Config, ConfigError> parseConfig(std::string_view text, const std::string& sourceName) {
    try {
        return parseImpl(text, sourceName);
    } catch (const std::exception& e) {
        return unexpected(
            ConfigError{sourceName, 0, "", std::string("internal error: ") + e.what()});
    } catch (...) {
        return unexpected(ConfigError{sourceName, 0, "", "internal error"});
    }
}

Expected<Config, ConfigError> loadConfig(const std::string& path) {
    try {
        auto text = readFile(path);
        if (!text) {
            std::string why = text.error() == EFBIG
                                  ? "larger than " + std::to_string(kMaxFileSize / 1024) + " KiB"
                                  : errnoText(text.error());
            return unexpected(ConfigError{path, 0, "", "cannot read configuration file: " + why});
        }
        return parseConfig(*text, path);
    } catch (const std::exception& e) {
        return unexpected(ConfigError{path, 0, "", std::string("internal error: ") + e.what()});
    }
}

Expected<Config, ConfigError> loadConfigOrDefault(const std::optional<std::string>& explicitPath,
                                                  const std::string& defaultPath) {
    if (explicitPath) return loadConfig(*explicitPath);
    std::error_code ec;
    auto st = std::filesystem::symlink_status(defaultPath, ec);
    if (st.type() == std::filesystem::file_type::not_found) return defaultConfig();
    return loadConfig(defaultPath);
}

Expected<milliseconds, std::string> parseDuration(std::string_view text) {
    if (text.empty()) return unexpected(std::string("empty; write e.g. \"60s\""));
    auto isDigit = [](char ch) { return ch >= '0' && ch <= '9'; };
    if (std::all_of(text.begin(), text.end(), isDigit)) {
        std::string num(text.substr(0, std::min<std::size_t>(text.size(), 20)));
        return unexpected("add a unit, e.g. \"" + num + "s\"");
    }
    if (text[0] == '-') return unexpected(std::string("must not be negative"));
    if (text[0] == '+') return unexpected(std::string("write it without a sign, e.g. \"60s\""));

    const std::string kUnits = "use ms, s, m, h or d, e.g. \"500ms\", \"60s\", \"1h30m\", \"7d\"";
    std::uint64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!isDigit(text[i])) {
            if (text[i] == ' ' || text[i] == '\t')
                return unexpected("no spaces allowed; " + kUnits);
            return unexpected("expected a number at " + quote(text.substr(i, 1)) + "; " + kUnits);
        }
        std::uint64_t number = 0;
        bool tooLong = false;
        std::size_t start = i;
        while (i < text.size() && isDigit(text[i])) {
            if (number > kMaxDurationMs)
                tooLong = true;  // keep going, but stop growing
            else
                number = number * 10 + static_cast<std::uint64_t>(text[i] - '0');
            ++i;
        }
        std::string_view digits = text.substr(start, i - start);
        if (i < text.size() && (text[i] == '.' || text[i] == ','))
            return unexpected(std::string("no fractions; write e.g. \"1h30m\" or \"1500ms\""));
        std::size_t unitStart = i;
        while (i < text.size() && text[i] != '.' && text[i] != ',' && !isDigit(text[i]) &&
               text[i] != ' ' && text[i] != '\t')
            ++i;
        std::string_view unit = text.substr(unitStart, i - unitStart);
        std::uint64_t scale = 0;
        if (unit == "ms")
            scale = 1;
        else if (unit == "s")
            scale = 1000;
        else if (unit == "m")
            scale = 60'000;
        else if (unit == "h")
            scale = 3'600'000;
        else if (unit == "d")
            scale = kMsPerDay;
        else if (unit.empty())
            return unexpected("add a unit after " + std::string(digits.substr(0, 20)) + "; " +
                              kUnits);
        else
            return unexpected("unknown unit " + quote(unit) + "; " + kUnits);
        if (tooLong || number > kMaxDurationMs / scale)
            return unexpected(std::string("too long; at most 3650d"));
        total += number * scale;
        if (total > kMaxDurationMs) return unexpected(std::string("too long; at most 3650d"));
    }
    return milliseconds(static_cast<milliseconds::rep>(total));
}

std::string formatDuration(milliseconds d) {
    if (d.count() == 0) return "0s";
    std::string out;
    auto left = static_cast<std::uint64_t>(d.count());
    if (d.count() < 0) {
        out = "-";
        left = 0 - left;
    }
    const std::pair<std::uint64_t, const char*> units[] = {
        {kMsPerDay, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    for (const auto& [scale, name] : units) {
        if (left >= scale) {
            out += std::to_string(left / scale) + name;
            left %= scale;
        }
    }
    return out;
}

}  // namespace sscard
