// The local API server (docs/api.md#transport): transport, framing, who the caller
// is, what it may call, and dispatch to the handlers the service registers. The service logic
// (cards, decisions, the list) lives elsewhere and plugs in through registerMethod().
//
// Transport: a Unix stream socket at [api] socket. start() creates the parent directory if it is
// missing (mode 0755), removes a stale socket left by a dead daemon (only a socket nobody answers
// on; anything else there is an error), binds it with mode 0660 and gives it the group
// `ServerOptions::socket_group` (default: the first [roles] kiosk group that exists). Clients must
// be able to open it: put kiosk and admin users in that group (admins in another group need the
// socket group too, or a different socket_group that both are in); root can always connect.
//
// Framing: JSON-RPC 2.0, one JSON object per line (jsonrpc.hpp). Requests with an id get exactly
// one response line; notifications (no id) get none, except that malformed lines always get an
// error with id null. Batches are rejected (-32600). A line longer than max_line gets -32600
// "request too large" and the connection is closed after that answer. A client may half-close
// (shutdown(SHUT_WR)) after its requests and still receives the answers.
//
// Who may do what: each connection's Caller is fixed at accept (permissions.hpp; group ids are
// turned into names through NSS on the I/O thread, so keep the role groups in /etc/group or
// another fast source). A caller with no role gets nothing: its first line, whatever it is, is
// answered with one not_allowed error (with the request's id if it had one, else null; never a
// parse error or "method not found", which would tell it something) and the connection is closed.
// A role-less connection that sends nothing just sits idle like any other. Otherwise each request's
// method is looked up in the permission table first: a method the caller's role does not allow gets
// not_allowed (-32000, data.code "not_allowed"); a method not in the table, or one without a
// registered handler, gets -32601.
//
// Dispatch: handlers run on worker threads (a pool that grows on demand up to max_workers), never
// on the I/O thread, so a call that takes seconds of card I/O does not delay anyone else. A
// connection has at most max_inflight calls running; further lines wait in its buffer (the server
// stops reading from it) until one finishes. Responses may therefore come out of order when a
// client pipelines requests; match them by id.
//
// Slow clients: each connection's unsent output is capped at max_output bytes; a client that stops
// reading and exceeds it is disconnected. One I/O thread (epoll) serves every connection with
// non-blocking sockets, so no client can block another. At most max_clients connections, and at
// most max_clients_per_user from one Unix user (SO_PEERCRED uid): the next one gets one busy error
// line (id null) and is closed. A connection that holds a partial line (bytes without their '\n')
// for longer than line_timeout is closed: a half-sent request cannot pin a connection slot.
//
// Under abuse: when accept() fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM), the listener is taken out of epoll for accept_pause, then put back, so a full
// descriptor table never turns the I/O thread into a busy loop; connections already open keep
// working. When epoll itself fails, the I/O thread ends, failed() turns true and on_failure runs
// (the service then exits with an error status, for systemd to restart it).
//
// Secrets: request bytes (which may hold PINs) are wiped before their memory is given back: handled
// lines, partial lines of closed connections, refused requests and their parsed parameters.
//
// Subscriptions: `events.subscribe` (kiosk) is handled here: it marks the connection, answers
// {"subscribed": true}, and from then on notify() lines go to it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/api/jsonrpc.hpp"
#include "daemon/api/permissions.hpp"

namespace sscard::api {

struct ServerOptions {
    std::string socket_path = "/run/sscard/sscardd.sock";
    RolesConfig roles;
    // The socket file's group. nullopt: the first roles.kiosk group that exists (unchanged if
    // none does); "": leave it as created; a name: that group (start() fails if it is unknown).
    // Changing the group needs root or membership of the group; a failure is only logged.
    std::optional<std::string> socket_group;
    std::size_t max_clients = 256;
    std::size_t max_clients_per_user = 32;  // connections of one uid ([api] max_clients_per_user)
    std::chrono::milliseconds line_timeout{10000};  // a partial line may wait this long
    std::chrono::milliseconds accept_pause{250};    // listener rest after EMFILE and the like
    std::size_t max_line = 64 * 1024;               // bytes per request line, without the '\n'
    std::size_t max_output = 1024 * 1024;           // unsent bytes per connection before disconnect
    std::size_t max_workers = 16;                   // handler threads (created as needed)
    std::size_t max_inflight = 8;                   // running calls per connection
    // Called on the I/O thread when a connection closes, with its Caller::connection (state a
    // connection owns, such as an HSM read session, ends with it). Must be quick. May be empty.
    std::function<void(std::uint64_t connection)> on_disconnect;
    // Warnings (e.g. a slow client disconnected); no personal data is ever passed. May be empty.
    std::function<void(std::string_view)> log;
    // Called once, on the I/O thread, when the server can no longer serve (epoll failed), with
    // what failed. May be empty.
    std::function<void(std::string_view)> on_failure;

    // socket_path, max_clients_per_user from [api], roles from [roles]; the rest at the
    // defaults above.
    static ServerOptions fromConfig(const Config& config);
};

// How a handler answers: call it exactly once, from any thread, with a result or an error. Later
// calls are ignored (and return false). If every copy is destroyed without an answer, the caller
// gets an internal error. For a notification (no id), the answer is dropped.
class Reply {
  public:
    bool operator()(nlohmann::json result) const;
    bool operator()(const Error& error) const;
    bool error(JsonRpcErrorObject error) const;  // any JSON-RPC error (e.g. -32602)
    bool answered() const;

    // A Reply that hands the answer to `sink` instead of a connection: for testing handlers
    // without a server. The sink runs on the thread that answers; an unanswered Reply gives it
    // an internal error when its last copy goes.
    using Sink = std::function<void(Expected<nlohmann::json, JsonRpcErrorObject> answer)>;
    static Reply to(Sink sink);

    struct State;
    explicit Reply(std::shared_ptr<State> state) : state_(std::move(state)) {}

  private:
    std::shared_ptr<State> state_;
};

// params is the request's "params": an object or an array (an empty object if it had none).
// Exceptions a handler throws become an internal error for the caller (never escape).
using Handler =
    std::function<void(const Caller& caller, const nlohmann::json& params, Reply reply)>;

// For notify(): what callers without the right to personal data get instead of `params`.
using Redactor = std::function<nlohmann::json(const nlohmann::json& params)>;

class Server {
  public:
    explicit Server(ServerOptions options);
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Before start(). False (and nothing registered) if the method is not in the permission table
    // or is handled by the server itself (events.subscribe). A second registration replaces the
    // first.
    [[nodiscard]] bool registerMethod(std::string method, Handler handler);

    // internal error naming the first method of the permission table that has no handler
    // (events.subscribe is the server's own): the service checks this before start().
    Expected<void, Error> checkHandlers() const;

    // Binds the socket and starts the I/O thread (once: a stopped server does not restart; make
    // a new one). Errors: ErrorCode::internal with a message
    // naming the path and the reason (another sscardd already listening, not a socket, ...).
    Expected<void, Error> start();

    // Asks the I/O thread to stop. Async-signal-safe (an atomic store and a write(2)); may be
    // called from a signal handler once start() has returned. stop() still has to be called.
    void requestStop() noexcept;

    // Closes the listener and every connection, waits for the threads (including handlers still
    // running: they should be short or watch their own cancellation), and removes the socket file
    // if it is still ours. Idempotent; not from a handler or a signal handler.
    void stop();

    // A JSON-RPC notification to every subscribed connection, from any thread. With a redactor,
    // subscribers that may not receive personal data (mayReceivePersonalData) get
    // redact(params) instead; without one, everybody gets params. A subscriber too slow to keep
    // up is disconnected (max_output). Before start() and after stop(), nothing is sent.
    void notify(std::string_view method, const nlohmann::json& params, const Redactor& redact = {});

    // Connections open now (for tests and status).
    std::size_t clientCount() const;
    // True once the I/O thread ended because epoll failed (not after a requested stop).
    bool failed() const;
    const std::string& socketPath() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sscard::api
