#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"

using namespace sscard;
using namespace std::chrono_literals;

namespace {

ConfigError errorOf(std::string_view text) {
    auto r = parseConfig(text, "test.toml");
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

Config parsed(std::string_view text) {
    auto r = parseConfig(text, "test.toml");
    if (!r) FAIL("unexpected error: " << r.error().toString());
    return *r;
}

// A scratch directory removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sscard-config-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, std::string_view text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

}  // namespace

TEST_CASE("defaults are the contract's") {
    Config c = defaultConfig();
    CHECK(c.list.feed_url.empty());
    CHECK(c.list.trusted_keys.empty());
    CHECK(c.list.database == "/var/lib/sscard/list.db");
    CHECK(c.list.ca_file.empty());
    CHECK(c.list.poll_interval == 60s);
    CHECK(c.list.grace == 24h);
    CHECK(c.list.stale_policy == StalePolicy::deny);
    CHECK(c.nfc.devices.empty());
    CHECK(c.readers.prefer == ReaderPreference::contact);
    CHECK(c.api.socket == "/run/sscard/sscardd.sock");
    CHECK(c.backend.url.empty());
    CHECK(c.backend.terminal_id.empty());
    CHECK(c.backend.ca_file.empty());
    CHECK(c.roles.kiosk == std::vector<std::string>{"sscard-kiosk"});
    CHECK(c.roles.admin == std::vector<std::string>{"sscard-admin"});
    CHECK(c.roles.personal_data.empty());
    CHECK(c.log.level == LogLevel::info);
    CHECK_FALSE(c.log.apdu_trace);
    CHECK(c.source.empty());
    CHECK(std::string(kDefaultConfigPath) == "/etc/sscard/sscardd.toml");
}

TEST_CASE("an empty file, or one with only comments, gives the defaults") {
    CHECK(parsed("") == defaultConfig());
    CHECK(parsed("# nothing here\n\n   \n") == defaultConfig());
    CHECK(parsed("[list]\n[nfc]\n") == defaultConfig());
    CHECK(parsed("").source == "test.toml");
}

TEST_CASE("a full valid file") {
    Config c = parsed(R"(
[list]
feed_url = "https://lists.example/feed/"
trusted_keys = ["/etc/sscard/feed.pub", "/etc/sscard/feed-next.pub"]
database = "/srv/sscard/list.db"
ca_file = "/etc/sscard/ca.pem"
poll_interval = "30s"
grace = "1h30m"
stale_policy = "allow"
threshold = 2
max_clock_skew = "1m"
sync_timeout = "20m"

[nfc]
devices = ["pn532_uart:/dev/ttyS0", "pn532_uart:/dev/ttyUSB0:115200"]

[readers]
prefer = "contactless"

[api]
socket = "/run/sscard/other.sock"

[backend]
url = "http://127.0.0.1:8080/events"
terminal_id = "POS-0042"
ca_file = "/etc/sscard/backend-ca.pem"
allow_insecure_http = true
auth = "client_cert"
client_cert = "/etc/sscard/terminal.crt"
client_key = "/etc/sscard/terminal.key"

[roles]
kiosk = ["kiosk", "pos"]
admin = []
personal_data = ["pos"]

[log]
level = "debug"
apdu_trace = true
)");
    CHECK(c.list.feed_url == "https://lists.example/feed/");
    CHECK(c.list.trusted_keys ==
          std::vector<std::string>{"/etc/sscard/feed.pub", "/etc/sscard/feed-next.pub"});
    CHECK(c.list.database == "/srv/sscard/list.db");
    CHECK(c.list.ca_file == "/etc/sscard/ca.pem");
    CHECK(c.list.poll_interval == 30s);
    CHECK(c.list.grace == 90min);
    CHECK(c.list.stale_policy == StalePolicy::allow);
    CHECK(c.nfc.devices ==
          std::vector<std::string>{"pn532_uart:/dev/ttyS0", "pn532_uart:/dev/ttyUSB0:115200"});
    CHECK(c.readers.prefer == ReaderPreference::contactless);
    CHECK(c.api.socket == "/run/sscard/other.sock");
    CHECK(c.backend.url == "http://127.0.0.1:8080/events");
    CHECK(c.backend.terminal_id == "POS-0042");
    CHECK(c.backend.ca_file == "/etc/sscard/backend-ca.pem");
    CHECK(c.backend.allow_insecure_http);
    CHECK(c.backend.auth == BackendAuth::client_cert);
    CHECK(c.backend.client_cert == "/etc/sscard/terminal.crt");
    CHECK(c.backend.client_key == "/etc/sscard/terminal.key");
    CHECK(c.list.threshold == 2);
    CHECK(c.list.max_clock_skew == 60s);
    CHECK(c.list.sync_timeout == 20min);
    CHECK_FALSE(c.list.allow_insecure_http);
    CHECK(c.roles.kiosk == std::vector<std::string>{"kiosk", "pos"});
    CHECK(c.roles.admin.empty());
    CHECK(c.roles.personal_data == std::vector<std::string>{"pos"});
    CHECK(c.log.level == LogLevel::debug);
    CHECK(c.log.apdu_trace);
}

TEST_CASE("dotted keys and inline tables are the same TOML") {
    Config c = parsed("list.poll_interval = \"5m\"\nreaders = { prefer = \"contactless\" }\n");
    CHECK(c.list.poll_interval == 5min);
    CHECK(c.readers.prefer == ReaderPreference::contactless);
}

TEST_CASE("the example file parses and equals the defaults") {
    std::string path = std::string(SSCARD_SOURCE_DIR) + "/config/sscardd.toml.example";
    auto r = loadConfig(path);
    if (!r) FAIL(r.error().toString());
    CHECK(*r == defaultConfig());
    CHECK(r->source == path);
}

TEST_CASE("ConfigError::toString is FILE:LINE: KEY: MESSAGE") {
    CHECK(ConfigError{"/etc/sscard/sscardd.toml", 7, "list.poll_interval", "bad"}.toString() ==
          "/etc/sscard/sscardd.toml:7: list.poll_interval: bad");
    CHECK(ConfigError{"f.toml", 0, "", "cannot read"}.toString() == "f.toml: cannot read");
    CHECK(ConfigError{"f.toml", 3, "", "syntax"}.toString() == "f.toml:3: syntax");
    Error e = toError(ConfigError{"f.toml", 3, "api.socket", "x"});
    CHECK(e.code == ErrorCode::config);
    CHECK(e.message == "f.toml:3: api.socket: x");
    CHECK(exitStatus(e.code) == 2);
}

TEST_CASE("a duration without a unit is an error with a hint") {
    auto e = errorOf("[list]\n\n\n\n\n\npoll_interval = \"60\"\n");
    CHECK(e.file == "test.toml");
    CHECK(e.line == 7);
    CHECK(e.key == "list.poll_interval");
    CHECK(e.toString() ==
          R"(test.toml:7: list.poll_interval: bad duration "60": add a unit, e.g. "60s")");

    e = errorOf("[list]\npoll_interval = 60\n");
    CHECK(e.line == 2);
    CHECK(e.key == "list.poll_interval");
    CHECK(e.message == R"(bad duration 60: add a unit and quotes, e.g. "60s")");

    e = errorOf("[list]\ngrace = -5\n");
    CHECK(e.message == "bad duration -5: must not be negative");

    e = errorOf("[list]\ngrace = 1.5\n");
    CHECK(e.key == "list.grace");
    CHECK(e.message.find("\"1m30s\"") != std::string::npos);
}

TEST_CASE("poll_interval is at least one second") {
    auto e = errorOf("[list]\npoll_interval = \"500ms\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "list.poll_interval");
    CHECK(e.message == "must be at least 1s, got 500ms");
    CHECK(parsed("[list]\npoll_interval = \"1s\"\n").list.poll_interval == 1s);
    CHECK(parsed("[list]\ngrace = \"0s\"\n").list.grace == 0s);
}

TEST_CASE("unknown keys and tables name file, line and key, with a suggestion") {
    auto e = errorOf("# comment\n[list]\nfeed_urll = \"https://x/\"\n");
    CHECK(e.toString() == R"(test.toml:3: list.feed_urll: unknown key (did you mean "feed_url"?))");

    e = errorOf("[list]\npoll_interval = \"60s\"\n\n[lists]\nfeed_url = \"\"\n");
    CHECK(e.line == 4);
    CHECK(e.key == "lists");
    CHECK(e.message == R"(unknown table (did you mean "list"?))");

    e = errorOf("[readers]\nPrefer = \"contact\"\n");
    CHECK(e.key == "readers.Prefer");
    CHECK(e.message == R"(unknown key (did you mean "prefer"?))");

    e = errorOf("[list]\nsocket = \"/run/x.sock\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "list.socket");
    CHECK(e.message == "unknown key (did you mean api.socket, in [api]?)");

    e = errorOf("poll_interval = \"60s\"\n");
    CHECK(e.line == 1);
    CHECK(e.key == "poll_interval");
    CHECK(e.message == "unknown key (did you mean list.poll_interval, in [list]?)");

    e = errorOf("a = 1\n");  // too short to be a typo of "api"
    CHECK(e.message == "unknown key");

    e = errorOf("[list]\nwhatever = 1\n");
    CHECK(e.message == "unknown key");

    e = errorOf("[list.extra]\nx = 1\n");
    CHECK(e.line == 1);
    CHECK(e.key == "list.extra");
    CHECK(e.message == "unknown table");

    e = errorOf("\"odd key\" = 1\n");
    CHECK(e.key == R"("odd key")");
}

TEST_CASE("the first error in the file is the one reported") {
    // toml++ keeps keys sorted; errors must still come in file order.
    auto e = errorOf("[roles]\nzzz = 1\n[api]\naaa = 1\n");
    CHECK(e.line == 2);
    CHECK(e.key == "roles.zzz");
}

TEST_CASE("wrong types name what was expected and what was found") {
    auto e = errorOf("[list]\nfeed_url = 42\n");
    CHECK(e.line == 2);
    CHECK(e.key == "list.feed_url");
    CHECK(e.message == "expected a string, got an integer");

    e = errorOf("[list]\ntrusted_keys = \"/etc/sscard/feed.pub\"\n");
    CHECK(e.key == "list.trusted_keys");
    CHECK(e.message ==
          R"(expected an array of strings, got a string (write ["/etc/sscard/feed.pub"]))");

    e = errorOf("[roles]\nkiosk = [\"sscard\",\n  7]\n");
    CHECK(e.line == 3);
    CHECK(e.key == "roles.kiosk[1]");
    CHECK(e.message == "expected a string, got an integer");

    e = errorOf("[log]\napdu_trace = \"yes\"\n");
    CHECK(e.key == "log.apdu_trace");
    CHECK(e.message ==
          R"(expected a boolean (true or false, without quotes), got the string "yes")");

    e = errorOf("[log]\napdu_trace = 1\n");
    CHECK(e.message == "expected a boolean (true or false), got an integer");

    e = errorOf("list = 3\n");
    CHECK(e.line == 1);
    CHECK(e.key == "list");
    CHECK(e.message == "expected a table ([list]), got an integer");

    e = errorOf("[[nfc]]\ndevices = []\n");
    CHECK(e.key == "nfc");
    CHECK(e.message == "expected a table ([nfc]), got an array");

    e = errorOf("[api]\nsocket = 1979-05-27\n");
    CHECK(e.message == "expected a string, got a date");
}

TEST_CASE("bad values name the key and the allowed values") {
    auto e = errorOf("[list]\nstale_policy = \"maybe\"\n");
    CHECK(e.toString() ==
          R"(test.toml:2: list.stale_policy: bad value "maybe": must be "deny" or "allow")");

    e = errorOf("[readers]\nprefer = \"both\"\n");
    CHECK(e.key == "readers.prefer");
    CHECK(e.message == R"(bad value "both": must be "contact" or "contactless")");

    e = errorOf("[log]\nlevel = \"trace\"\n");
    CHECK(e.message == R"(bad value "trace": must be "error", "warn", "info" or "debug")");

    e = errorOf("[api]\nsocket = \"run/sscardd.sock\"\n");
    CHECK(e.key == "api.socket");
    CHECK(e.message ==
          R"(bad path "run/sscardd.sock": must be an absolute path (starting with /))");

    e = errorOf("[api]\nsocket = \"/" + std::string(120, 'a') + "\"\n");
    CHECK(e.key == "api.socket");
    CHECK(e.message.find("Unix sockets allow at most 107") != std::string::npos);

    e = errorOf("[list]\nfeed_url = \"ftp://lists.example/feed/\"\n");
    CHECK(e.key == "list.feed_url");
    CHECK(
        e.message ==
        R"(bad URL "ftp://lists.example/feed/": must be empty or an http:// or https:// URL with a host)");

    e = errorOf("[backend]\nurl = \"https:///x\"\nterminal_id = \"T1\"\n");
    CHECK(e.key == "backend.url");

    e = errorOf("[list]\ndatabase = \"\"\n");
    CHECK(e.key == "list.database");
    CHECK(e.message == "must not be empty; give an absolute path");

    e = errorOf("[list]\nca_file = \"ca.pem\"\n");
    CHECK(e.key == "list.ca_file");

    e = errorOf("[list]\ntrusted_keys = [\"/etc/sscard/a.pub\", \"b.pub\"]\n");
    CHECK(e.key == "list.trusted_keys[1]");

    e = errorOf("[roles]\nadmin = [\"wheel\", \"bad group\"]\n");
    CHECK(e.key == "roles.admin[1]");
    CHECK(e.message == R"(bad group name "bad group")");

    e = errorOf("[roles]\npersonal_data = [\"pharmacy\", \"a:b\"]\n");
    CHECK(e.line == 2);
    CHECK(e.key == "roles.personal_data[1]");
    CHECK(e.message == R"(bad group name "a:b")");

    e = errorOf("[roles]\npersonal_data = \"pharmacy\"\n");
    CHECK(e.key == "roles.personal_data");

    e = errorOf("[backend]\nterminal_id = \"a\\nb\"\n");
    CHECK(e.key == "backend.terminal_id");
    CHECK(e.message == R"(bad value "a\x0Ab": contains a control character)");

    e = errorOf("[api]\nsocket = \"/run/a\\u0000b\"\n");
    CHECK(e.key == "api.socket");
}

TEST_CASE("nfc.devices are libnfc connection strings") {
    auto e = errorOf("[nfc]\ndevices = [\"\"]\n");
    CHECK(e.line == 2);
    CHECK(e.key == "nfc.devices[0]");
    CHECK(
        e.message ==
        R"(bad libnfc connection string "": must be "driver:port", e.g. "pn532_uart:/dev/ttyS0")");
    CHECK(errorOf("[nfc]\ndevices = [\"pn532_uart\"]\n").key == "nfc.devices[0]");
    CHECK(errorOf("[nfc]\ndevices = [\"pn532_uart:\"]\n").key == "nfc.devices[0]");
    CHECK(errorOf("[nfc]\ndevices = [\":/dev/ttyS0\"]\n").key == "nfc.devices[0]");

    e = errorOf(
        "[nfc]\ndevices = [\n  \"pn532_uart:/dev/ttyS0\",\n  \"pn532_uart:/dev/ttyS0\",\n]\n");
    CHECK(e.line == 4);
    CHECK(e.key == "nfc.devices[1]");
    CHECK(e.message == R"("pn532_uart:/dev/ttyS0" is listed twice (also on line 3))");
}

TEST_CASE("plain http needs an explicit allow_insecure_http, per table") {
    auto e =
        errorOf("[list]\ntrusted_keys = [\"/k.pub\"]\nfeed_url = \"http://lists.example/feed/\"\n");
    CHECK(e.line == 3);
    CHECK(e.key == "list.feed_url");
    CHECK(e.message.find("list.allow_insecure_http = true") != std::string::npos);
    Config c = parsed(
        "[list]\ntrusted_keys = [\"/k.pub\"]\nfeed_url = \"HTTP://lists.example/feed/\"\n"
        "allow_insecure_http = true\n");
    CHECK(c.list.allow_insecure_http);

    e = errorOf(
        "[backend]\nterminal_id = \"T\"\nurl = \"http://b.example/e\"\n"
        "[list]\nallow_insecure_http = true\n");
    CHECK(e.line == 3);
    CHECK(e.key == "backend.url");
    CHECK(e.message.find("backend.allow_insecure_http = true") != std::string::npos);
    c = parsed(
        "[backend]\nterminal_id = \"T\"\nurl = \"http://b.example/e\"\n"
        "allow_insecure_http = true\n");
    CHECK(c.backend.url == "http://b.example/e");
}

TEST_CASE("credentials in a bad URL are not repeated in the error") {
    auto e = errorOf("[list]\nfeed_url = \"ftp://user:hunter2@lists.example/\"\n");
    CHECK(e.key == "list.feed_url");
    CHECK(e.toString().find("hunter2") == std::string::npos);
    CHECK(e.toString().find("ftp://***@lists.example/") != std::string::npos);
}

TEST_CASE("threshold and backend authentication need their companions") {
    auto e = errorOf("[list]\ntrusted_keys = [\"/a.pub\"]\nthreshold = 2\n");
    CHECK(e.line == 3);
    CHECK(e.key == "list.threshold");
    e = errorOf("[list]\nthreshold = 0\n");
    CHECK(e.key == "list.threshold");
    e = errorOf("[list]\nsync_timeout = \"1s\"\n");
    CHECK(e.key == "list.sync_timeout");

    e = errorOf("[backend]\nauth = \"client_cert\"\nclient_cert = \"/c.pem\"\n");
    CHECK(e.key == "backend.client_key");
    e = errorOf("[backend]\nauth = \"client_cert\"\nclient_key = \"/k.pem\"\n");
    CHECK(e.key == "backend.client_cert");
    e = errorOf("[backend]\nauth = \"hmac\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "backend.hmac_key_file");
    e = errorOf("[backend]\nauth = \"password\"\n");
    CHECK(e.key == "backend.auth");
    Config c = parsed("[backend]\nauth = \"hmac\"\nhmac_key_file = \"/etc/sscard/backend.key\"\n");
    CHECK(c.backend.auth == BackendAuth::hmac);
    CHECK(c.backend.hmac_key_file == "/etc/sscard/backend.key");
}

TEST_CASE("keys that need each other") {
    auto e = errorOf("[list]\nfeed_url = \"https://lists.example/feed/\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "list.trusted_keys");

    e = errorOf("[list]\nfeed_url = \"https://lists.example/feed/\"\ntrusted_keys = []\n");
    CHECK(e.line == 3);
    CHECK(e.key == "list.trusted_keys");

    e = errorOf("[backend]\nurl = \"https://backend.example/events\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "backend.terminal_id");
    CHECK(e.message == "must not be empty when backend.url is set (it goes into every event)");
}

TEST_CASE("TOML syntax errors carry toml++'s line") {
    auto e = errorOf("[list]\nfeed_url = \"https://x/\"\npoll_interval = \n");
    CHECK(e.file == "test.toml");
    CHECK(e.line == 3);
    CHECK(e.key.empty());
    CHECK(e.message.rfind("TOML syntax error: ", 0) == 0);

    e = errorOf("[list]\n[list]\n");
    CHECK(e.line == 2);

    e = errorOf("[api]\nsocket = \"/a\"\nsocket = \"/b\"\n");
    CHECK(e.line == 3);

    e = errorOf("\xFF\xFE = 1\n");
    CHECK(e.line == 1);
}

TEST_CASE("durations: good") {
    CHECK(*parseDuration("500ms") == 500ms);
    CHECK(*parseDuration("60s") == 60s);
    CHECK(*parseDuration("5m") == 5min);
    CHECK(*parseDuration("24h") == 24h);
    CHECK(*parseDuration("7d") == 7 * 24h);
    CHECK(*parseDuration("1h30m") == 90min);
    CHECK(*parseDuration("1d2h3m4s5ms") == 24h + 2h + 3min + 4s + 5ms);
    CHECK(*parseDuration("0s") == 0ms);
    CHECK(*parseDuration("3650d") == 3650 * 24h);
    CHECK(*parseDuration("0001s") == 1s);
}

TEST_CASE("durations: bad") {
    auto bad = [](std::string_view s) {
        auto r = parseDuration(s);
        REQUIRE_FALSE(r.has_value());
        return r.error();
    };
    CHECK(bad("60") == R"(add a unit, e.g. "60s")");
    CHECK(bad("") == R"(empty; write e.g. "60s")");
    CHECK(bad("-5s") == "must not be negative");
    CHECK(bad("+5s").find("without a sign") != std::string::npos);
    CHECK(bad("1.5h").find("no fractions") != std::string::npos);
    CHECK(bad("60S").find(R"(unknown unit "S")") == 0);
    CHECK(bad("5min").find(R"(unknown unit "min")") == 0);
    CHECK(bad("1h30").find("add a unit after 30") == 0);
    CHECK(bad("1h 30m").find("no spaces") == 0);
    CHECK(bad("h").find("expected a number") == 0);
    CHECK(bad("3651d").find("too long") == 0);
    CHECK(bad("3650d1ms").find("too long") == 0);
    CHECK(bad("99999999999999999999999999s").find("too long") == 0);
}

TEST_CASE("formatDuration reads back") {
    CHECK(formatDuration(0ms) == "0s");
    CHECK(formatDuration(500ms) == "500ms");
    CHECK(formatDuration(90s) == "1m30s");
    CHECK(formatDuration(24h) == "1d");
    CHECK(formatDuration(-2s) == "-2s");
    for (auto d :
         {1ms, 1001ms, std::chrono::milliseconds(90061001), std::chrono::milliseconds(3600000)})
        CHECK(*parseDuration(formatDuration(d)) == d);
}

TEST_CASE("enum names") {
    CHECK(std::string(stalePolicyName(StalePolicy::allow)) == "allow");
    CHECK(std::string(readerPreferenceName(ReaderPreference::contactless)) == "contactless");
    CHECK(std::string(logLevelName(LogLevel::warn)) == "warn");
}

TEST_CASE("loadConfig reads a file and names it in errors") {
    TempDir dir;
    std::string good = dir.write("good.toml", "[readers]\nprefer = \"contactless\"\n");
    auto r = loadConfig(good);
    REQUIRE(r.has_value());
    CHECK(r->readers.prefer == ReaderPreference::contactless);
    CHECK(r->source == good);

    std::string bad = dir.write("bad.toml", "[readers]\nprefer = \"both\"\n");
    auto e = loadConfig(bad);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().file == bad);
    CHECK(e.error().line == 2);

    auto missing = loadConfig((dir.path / "missing.toml").string());
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().line == 0);
    CHECK(missing.error().toString() == (dir.path / "missing.toml").string() +
                                            ": cannot read configuration file: No such file or "
                                            "directory");

    auto isDir = loadConfig(dir.path.string());
    REQUIRE_FALSE(isDir.has_value());
    CHECK(isDir.error().message.find("cannot read") == 0);

    std::string big = dir.write("big.toml", std::string(2 * 1024 * 1024, '#'));
    auto tooBig = loadConfig(big);
    REQUIRE_FALSE(tooBig.has_value());
    CHECK(tooBig.error().message.find("larger than") != std::string::npos);
}

TEST_CASE("a missing explicit file is an error, a missing default file means defaults") {
    TempDir dir;
    std::string missing = (dir.path / "sscardd.toml").string();

    auto explicitMissing = loadConfigOrDefault(missing, "/nonexistent/default.toml");
    REQUIRE_FALSE(explicitMissing.has_value());
    CHECK(explicitMissing.error().file == missing);

    auto defaultMissing = loadConfigOrDefault(std::nullopt, missing);
    REQUIRE(defaultMissing.has_value());
    CHECK(*defaultMissing == defaultConfig());
    CHECK(defaultMissing->source.empty());

    std::string present = dir.write("sscardd.toml", "[list]\npoll_interval = \"2m\"\n");
    auto defaultPresent = loadConfigOrDefault(std::nullopt, present);
    REQUIRE(defaultPresent.has_value());
    CHECK(defaultPresent->list.poll_interval == 2min);
    CHECK(defaultPresent->source == present);

    std::string broken = dir.write("broken.toml", "[list\n");
    CHECK_FALSE(loadConfigOrDefault(std::nullopt, broken).has_value());

    // A dangling symlink at the default path is not "missing": it is reported.
    std::filesystem::create_symlink(dir.path / "nowhere.toml", dir.path / "link.toml");
    CHECK_FALSE(loadConfigOrDefault(std::nullopt, (dir.path / "link.toml").string()).has_value());

    auto explicitPresent = loadConfigOrDefault(present, missing);
    REQUIRE(explicitPresent.has_value());
    CHECK(explicitPresent->list.poll_interval == 2min);
}

TEST_CASE("an unreadable default file is an error, not the defaults") {
    if (geteuid() == 0) return;  // root reads anything
    TempDir dir;
    std::string path = dir.write("sscardd.toml", "");
    REQUIRE(chmod(path.c_str(), 0) == 0);
    auto r = loadConfigOrDefault(std::nullopt, path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("Permission denied") != std::string::npos);
}

TEST_CASE("outbox and audit extension keys: defaults and values") {
    Config d = defaultConfig();
    CHECK(d.backend.outbox == "/var/lib/sscard/outbox.db");
    CHECK(d.audit.retention == 90 * 24h);
    CHECK(d.audit.max_entries == 1'000'000);

    Config c = parsed(R"(
[backend]
outbox = "/srv/sscard/outbox.db"

[audit]
retention = "30d"
max_entries = 5000
)");
    CHECK(c.backend.outbox == "/srv/sscard/outbox.db");
    CHECK(c.audit.retention == 30 * 24h);
    CHECK(c.audit.max_entries == 5000);
    CHECK(c != d);
    CHECK(parsed("[audit]\nretention = \"1h\"\nmax_entries = 1\n").audit.max_entries == 1);
    CHECK(parsed("audit.max_entries = 1000000000\n").audit.max_entries == 1'000'000'000);
}

TEST_CASE("outbox and audit extension keys: errors name file, line and key") {
    auto e = errorOf("[backend]\nurl = \"\"\noutbox = \"outbox.db\"\n");
    CHECK(e.line == 3);
    CHECK(e.key == "backend.outbox");
    CHECK(e.message.find("absolute") != std::string::npos);

    e = errorOf("[backend]\noutbox = \"\"\n");
    CHECK(e.key == "backend.outbox");
    CHECK(e.line == 2);

    e = errorOf("[audit]\nretention = \"90s\"\n");
    CHECK(e.line == 2);
    CHECK(e.key == "audit.retention");
    CHECK(e.message == "must be at least 1h, got 1m30s");

    e = errorOf("[audit]\n\nretention = 90\n");
    CHECK(e.line == 3);
    CHECK(e.key == "audit.retention");
    CHECK(e.message.find("\"90s\"") != std::string::npos);

    e = errorOf("[audit]\nmax_entries = 0\n");
    CHECK(e.line == 2);
    CHECK(e.key == "audit.max_entries");
    CHECK(e.message == "bad value 0: must be 1 to 1000000000");

    e = errorOf("[audit]\nmax_entries = 1000000001\n");
    CHECK(e.key == "audit.max_entries");

    e = errorOf("[audit]\nmax_entries = \"1000\"\n");
    CHECK(e.key == "audit.max_entries");
    CHECK(e.message == "expected an integer (without quotes), got the string \"1000\"");

    e = errorOf("[audit]\nmax_entries = 1.5\n");
    CHECK(e.message == "expected an integer (1 to 1000000000), got a floating-point number");

    e = errorOf("[audit]\nmax_entry = 10\n");
    CHECK(e.key == "audit.max_entry");
    CHECK(e.message == "unknown key (did you mean \"max_entries\"?)");

    e = errorOf("[backend]\nretention = \"90d\"\n");
    CHECK(e.key == "backend.retention");
    CHECK(e.message.find("audit.retention") != std::string::npos);
}

TEST_CASE("[keys] extension: defaults, a PSAM, and the software key file's explicit opt-in") {
    Config d = defaultConfig();
    CHECK(d.keys.source == KeySourceKind::none);
    CHECK(d.keys.psam_aid == "D15600000590");
    CHECK(d.keys.psam_levels == 2);
    CHECK(d.keys.psam_puk_usage == 0x27);

    Config c = parsed(R"(
[keys]
source = "psam"
psam_reader = "ACS ACR39U SAM 00 00"
psam_levels = 3
psam_puk_usage = 0x30
psam_puk_key = 2
card_puk_id = 0x0B
)");
    CHECK(c.keys.source == KeySourceKind::psam);
    CHECK(c.keys.psam_reader == "ACS ACR39U SAM 00 00");
    CHECK(c.keys.psam_levels == 3);
    CHECK(c.keys.psam_puk_usage == 0x30);
    CHECK(c.keys.psam_puk_key == 2);
    CHECK(c.keys.card_puk_id == 0x0B);
    CHECK(c != d);

    Config f = parsed(
        "[keys]\nsource = \"file\"\nfile = \"/etc/sscard/lab-keys\"\nallow_software_keys = true\n");
    CHECK(f.keys.source == KeySourceKind::file);
    CHECK(f.keys.file == "/etc/sscard/lab-keys");
    CHECK(keySourceName(f.keys.source) == "file");
}

TEST_CASE("[keys] errors name file, line and key") {
    auto e = errorOf("[keys]\nsource = \"psam\"\n");
    CHECK(e.key == "keys.psam_reader");
    CHECK(e.line == 2);

    e = errorOf("[keys]\nsource = \"file\"\nfile = \"/etc/sscard/lab-keys\"\n");
    CHECK(e.key == "keys.allow_software_keys");
    CHECK(e.message.find("labs and tests only") != std::string::npos);

    e = errorOf("[keys]\nsource = \"file\"\nallow_software_keys = true\n");
    CHECK(e.key == "keys.file");

    e = errorOf("[keys]\nsource = \"hsm\"\n");
    CHECK(e.key == "keys.source");
    CHECK(e.message.find("\"psam\"") != std::string::npos);

    e = errorOf("[keys]\npsam_levels = 4\n");
    CHECK(e.key == "keys.psam_levels");
    e = errorOf("[keys]\npsam_puk_usage = 256\n");
    CHECK(e.key == "keys.psam_puk_usage");
    e = errorOf("[keys]\npsam_aid = \"D156\"\n");
    CHECK(e.key == "keys.psam_aid");
    e = errorOf("[keys]\nfile = \"keys.txt\"\n");
    CHECK(e.message.find("absolute") != std::string::npos);
    e = errorOf("[keys]\nallow_software_keys = \"yes\"\n");
    CHECK(e.key == "keys.allow_software_keys");
}

TEST_CASE("[pin] extension: attempts and lengths") {
    CHECK(defaultConfig().pin.attempts_per_minute == 5);
    Config c = parsed("[pin]\nattempts_per_minute = 30\nmin_length = 4\nmax_length = 8\n");
    CHECK(c.pin.attempts_per_minute == 30);
    CHECK(c.pin.min_length == 4);
    CHECK(c.pin.max_length == 8);
    auto e = errorOf("[pin]\nmin_length = 8\nmax_length = 6\n");
    CHECK(e.key == "pin.min_length");
    CHECK(e.line == 2);
    CHECK(errorOf("[pin]\nattempts_per_minute = 0\n").key == "pin.attempts_per_minute");
    CHECK(errorOf("[pin]\nmax_length = 17\n").key == "pin.max_length");
}

TEST_CASE("3rd-generation keys, [hsm] and unreadable_number: defaults, values, bad values") {
    Config d = defaultConfig();
    CHECK(d.keys.psam_read_usage == 0x28);
    CHECK(d.keys.psam_internal_usage == 0x2B);
    CHECK(d.keys.psam_read_key_des == 0x02);
    CHECK(d.keys.card_read_id == 0x0A);
    CHECK(d.keys.card_internal_id == 0x09);
    CHECK_FALSE(d.keys.authenticate_cards);
    CHECK(d.hsm.session_timeout == std::chrono::seconds(30));
    CHECK(d.list.unreadable_number == UnreadableNumberPolicy::deny);

    Config c = parsed(R"(
[list]
unreadable_number = "allow"
[keys]
psam_read_usage = 0x31
psam_read_key = 3
psam_read_key_des = 4
psam_internal_key = 5
card_read_id = 0x0B
card_internal_id = 0x0C
authenticate_cards = true
[hsm]
session_timeout = "45s"
)");
    CHECK(c.list.unreadable_number == UnreadableNumberPolicy::allow);
    CHECK(c.keys.psam_read_usage == 0x31);
    CHECK(c.keys.psam_read_key == 3);
    CHECK(c.keys.psam_read_key_des == 4);
    CHECK(c.keys.psam_internal_key == 5);
    CHECK(c.keys.card_read_id == 0x0B);
    CHECK(c.keys.card_internal_id == 0x0C);
    CHECK(c.keys.authenticate_cards);
    CHECK(c.hsm.session_timeout == std::chrono::seconds(45));

    auto e = errorOf("[keys]\ncard_read_id = 256\n");
    CHECK(e.key == "keys.card_read_id");
    e = errorOf("[hsm]\nsession_timeout = \"1h\"\n");
    CHECK(e.key == "hsm.session_timeout");
    e = errorOf("[list]\nunreadable_number = \"maybe\"\n");
    CHECK(e.key == "list.unreadable_number");
}

TEST_CASE("[api] max_clients_per_user and [backend] max_events: defaults, values, ranges") {
    Config d = defaultConfig();
    CHECK(d.api.max_clients_per_user == 32);
    CHECK(d.backend.max_events == 100'000);
    CHECK(parsed("[api]\nmax_clients_per_user = 4\n").api.max_clients_per_user == 4);
    CHECK(parsed("[backend]\nmax_events = 100\n").backend.max_events == 100);
    CHECK(errorOf("[api]\nmax_clients_per_user = 0\n").key == "api.max_clients_per_user");
    CHECK(errorOf("[api]\nmax_clients_per_user = 257\n").key == "api.max_clients_per_user");
    CHECK(errorOf("[backend]\nmax_events = 99\n").key == "backend.max_events");
}
