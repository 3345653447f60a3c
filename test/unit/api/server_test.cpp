// The API server over a real Unix socket in a temporary directory (the test runs as whoever runs
// it; as root, the caller is admin).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/client.hpp"
#include "daemon/api/server.hpp"
#include "test/unit/api/api_client.hpp"
#include "test/unit/api/server_fixture.hpp"

using namespace sscard;
using namespace sscard::api;
using namespace sscard::api::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

ServerOptions optionsIn(const TempDir& dir) {
    ServerOptions o;
    o.socket_path = dir.path() + "/run/sscard/api.sock";
    o.socket_group = "";  // leave the group alone (no sscard group needed here)
    // Whoever runs the tests gets the admin role through its primary group, root or not.
    o.roles.admin = {};
    if (auto names = groupNames(std::vector<gid_t>{getgid()}); !names.empty())
        o.roles.admin = names;
    return o;
}

void registerStatus(Server& s) {
    REQUIRE(s.registerMethod("status", [](const Caller& c, const json&, Reply reply) {
        reply(json{{"version", "test"}, {"role", std::string(roleName(c.role))}});
    }));
}

json expectResponse(LineClient& c, const json& id) {
    auto j = c.readJson();
    REQUIRE(j);
    CHECK((*j)["jsonrpc"] == "2.0");
    CHECK((*j)["id"] == id);
    return *j;
}

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return cond();
}

}  // namespace

TEST_CASE("start creates the directory and a 0660 socket - a call round-trips - stop removes it") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    auto started = server.start();
    REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error().message));

    struct stat st {};
    REQUIRE(::lstat(server.socketPath().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    REQUIRE(::stat((dir.path() + "/run/sscard").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);

    LineClient c(server.socketPath());
    REQUIRE(c.connected());
    REQUIRE(c.call(1, "status"));
    json r = expectResponse(c, 1);
    CHECK(r["result"]["version"] == "test");
    CHECK(r["result"]["role"] == "admin");
    CHECK(waitFor([&] { return server.clientCount() == 1; }));

    server.stop();
    CHECK(c.closedByPeer());
    CHECK(::lstat(server.socketPath().c_str(), &st) != 0);
    server.stop();  // idempotent
}

TEST_CASE("a slow handler does not block another client's status") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.registerMethod("card.read", [](const Caller&, const json&, Reply reply) {
        std::this_thread::sleep_for(1500ms);
        reply(json{{"card", nullptr}});
    }));
    REQUIRE(server.start());

    LineClient slow(server.socketPath());
    LineClient quick(server.socketPath());
    REQUIRE(slow.call("r", "card.read"));
    std::this_thread::sleep_for(50ms);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(quick.call(2, "status"));
    expectResponse(quick, 2);
    // Generous: the slow call never answers on its own, so any bound shows the quick one was not
    // queued behind it; a loaded CI machine must not fail this.
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    // The slow client itself can also ask for the status meanwhile (out of order answers).
    REQUIRE(slow.call(3, "status"));
    expectResponse(slow, 3);
    json r = expectResponse(slow, "r");
    CHECK(r["result"]["card"].is_null());
}

TEST_CASE("garbage, unknown methods and huge lines get JSON-RPC errors - the server survives") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.start());

    LineClient c(server.socketPath());
    REQUIRE(c.sendRaw("this is not json\n"));
    json e = expectResponse(c, nullptr);
    CHECK(e["error"]["code"] == -32700);

    REQUIRE(c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}\r\n"));
    CHECK(expectResponse(c, 1)["error"]["code"] == -32601);
    REQUIRE(c.sendRaw("\n   \n[1,2]\n"));  // blank lines skipped; a batch rejected
    e = expectResponse(c, nullptr);
    CHECK(e["error"]["code"] == -32600);
    REQUIRE(c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"status\",\"params\":3}\n"));
    CHECK(expectResponse(c, 2)["error"]["code"] == -32600);
    // In the table but nobody registered it.
    REQUIRE(c.call(3, "list.sync"));
    CHECK(expectResponse(c, 3)["error"]["code"] == -32601);
    REQUIRE(c.sendRaw(std::string("\x00\x01\xff\xfe{{{\n", 8)));
    CHECK(expectResponse(c, nullptr)["error"]["code"] == -32700);
    // Still fine on the same connection.
    REQUIRE(c.call(4, "status"));
    CHECK(expectResponse(c, 4)["result"]["version"] == "test");

    // A 1 MB line: one error, then the connection is closed.
    LineClient big(server.socketPath());
    std::string line = R"({"jsonrpc":"2.0","id":9,"method":"status","params":{"x":")";
    line += std::string(1024 * 1024, 'a');
    line += "\"}}\n";
    std::thread writer([&] { big.sendRaw(line); });  // may fail half-way: the server closes
    e = expectResponse(big, nullptr);
    CHECK(e["error"]["code"] == -32600);
    CHECK(e["error"]["message"].get<std::string>().find("too large") != std::string::npos);
    CHECK(big.closedByPeer());
    writer.join();

    // A huge line without any newline at all.
    LineClient endless(server.socketPath());
    std::thread writer2([&] { endless.sendRaw(std::string(200 * 1024, '{')); });
    CHECK(expectResponse(endless, nullptr)["error"]["code"] == -32600);
    CHECK(endless.closedByPeer());
    writer2.join();

    // The server and other clients are unharmed.
    REQUIRE(c.call(5, "status"));
    expectResponse(c, 5);
    LineClient fresh(server.socketPath());
    REQUIRE(fresh.call(6, "status"));
    expectResponse(fresh, 6);
}

TEST_CASE("notifications get no response - handler errors and exceptions are answered") {
    TempDir dir;
    Server server(optionsIn(dir));
    std::atomic<int> calls{0};
    REQUIRE(server.registerMethod("status", [&](const Caller&, const json&, Reply reply) {
        ++calls;
        reply(json{{"ok", true}});
    }));
    REQUIRE(server.registerMethod("pin.verify", [](const Caller&, const json& p, Reply reply) {
        if (!p.contains("pin")) {
            reply(makeError(ErrorCode::usage, "pin is required"));
            return;
        }
        reply(
            Error{ErrorCode::pin_wrong, "wrong PIN", 2, std::nullopt, std::nullopt, std::nullopt});
        CHECK_FALSE(reply(json{{"ok", true}}));  // a second answer is ignored
    }));
    REQUIRE(server.registerMethod(
        "card.check", [](const Caller&, const json&, Reply) { throw std::runtime_error("boom"); }));
    REQUIRE(server.registerMethod("card.read", [](const Caller&, const json&, Reply) {
        // never answers
    }));
    CHECK_FALSE(server.registerMethod("no.such.method", [](const Caller&, const json&, Reply) {}));
    CHECK_FALSE(
        server.registerMethod("events.subscribe", [](const Caller&, const json&, Reply) {}));
    REQUIRE(server.start());
    CHECK_FALSE(server.registerMethod("status", [](const Caller&, const json&, Reply) {}));

    LineClient c(server.socketPath());
    REQUIRE(c.sendRaw("{\"jsonrpc\":\"2.0\",\"method\":\"status\"}\n"));
    CHECK(waitFor([&] { return calls.load() == 1; }));
    REQUIRE(c.call(1, "pin.verify", json{{"pin", "1234"}}));
    json r = expectResponse(c, 1);
    CHECK(r["error"] == json{{"code", -32000},
                             {"message", "wrong PIN"},
                             {"data", {{"code", "pin_wrong"}, {"tries_left", 2}}}});
    REQUIRE(c.call(2, "pin.verify", json::object()));
    r = expectResponse(c, 2);
    CHECK(r["error"]["code"] == -32602);
    CHECK(r["error"]["data"]["code"] == "usage");
    REQUIRE(c.call(3, "card.check"));
    r = expectResponse(c, 3);
    CHECK(r["error"]["code"] == -32603);
    CHECK(r["error"]["message"] == "internal error");  // no exception text leaks out
    REQUIRE(c.call(4, "card.read"));
    CHECK(expectResponse(c, 4)["error"]["code"] == -32603);
    // The notification got nothing: the next line is the answer to 5.
    REQUIRE(c.call(5, "status"));
    expectResponse(c, 5);
}

TEST_CASE("notifications reach subscribers only, with redaction for callers without rights") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.start());

    LineClient sub(server.socketPath());
    LineClient other(server.socketPath());
    REQUIRE(sub.call(1, "events.subscribe"));
    CHECK(expectResponse(sub, 1)["result"] == json{{"subscribed", true}});
    REQUIRE(other.call(1, "status"));
    expectResponse(other, 1);

    json params = {{"reader", "R1"}, {"holder", {{"name", "X"}}}};
    server.notify("card.inserted", params, [](const json& p) {
        return json{{"reader", p["reader"]}};
    });
    auto n = sub.readJson();
    REQUIRE(n);
    CHECK(*n == json{{"jsonrpc", "2.0"}, {"method", "card.inserted"}, {"params", params}});
    CHECK_FALSE(n->contains("id"));
    CHECK_FALSE(other.readLine(300ms));

    // From other threads, many at once: all arrive, in order per sender thread.
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t)
        senders.emplace_back([&server, t] {
            for (int i = 0; i < 50; ++i) server.notify("tick", json{{"t", t}, {"i", i}});
        });
    for (auto& t : senders) t.join();
    std::vector<int> last(4, -1);
    for (int k = 0; k < 200; ++k) {
        auto m = sub.readJson();
        REQUIRE(m);
        int t = (*m)["params"]["t"];
        int i = (*m)["params"]["i"];
        CHECK(i == last[static_cast<std::size_t>(t)] + 1);
        last[static_cast<std::size_t>(t)] = i;
    }
}

TEST_CASE("a client that stops reading is disconnected without blocking others") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.max_output = 256 * 1024;
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());

    LineClient stuck(server.socketPath());
    int small = 4096;
    ::setsockopt(stuck.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    REQUIRE(stuck.call(1, "events.subscribe"));
    expectResponse(stuck, 1);
    LineClient reader(server.socketPath());
    REQUIRE(reader.call(1, "events.subscribe"));
    expectResponse(reader, 1);
    LineClient quick(server.socketPath());
    REQUIRE(waitFor([&] { return server.clientCount() == 3; }));

    std::atomic<bool> done{false};
    std::atomic<int> received{0};
    std::thread drain([&] {
        while (!done.load())
            if (reader.readLine(100ms)) ++received;
    });
    json payload = {{"blob", std::string(16 * 1024, 'x')}};
    for (int i = 0; i < 200; ++i) {
        server.notify("list.updated", payload);
        if (i % 20 == 0) {
            REQUIRE(quick.call(i, "status"));
            auto t0 = std::chrono::steady_clock::now();
            expectResponse(quick, i);
            CHECK(std::chrono::steady_clock::now() - t0 < 10s);  // generous: see above
        }
    }
    CHECK(waitFor([&] { return server.clientCount() == 2; }));
    CHECK(waitFor([&] { return received.load() == 200; }));
    done = true;
    drain.join();
    // What the stuck client finds when it finally reads: some lines, then the end.
    CHECK(stuck.closedByPeer());
}

TEST_CASE("half-close: answers still arrive, then the server closes") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.start());
    LineClient c(server.socketPath());
    REQUIRE(c.sendRaw(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"status\"}"));  // the last without '\n'
    ::shutdown(c.fd(), SHUT_WR);
    std::set<int> ids;
    for (int i = 0; i < 2; ++i) {
        auto r = c.readJson();
        REQUIRE(r);
        ids.insert((*r)["id"].get<int>());
    }
    CHECK(ids == std::set<int>{1, 2});
    CHECK(c.closedByPeer());
}

TEST_CASE("pipelined requests beyond max_inflight all get answers") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.max_inflight = 2;
    o.max_workers = 2;
    Server server(o);
    REQUIRE(server.registerMethod("status", [](const Caller&, const json& p, Reply reply) {
        std::this_thread::sleep_for(5ms);
        reply(p);
    }));
    REQUIRE(server.start());
    LineClient c(server.socketPath());
    std::string batch;
    for (int i = 0; i < 40; ++i) batch += requestLine(i, "status", json{{"n", i}});
    REQUIRE(c.sendRaw(batch));
    std::set<int> ids;
    for (int i = 0; i < 40; ++i) {
        auto r = c.readJson();
        REQUIRE(r);
        CHECK((*r)["result"]["n"] == (*r)["id"]);
        ids.insert((*r)["id"].get<int>());
    }
    CHECK(ids.size() == 40);
}

TEST_CASE("more than max_clients: the next one gets busy and is closed") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.max_clients = 2;
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());
    LineClient a(server.socketPath()), b(server.socketPath());
    REQUIRE(waitFor([&] { return server.clientCount() == 2; }));
    LineClient c(server.socketPath());
    auto e = c.readJson();
    REQUIRE(e);
    CHECK((*e)["error"]["data"]["code"] == "busy");
    CHECK(c.closedByPeer());
    a.close();
    REQUIRE(waitFor([&] { return server.clientCount() == 1; }));
    LineClient d(server.socketPath());
    REQUIRE(d.call(1, "status"));
    expectResponse(d, 1);
}

TEST_CASE("stale sockets are replaced - live ones and other files are not") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.socket_path = dir.path() + "/api.sock";

    // A socket file left behind by a process that is gone.
    {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, o.socket_path.data(), o.socket_path.size());
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
        ::close(fd);
    }
    Server first(o);
    registerStatus(first);
    auto r = first.start();
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));

    // A second server on the same path: refused, and the first keeps its socket.
    Server second(o);
    r = second.start();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("another process is listening") != std::string::npos);
    second.stop();
    LineClient c(o.socket_path);
    REQUIRE(c.call(1, "status"));
    expectResponse(c, 1);
    first.stop();

    // A regular file is never removed.
    { std::ofstream(o.socket_path) << "data"; }
    Server third(o);
    r = third.start();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("not a socket") != std::string::npos);
    struct stat st {};
    REQUIRE(::lstat(o.socket_path.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));

    // An unknown socket_group is an error.
    ServerOptions g = optionsIn(dir);
    g.socket_group = "sscard-no-such-group";
    Server fourth(g);
    r = fourth.start();
    REQUIRE_FALSE(r.has_value());
    CHECK(::lstat(g.socket_path.c_str(), &st) != 0);  // and it leaves no socket behind
}

TEST_CASE("stop while a handler runs and after it keeps its Reply") {
    TempDir dir;
    Server server(optionsIn(dir));
    std::mutex m;
    std::vector<Reply> kept;
    REQUIRE(server.registerMethod("card.read", [&](const Caller&, const json&, Reply reply) {
        std::lock_guard lock(m);
        kept.push_back(reply);
    }));
    REQUIRE(server.registerMethod("status", [](const Caller&, const json&, Reply reply) {
        std::this_thread::sleep_for(300ms);
        reply(json{});
    }));
    REQUIRE(server.start());
    LineClient c(server.socketPath());
    REQUIRE(c.call(1, "card.read"));
    REQUIRE(waitFor([&] {
        std::lock_guard lock(m);
        return kept.size() == 1;
    }));
    REQUIRE(c.call(2, "status"));
    std::this_thread::sleep_for(50ms);
    auto t0 = std::chrono::steady_clock::now();
    server.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);  // the held handler does not block stop()
    CHECK(c.closedByPeer());
    // Answering after stop is harmless.
    CHECK(kept[0](json{{"late", true}}));
    server.notify("card.removed", json::object());
}

TEST_CASE("requestStop from another thread, then stop") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.start());
    std::thread([&] { server.requestStop(); }).join();
    server.stop();
    struct stat st {};
    CHECK(::lstat(server.socketPath().c_str(), &st) != 0);
}

TEST_CASE("the blocking Client: calls, contract errors, notifications") {
    TempDir dir;
    Server server(optionsIn(dir));
    registerStatus(server);
    REQUIRE(server.registerMethod("pin.verify", [](const Caller&, const json&, Reply reply) {
        reply(
            Error{ErrorCode::pin_wrong, "wrong PIN", 1, std::nullopt, std::nullopt, std::nullopt});
    }));
    REQUIRE(server.start());

    auto client = Client::connect(server.socketPath());
    REQUIRE(client);
    auto r = client->call("status");
    REQUIRE(r);
    CHECK((*r)["version"] == "test");

    r = client->call("pin.verify", json{{"pin", "000000"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::pin_wrong);
    CHECK(r.error().tries_left == 1);
    CHECK(r.error().message == "wrong PIN");

    r = client->call("list.sync");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::internal);  // -32601: not a contract failure

    auto none = client->nextNotification(100ms);
    REQUIRE(none);
    CHECK_FALSE(*none);
    REQUIRE(client->call("events.subscribe"));
    server.notify("reader.added", json{{"reader", "R"}});
    auto n = client->nextNotification(5s);
    REQUIRE(n);
    REQUIRE(*n);
    CHECK((**n)["method"] == "reader.added");
    // A notification that arrives while a call waits is kept for later.
    server.notify("reader.removed", json{{"reader", "R"}});
    std::this_thread::sleep_for(50ms);
    REQUIRE(client->call("status"));
    n = client->nextNotification(0ms);
    REQUIRE(n);
    REQUIRE(*n);
    CHECK((**n)["method"] == "reader.removed");

    auto missing = Client::connect(dir.path() + "/nothing.sock");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::internal);
    CHECK(missing.error().message.find("nothing.sock") != std::string::npos);

    server.stop();
    r = client->call("status", json::object(), 2s);
    REQUIRE_FALSE(r);
}

TEST_CASE("Reply::to tests handlers without a server") {
    std::vector<Expected<json, JsonRpcErrorObject>> got;
    auto sink = [&got](Expected<json, JsonRpcErrorObject> a) { got.push_back(std::move(a)); };
    {
        Reply r = Reply::to(sink);
        CHECK_FALSE(r.answered());
        CHECK(r(json{{"ok", true}}));
        CHECK(r.answered());
        CHECK_FALSE(r(makeError(ErrorCode::busy, "x")));
    }
    REQUIRE(got.size() == 1);
    REQUIRE(got[0]);
    CHECK(*got[0] == json{{"ok", true}});

    Reply::to(sink)(
        Error{ErrorCode::pin_wrong, "wrong", 3, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(got.size() == 2);
    REQUIRE_FALSE(got[1]);
    CHECK(got[1].error().data == json{{"code", "pin_wrong"}, {"tries_left", 3}});

    { Reply dropped = Reply::to(sink); }
    REQUIRE(got.size() == 3);
    REQUIRE_FALSE(got[2]);
    CHECK(got[2].error().code == kInternalError);
}

TEST_CASE("more than max_clients_per_user from one uid: busy - other slots stay usable") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.max_clients_per_user = 2;
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());
    LineClient a(server.socketPath()), b(server.socketPath());
    REQUIRE(waitFor([&] { return server.clientCount() == 2; }));
    LineClient c(server.socketPath());
    auto e = c.readJson();
    REQUIRE(e);
    CHECK((*e)["error"]["data"]["code"] == "busy");
    CHECK((*e)["error"]["message"].get<std::string>().find("this user") != std::string::npos);
    CHECK(c.closedByPeer());
    CHECK(server.clientCount() == 2);
    REQUIRE(a.call(1, "status"));
    expectResponse(a, 1);
    b.close();
    REQUIRE(waitFor([&] { return server.clientCount() == 1; }));
    LineClient d(server.socketPath());
    REQUIRE(d.call(2, "status"));
    expectResponse(d, 2);
}

TEST_CASE("a half-sent line is cut off after line_timeout - whole lines are not") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.line_timeout = 300ms;
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());
    LineClient idle(server.socketPath());     // sends nothing: may stay
    LineClient partial(server.socketPath());  // half a request, then silence
    LineClient trickle(server.socketPath());  // a byte now and then, never the '\n'
    LineClient whole(server.socketPath());
    REQUIRE(
        partial.sendRaw(R"({"jsonrpc":"2.0","id":1,"method":"pin.verify","params":{"pin":"12)"));
    auto start = std::chrono::steady_clock::now();
    REQUIRE(trickle.sendRaw("{"));
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(100ms);
        (void)trickle.sendRaw(" ");
    }
    CHECK(partial.closedByPeer(3s));
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(trickle.closedByPeer(3s));
    REQUIRE(whole.call(7, "status"));
    expectResponse(whole, 7);
    std::this_thread::sleep_for(500ms);
    REQUIRE(whole.call(8, "status"));
    expectResponse(whole, 8);
    REQUIRE(idle.call(9, "status"));
    expectResponse(idle, 9);
}

namespace {

// CPU time of the whole process (user + system), for telling a busy loop from a sleeping one.
std::chrono::microseconds processCpuTime() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto tv = [](const timeval& t) {
        return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
    };
    return std::chrono::duration_cast<std::chrono::microseconds>(tv(u.ru_utime) + tv(u.ru_stime));
}

// The process's epoll descriptors, by number.
std::set<int> epollFds() {
    std::set<int> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(e.path(), ec);
        if (!ec && target.string() == "anon_inode:[eventpoll]")
            fds.insert(std::stoi(e.path().filename().string()));
    }
    return fds;
}

}  // namespace

TEST_CASE("accept failing with EMFILE does not spin - connections resume once descriptors free") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    o.accept_pause = 100ms;
    std::vector<std::string> logged;
    std::mutex logMutex;
    o.log = [&](std::string_view m) {
        std::lock_guard lock(logMutex);
        logged.emplace_back(m);
    };
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());
    LineClient before(server.socketPath());
    REQUIRE(before.call(1, "status"));
    expectResponse(before, 1);

    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = 64;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    // Every free descriptor but one taken: the client's socket gets it, the server's accept none.
    std::vector<int> fillers;
    for (;;) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        fillers.push_back(fd);
    }
    REQUIRE(!fillers.empty());
    ::close(fillers.back());
    fillers.pop_back();
    LineClient blocked(server.socketPath());
    REQUIRE(blocked.connected());
    REQUIRE(blocked.call(2, "status"));

    auto cpuBefore = processCpuTime();
    std::this_thread::sleep_for(1s);
    auto cpuUsed = processCpuTime() - cpuBefore;
    CHECK(cpuUsed < 200ms);  // a spinning accept loop burns the whole second
    {
        std::lock_guard lock(logMutex);
        bool paused = false;
        for (const auto& m : logged)
            paused = paused || m.find("not accepting") != std::string::npos;
        CHECK(paused);
    }
    REQUIRE(before.call(3, "status"));  // the open connection still works
    expectResponse(before, 3);

    for (int fd : fillers) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    expectResponse(blocked, 2);  // accepted once the pause is over
    CHECK_FALSE(server.failed());
}

TEST_CASE("an epoll failure ends the I/O thread with failed() and on_failure") {
    TempDir dir;
    ServerOptions o = optionsIn(dir);
    std::atomic<int> failures{0};
    std::string reason;
    std::mutex reasonMutex;
    o.on_failure = [&](std::string_view why) {
        std::lock_guard lock(reasonMutex);
        reason = why;
        ++failures;
    };
    auto epollBefore = epollFds();
    Server server(o);
    registerStatus(server);
    REQUIRE(server.start());
    std::set<int> ours;
    for (int fd : epollFds())
        if (epollBefore.count(fd) == 0) ours.insert(fd);
    REQUIRE(ours.size() == 1);
    CHECK_FALSE(server.failed());

    // The server's epoll descriptor now names /dev/null: its next epoll_wait fails (EINVAL).
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(devnull >= 0);
    REQUIRE(::dup2(devnull, *ours.begin()) == *ours.begin());
    ::close(devnull);
    server.notify("card.removed", json{{"reader", "x"}});  // wakes the I/O thread
    REQUIRE(waitFor([&] { return server.failed(); }));
    CHECK(failures.load() == 1);
    {
        std::lock_guard lock(reasonMutex);
        CHECK(reason.find("epoll_wait") != std::string::npos);
    }
    server.stop();
}
