// Callers that are other Unix users: one without any role group, one in the kiosk group. The
// test creates them (idempotently) when it runs as root, and is skipped otherwise.
//
//   user sscard-test-norole   no groups of ours
//   user sscard-test-pos      member of group sscard-test-kiosk (the kiosk role here)
//   group sscard-test-pd      personal_data group (the kiosk user is NOT in it)
#include <doctest/doctest.h>

#include <cstdio>

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/server.hpp"
#include "test/unit/api/server_fixture.hpp"

using namespace sscard;
using namespace sscard::api;
using namespace sscard::api::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kNoRoleUser = "sscard-test-norole";
constexpr const char* kKioskUser = "sscard-test-pos";
constexpr const char* kKioskGroup = "sscard-test-kiosk";
constexpr const char* kPersonalDataGroup = "sscard-test-pd";

bool run(const std::string& command) {
    // Several test processes may run at once; useradd then fails on a locked /etc/passwd.
    for (int attempt = 0; attempt < 20; ++attempt) {
        if (std::system(command.c_str()) == 0) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

// Creates the users and groups if they are missing. False if that is impossible (not root).
bool ensureUsers() {
    if (::geteuid() != 0) return false;
    std::string quiet = " >/dev/null 2>&1";
    return run(std::string("getent group ") + kKioskGroup + quiet + " || groupadd --system " +
               kKioskGroup + quiet) &&
           run(std::string("getent group ") + kPersonalDataGroup + quiet +
               " || groupadd --system " + kPersonalDataGroup + quiet) &&
           run(std::string("getent passwd ") + kNoRoleUser + quiet +
               " || useradd --system --no-create-home --shell /usr/sbin/nologin " + kNoRoleUser +
               quiet) &&
           run(std::string("getent passwd ") + kKioskUser + quiet +
               " || useradd --system --no-create-home --shell /usr/sbin/nologin -G " + kKioskGroup +
               " " + kKioskUser + quiet) &&
           run(std::string("id -nG ") + kKioskUser + " | grep -qw " + kKioskGroup +
               " || usermod -aG " + kKioskGroup + " " + kKioskUser + quiet);
}

struct Account {
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;  // supplementary, as initgroups would set them
};

std::optional<Account> account(const char* name) {
    passwd* pw = ::getpwnam(name);
    if (!pw) return std::nullopt;
    Account a{pw->pw_uid, pw->pw_gid, {}};
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (::getgrouplist(name, pw->pw_gid, groups.data(), &n) < 0) return std::nullopt;
    groups.resize(static_cast<std::size_t>(n));
    a.groups = groups;
    return a;
}

struct Outcome {
    int connect_errno = 0;
    std::vector<json> lines;
    bool eof = false;
};

// Connects as `who` from a child process, sends `request`, and reads until `wantLines` lines,
// EOF, or 3 s. The child uses only system calls (it is forked from a threaded process).
Outcome runAs(const Account& who, const std::string& path, const std::string& request,
              int wantLines) {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(pipefd[0]);
        static char buf[1 << 16];
        int status = 0;  // written first: 0, or the connect errno
        if (::setgroups(who.groups.size(), who.groups.data()) != 0 || ::setgid(who.gid) != 0 ||
            ::setuid(who.uid) != 0)
            ::_exit(3);
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            status = errno;
            ssize_t w = ::write(pipefd[1], &status, sizeof status);
            (void)w;
            ::_exit(0);
        }
        ssize_t w = ::write(pipefd[1], &status, sizeof status);
        (void)w;
        w = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        std::size_t got = 0;
        int lines = 0;
        char eof = 0;
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 3000) <= 0) break;
            ssize_t n = ::recv(fd, buf + got, sizeof buf - got, 0);
            if (n <= 0) {
                eof = 1;
                break;
            }
            for (ssize_t i = 0; i < n; ++i)
                if (buf[got + static_cast<std::size_t>(i)] == '\n') ++lines;
            got += static_cast<std::size_t>(n);
            if (lines >= wantLines) {
                // Anything more coming? (e.g. an EOF right after the last line)
                pollfd q{fd, POLLIN, 0};
                if (::poll(&q, 1, 200) > 0) {
                    char c;
                    if (::recv(fd, &c, 1, MSG_PEEK) == 0) eof = 1;
                }
                break;
            }
        }
        w = ::write(pipefd[1], &eof, 1);
        w = ::write(pipefd[1], buf, got);
        ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string data;
    char tmp[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], tmp, sizeof tmp)) > 0)
        data.append(tmp, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    Outcome o;
    REQUIRE(data.size() >= sizeof(int));
    std::memcpy(&o.connect_errno, data.data(), sizeof(int));
    if (o.connect_errno != 0) return o;
    REQUIRE(data.size() >= sizeof(int) + 1);
    o.eof = data[sizeof(int)] != 0;
    std::istringstream in(data.substr(sizeof(int) + 1));
    std::string line;
    while (std::getline(in, line)) o.lines.push_back(json::parse(line, nullptr, false));
    return o;
}

std::string req(int id, const std::string& method, const json& params = json::object()) {
    return requestLine(id, method, params);
}

ServerOptions options(const TempDir& dir) {
    ServerOptions o;
    o.socket_path = dir.path() + "/sscardd.sock";
    o.roles.kiosk = {kKioskGroup};
    o.roles.admin = {"sscard-test-no-admin-group"};
    o.roles.personal_data = {kPersonalDataGroup};
    return o;  // socket group: the first kiosk group, sscard-test-kiosk
}

// A started server whose methods echo who called, with the socket in `dir`.
std::unique_ptr<Server> startEchoServer(const TempDir& dir) {
    auto server = std::make_unique<Server>(options(dir));
    for (const char* m : {"status", "card.read", "pin.reset", "list.lookup"}) {
        REQUIRE(server->registerMethod(m, [m](const Caller& c, const json&, Reply reply) {
            reply(json{{"method", m},
                       {"role", std::string(roleName(c.role))},
                       {"uid", c.uid},
                       {"personal_data", mayReceivePersonalData(c)}});
        }));
    }
    REQUIRE(server->start());
    return server;
}

// Whether the test users exist (made here when running as root); else the test reports a skip.
bool testUsersReady() {
    if (ensureUsers()) return true;
    std::puts("sscard-test-skip: needs root to create test users");
    return false;
}

}  // namespace

TEST_CASE("a user without a role gets nothing") {
    if (!testUsersReady()) return;
    auto norole = account(kNoRoleUser);
    REQUIRE(norole);
    TempDir dir;
    auto server = startEchoServer(dir);

    // The socket is root:sscard-test-kiosk 0660: the kernel already refuses this user.
    struct stat st {};
    REQUIRE(::lstat(server->socketPath().c_str(), &st) == 0);
    group* kiosk = ::getgrnam(kKioskGroup);
    REQUIRE(kiosk);
    CHECK(st.st_gid == kiosk->gr_gid);
    CHECK((st.st_mode & 0777) == 0660);
    Outcome o = runAs(*norole, server->socketPath(), req(1, "status"), 1);
    CHECK(o.connect_errno == EACCES);

    // With the file opened to everyone, the server itself refuses: one not_allowed error for the
    // first line (whatever it asks), then the connection is closed.
    REQUIRE(::chmod(server->socketPath().c_str(), 0666) == 0);
    o = runAs(*norole, server->socketPath(),
              req(1, "status") + req(2, "readers.list") + req(3, "no.such.method"), 3);
    CHECK(o.connect_errno == 0);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0]["id"] == 1);
    CHECK_FALSE(o.lines[0].contains("result"));
    CHECK(o.lines[0]["error"]["code"] == -32000);
    CHECK(o.lines[0]["error"]["data"]["code"] == "not_allowed");
    CHECK(o.eof);

    // Garbage first: the same answer (not a parse error, which would tell it something).
    o = runAs(*norole, server->socketPath(), "garbage\n", 1);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0]["id"].is_null());
    CHECK(o.lines[0]["error"]["data"]["code"] == "not_allowed");
    CHECK(o.eof);
}

TEST_CASE("a kiosk user gets kiosk methods but not admin ones - no personal data") {
    if (!testUsersReady()) return;
    auto kiosk = account(kKioskUser);
    REQUIRE(kiosk);
    TempDir dir;
    auto server = startEchoServer(dir);

    std::atomic<bool> done{false};
    std::thread ticker([&] {
        while (!done.load()) {
            server->notify("card.checked", json{{"decision", "allow"}, {"holder", {{"name", "X"}}}},
                           [](const json& p) {
                               return json{{"decision", p["decision"]}};
                           });
            std::this_thread::sleep_for(20ms);
        }
    });
    Outcome o = runAs(*kiosk, server->socketPath(),
                      req(1, "status") + req(2, "card.read") + req(3, "pin.reset") +
                          req(4, "list.lookup") + req(5, "no.such.method") +
                          req(6, "events.subscribe") + req(7, "card.read", {{"holder", true}}),
                      9);
    done = true;
    ticker.join();
    REQUIRE(o.connect_errno == 0);
    INFO("answers: " << json(o.lines).dump());
    CHECK_FALSE(o.eof);
    std::map<int, json> byId;
    std::vector<json> notifications;
    for (const json& l : o.lines) {
        if (l.contains("id"))
            byId[l["id"].get<int>()] = l;
        else
            notifications.push_back(l);
    }
    REQUIRE(byId.size() == 7);
    CHECK(byId[1]["result"]["role"] == "kiosk");
    CHECK(byId[1]["result"]["uid"] == kiosk->uid);
    CHECK(byId[2]["result"]["method"] == "card.read");
    CHECK(byId[2]["result"]["personal_data"] == false);
    CHECK(byId[3]["error"]["data"]["code"] == "not_allowed");
    CHECK(byId[4]["error"]["data"]["code"] == "not_allowed");
    CHECK(byId[5]["error"]["code"] == -32601);
    CHECK(byId[6]["result"]["subscribed"] == true);
    // Holder data is the permission table's rule, applied by the server: the handler never runs.
    CHECK(byId[7]["error"]["data"]["code"] == "not_allowed");
    CHECK_FALSE(byId[7].contains("result"));
    REQUIRE_FALSE(notifications.empty());
    for (const json& n : notifications) {
        CHECK(n["method"] == "card.checked");
        CHECK(n["params"] == json{{"decision", "allow"}});  // redacted
    }
}

// Whether the kernel tells a socket's peer groups (SO_PEERGROUPS) right: a child process with
// three known groups asks about itself. Under qemu-user the answer is ERANGE or garbage, whatever
// the size (the server then falls back to the user database, which cannot pass this test).
static bool peerGroupsWork() {
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
        std::vector<gid_t> set{4242, 4343, 4444};
        if (::setgroups(set.size(), set.data()) != 0) ::_exit(2);
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) ::_exit(2);
        std::vector<gid_t> told(256);
        socklen_t bytes = static_cast<socklen_t>(told.size() * sizeof(gid_t));
        if (::getsockopt(sv[0], SOL_SOCKET, SO_PEERGROUPS, told.data(), &bytes) != 0) ::_exit(1);
        told.resize(bytes / sizeof(gid_t));
        std::sort(told.begin(), told.end());
        ::_exit(told == set ? 0 : 1);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST_CASE("groups count as the caller's process has them, not as /etc/group lists them") {
    if (!testUsersReady()) return;
    if (!peerGroupsWork()) {
        std::puts("sscard-test-skip: this kernel (or emulator) does not answer SO_PEERGROUPS");
        return;
    }
    auto kiosk = account(kKioskUser);
    REQUIRE(kiosk);
    TempDir dir;
    auto server = startEchoServer(dir);

    // The same user with the personal-data group in its credentials gets holder data.
    group* pd = ::getgrnam(kPersonalDataGroup);
    REQUIRE(pd);
    Account withPd = *kiosk;
    withPd.groups.push_back(pd->gr_gid);
    Outcome o = runAs(withPd, server->socketPath(), req(1, "card.read", {{"holder", true}}), 1);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0]["result"]["role"] == "kiosk");
    CHECK(o.lines[0]["result"]["personal_data"] == true);

    // Groups count as the process has them, not as /etc/group lists them: without its
    // supplementary groups the kiosk user has no role. (It cannot even open the socket, so
    // open it to everyone first.)
    Account dropped = *kiosk;
    dropped.groups.clear();
    o = runAs(dropped, server->socketPath(), req(1, "status"), 1);
    CHECK(o.connect_errno == EACCES);
    REQUIRE(::chmod(server->socketPath().c_str(), 0666) == 0);
    o = runAs(dropped, server->socketPath(), req(1, "status"), 1);
    CHECK(o.connect_errno == 0);
    REQUIRE(o.lines.size() == 1);
    CHECK(o.lines[0]["error"]["data"]["code"] == "not_allowed");
}
