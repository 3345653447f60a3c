#include "daemon/api/server.hpp"

#include <grp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/errno_text.hpp"
#include "base/worker_pool.hpp"
#include "crypto/wipe.hpp"

namespace sscard::api {

namespace {

using nlohmann::json;

Error failure(const std::string& path, const std::string& what, int err) {
    return makeError(ErrorCode::internal,
                     "API socket " + path + ": " + what + (err ? ": " + errnoText(err) : ""));
}

constexpr std::uint64_t kListenerTag = 0;
constexpr std::uint64_t kWakeTag = 1;
constexpr std::uint64_t kFirstClientId = 2;

// A line for the I/O thread to send to one connection (`line` may be empty), and whether it
// finishes one of that connection's running calls.
struct Outgoing {
    std::uint64_t client = 0;
    std::string line;
    bool finishes_call = false;
};

struct Broadcast {
    std::string full;      // for callers that may receive personal data
    std::string redacted;  // for the others
};

// What handlers' replies and notify() share with the I/O thread. Outlives the server when a
// handler keeps its Reply: posting after stop() is a no-op.
struct Shared {
    std::mutex mutex;
    bool stopped = true;  // until start(): nothing to post to
    int wake_fd = -1;
    std::vector<Outgoing> outgoing;
    std::vector<Broadcast> broadcasts;

    void wakeLocked() const {
        std::uint64_t one = 1;
        ssize_t n = ::write(wake_fd, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is already non-zero, the loop wakes anyway
    }
    void post(Outgoing o) {
        std::lock_guard lock(mutex);
        if (stopped) return;
        outgoing.push_back(std::move(o));
        wakeLocked();
    }
    void broadcast(Broadcast b) {
        std::lock_guard lock(mutex);
        if (stopped) return;
        broadcasts.push_back(std::move(b));
        wakeLocked();
    }
};

// Creates the missing directories of `dir` (mode 0755).
bool makeParents(const std::string& dir, int& err) {
    if (dir.empty()) return true;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return true;
        err = ENOTDIR;
        return false;
    }
    auto slash = dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0 && !makeParents(dir.substr(0, slash), err))
        return false;
    if (::mkdir(dir.c_str(), 0755) != 0) {
        if (errno == EEXIST) return true;
        err = errno;
        return false;
    }
    // 0755 whatever the umask (the service runs with 0077): clients must reach the socket.
    if (::chmod(dir.c_str(), 0755) != 0) {
        err = errno;
        return false;
    }
    return true;
}

// Appends to a buffer that may hold PINs: when the buffer has to grow, the old memory is wiped
// before it is freed (std::string would just free it).
void appendWiping(std::string& buffer, std::string_view more) {
    if (buffer.size() + more.size() > buffer.capacity()) {
        std::string bigger;
        bigger.reserve(std::max(buffer.capacity() * 2, buffer.size() + more.size()));
        bigger = buffer;
        crypto::wipe(buffer);
        buffer = std::move(bigger);
    }
    buffer.append(more);
}

bool isResourceShortage(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

sockaddr_un socketAddress(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

}  // namespace

// ---- Reply ----------------------------------------------------------------------------------

struct Reply::State {
    std::shared_ptr<Shared> shared;  // null for Reply::to()
    Reply::Sink sink;                // set for Reply::to()
    std::uint64_t client = 0;
    std::optional<json> id;
    std::atomic<bool> answered{false};

    bool claim() { return !answered.exchange(true); }
    void post(std::string line) {
        if (shared) shared->post(Outgoing{client, id ? std::move(line) : std::string(), true});
    }
    bool sendResult(json result) {
        if (!claim()) return false;
        if (sink) {
            sink(std::move(result));
        } else {
            post(id ? responseLine(*id, result) : std::string());
        }
        return true;
    }
    bool sendError(JsonRpcErrorObject e) {
        if (!claim()) return false;
        e.id = id ? *id : json();
        if (sink) {
            sink(unexpected(std::move(e)));
        } else {
            post(id ? errorLine(e) : std::string());
        }
        return true;
    }
    ~State() {
        if (!answered.load()) {
            try {
                sendError(makeJsonRpcError(kInternalError,
                                           "internal error: the method gave no answer",
                                           {{"code", "internal"}}));
            } catch (...) {  // a destructor must not throw (e.g. bad_alloc, a throwing sink)
            }
        }
    }
};

Reply Reply::to(Sink sink) {
    auto state = std::make_shared<State>();
    state->sink = std::move(sink);
    state->id = json(0);
    return Reply(std::move(state));
}

bool Reply::operator()(json result) const {
    if (!state_) return false;
    return state_->sendResult(std::move(result));
}

bool Reply::operator()(const Error& error) const {
    if (!state_) return false;
    return state_->sendError(toJsonRpcError(error));
}

bool Reply::error(JsonRpcErrorObject error) const {
    if (!state_) return false;
    return state_->sendError(std::move(error));
}

bool Reply::answered() const {
    return state_ && state_->answered.load();
}

// ---- the server -----------------------------------------------------------------------------

ServerOptions ServerOptions::fromConfig(const Config& config) {
    ServerOptions o;
    o.socket_path = config.api.socket;
    o.max_clients_per_user = static_cast<std::size_t>(config.api.max_clients_per_user);
    o.roles = config.roles;
    return o;
}

struct Server::Impl {
    using SteadyClock = std::chrono::steady_clock;
    struct Client {
        int fd = -1;
        Caller caller;
        std::string in;
        std::string out;
        std::size_t out_offset = 0;
        std::size_t inflight = 0;
        bool subscribed = false;
        bool closing = false;      // close once `out` is sent (nothing more is read)
        bool read_closed = false;  // the client shut down its sending side
        std::uint32_t events = 0;  // what epoll watches now
        // When the partial line at the end of `in` began (nullopt: `in` ends with a whole line).
        std::optional<SteadyClock::time_point> partial_since;
    };

    explicit Impl(ServerOptions o)
        : options(std::move(o)), pool(WorkerPoolOptions{options.max_workers, 0}) {}

    ServerOptions options;
    std::map<std::string, Handler, std::less<>> handlers;
    std::shared_ptr<Shared> shared = std::make_shared<Shared>();
    WorkerPool pool;

    int listen_fd = -1;
    int epoll_fd = -1;
    int wake_fd = -1;
    dev_t socket_dev = 0;
    ino_t socket_ino = 0;
    bool started = false;
    bool stopped = false;
    std::atomic<bool> stop_requested{false};
    std::thread io;

    std::unordered_map<std::uint64_t, Client> clients;       // I/O thread only
    std::unordered_map<uid_t, std::size_t> clients_per_uid;  // I/O thread only
    std::uint64_t next_id = kFirstClientId;
    std::atomic<std::size_t> client_count{0};
    std::atomic<bool> io_failed{false};
    // The listener is out of epoll until then (accept ran out of descriptors or memory).
    std::optional<SteadyClock::time_point> listener_paused_until;

    void log(const std::string& message) const {
        if (options.log) options.log(message);
    }

    // ---- setup ----

    Expected<void, Error> bindSocket() {
        const std::string& path = options.socket_path;
        if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
            return unexpected(failure(path, "path empty or too long for a Unix socket", 0));
        int err = 0;
        auto slash = path.find_last_of('/');
        if (slash != std::string::npos && slash > 0 && !makeParents(path.substr(0, slash), err))
            return unexpected(failure(path, "cannot create its directory", err));

        sockaddr_un addr = socketAddress(path);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode))
                return unexpected(failure(path, "exists and is not a socket; not removing it", 0));
            int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (probe < 0) return unexpected(failure(path, "socket()", errno));
            int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
            int connectErr = errno;
            ::close(probe);
            if (rc == 0 || connectErr == EAGAIN)
                return unexpected(failure(path, "another process is listening on it", 0));
            if (connectErr != ECONNREFUSED && connectErr != ENOENT)
                return unexpected(failure(path, "cannot tell whether it is in use", connectErr));
            if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                return unexpected(failure(path, "cannot remove the stale socket", errno));
        } else if (errno != ENOENT) {
            return unexpected(failure(path, "lstat", errno));
        }

        listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd < 0) return unexpected(failure(path, "socket()", errno));
        // The socket file is created 0777 & ~umask: 0660 from the start (the umask is
        // process-wide; this runs once, before the service starts other threads that create
        // files). chmod afterwards too, in case another thread changed the umask meanwhile.
        mode_t old = ::umask(0117);
        int rc = ::bind(listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        int bindErr = errno;
        ::umask(old);
        if (rc != 0) return unexpected(failure(path, "bind", bindErr));
        if (::chmod(path.c_str(), 0660) != 0)
            log("API socket " + path + ": chmod 0660: " + errnoText(errno));
        if (::lstat(path.c_str(), &st) == 0) {
            socket_dev = st.st_dev;
            socket_ino = st.st_ino;
        }
        if (auto r = setGroup(); !r) return r;
        if (::listen(listen_fd, 128) != 0) return unexpected(failure(path, "listen", errno));
        return {};
    }

    Expected<void, Error> setGroup() {
        const std::string& path = options.socket_path;
        std::vector<std::string> candidates;
        if (options.socket_group) {
            if (options.socket_group->empty()) return {};
            candidates.push_back(*options.socket_group);
        } else {
            candidates = options.roles.kiosk;
        }
        std::vector<char> buf(16384);
        for (const std::string& name : candidates) {
            group gr{};
            group* result = nullptr;
            if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &result) != 0 ||
                result == nullptr)
                continue;
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && st.st_gid == result->gr_gid) return {};
            if (::chown(path.c_str(), static_cast<uid_t>(-1), result->gr_gid) != 0)
                log("API socket " + path + ": cannot give it group " + name + ": " +
                    errnoText(errno));
            return {};
        }
        if (options.socket_group)
            return unexpected(
                failure(path, "socket_group " + *options.socket_group + " does not exist", 0));
        return {};
    }

    Expected<void, Error> start() {
        if (started)
            return unexpected(makeError(ErrorCode::internal, "API server already started"));
        wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd < 0) return unexpected(failure(options.socket_path, "eventfd", errno));
        shared->wake_fd = wake_fd;
        epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd < 0) {
            closeAll();
            return unexpected(failure(options.socket_path, "epoll_create1", errno));
        }
        if (auto r = bindSocket(); !r) {
            bool bound = socket_ino != 0;
            closeAll();
            if (bound) ::unlink(options.socket_path.c_str());
            return r;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenerTag;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
        ev.data.u64 = kWakeTag;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
        started = true;
        {
            std::lock_guard lock(shared->mutex);
            shared->stopped = false;
        }
        io = std::thread([this] { loop(); });
        return {};
    }

    void closeAll() {
        for (int* fd : {&listen_fd, &epoll_fd}) {
            if (*fd >= 0) ::close(*fd);
            *fd = -1;
        }
        {
            std::lock_guard lock(shared->mutex);
            shared->stopped = true;
            shared->wake_fd = -1;
        }
        if (wake_fd >= 0) ::close(wake_fd);
        wake_fd = -1;
    }

    void stop() {
        if (!started || stopped) return;
        stopped = true;
        requestStop();
        if (io.joinable()) io.join();
        {
            std::lock_guard lock(shared->mutex);
            shared->stopped = true;
            shared->outgoing.clear();
            shared->broadcasts.clear();
        }
        pool.stop(WorkerPool::Queued::drop);  // handlers not started yet are dropped
        // Remove the socket file only if it is still the one we bound.
        struct stat st {};
        if (::lstat(options.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev &&
            st.st_ino == socket_ino)
            ::unlink(options.socket_path.c_str());
        closeAll();
    }

    void requestStop() noexcept {
        stop_requested.store(true);
        if (wake_fd >= 0) {
            std::uint64_t one = 1;
            ssize_t n = ::write(wake_fd, &one, sizeof one);
            (void)n;
        }
    }

    // ---- the I/O loop ----

    // The I/O thread cannot go on: it ends, and the service is told.
    void fail(const std::string& what) {
        io_failed.store(true);
        log("API: " + what + "; the API is down");
        if (options.on_failure) options.on_failure(what);
    }

    // Milliseconds until the next deadline (a partial line, the paused listener); -1: none.
    int nextTimeout(SteadyClock::time_point now) const {
        std::optional<SteadyClock::time_point> next = listener_paused_until;
        for (const auto& [id, c] : clients) {
            if (!c.partial_since || c.closing) continue;
            auto due = *c.partial_since + options.line_timeout;
            if (!next || due < *next) next = due;
        }
        if (!next) return -1;
        if (*next <= now) return 0;
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
        return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
    }

    // Closes connections whose partial line is older than line_timeout, and puts the listener back
    // when its pause is over. False if epoll failed.
    bool runDeadlines(SteadyClock::time_point now) {
        std::vector<std::uint64_t> expired;
        for (const auto& [id, c] : clients)
            if (c.partial_since && !c.closing && now - *c.partial_since >= options.line_timeout)
                expired.push_back(id);
        for (std::uint64_t id : expired) {
            const Client& c = clients.at(id);
            log("API: client pid " + std::to_string(c.caller.pid) + " uid " +
                std::to_string(c.caller.uid) + " left a request line unfinished; disconnected");
            closeClient(id);
        }
        if (listener_paused_until && now >= *listener_paused_until) {
            listener_paused_until.reset();
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = kListenerTag;
            if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
                fail("epoll_ctl (listener): " + errnoText(errno));
                return false;
            }
        }
        return true;
    }

    void loop() {
        std::vector<epoll_event> events(64);
        while (!stop_requested.load()) {
            int timeout = nextTimeout(SteadyClock::now());
            int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail("epoll_wait: " + errnoText(errno));
                break;
            }
            if (!runDeadlines(SteadyClock::now())) break;
            for (int i = 0; i < n && !stop_requested.load(); ++i) {
                std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
                std::uint32_t what = events[static_cast<std::size_t>(i)].events;
                try {
                    if (tag == kListenerTag) {
                        if (!listener_paused_until) acceptAll();
                    } else if (tag == kWakeTag) {
                        drainWake();
                    } else {
                        clientEvent(tag, what);
                    }
                } catch (const std::exception& e) {
                    // Never let one connection's trouble (e.g. bad_alloc) end the loop.
                    log(std::string("API: internal error: ") + e.what());
                    if (tag >= kFirstClientId) closeClient(tag);
                }
            }
        }
        for (auto& [id, c] : clients) {
            crypto::wipe(c.in);
            ::close(c.fd);
        }
        clients.clear();
        clients_per_uid.clear();
        client_count.store(0);
    }

    void acceptAll() {
        for (;;) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (isResourceShortage(errno)) {
                    pauseListener(errno);
                    return;
                }
                log("API: accept: " + errnoText(errno));
                return;
            }
            if (clients.size() >= options.max_clients) {
                refuseBusy(fd, "too many clients; try again later");
                continue;
            }
            auto caller = identifyPeer(fd, options.roles);
            if (!caller) {
                ::close(fd);
                continue;
            }
            if (clients_per_uid[caller->uid] >= options.max_clients_per_user) {
                refuseBusy(fd, "too many connections from this user; try again later");
                continue;
            }
            ++clients_per_uid[caller->uid];
            std::uint64_t id = next_id++;
            Client& c = clients[id];
            c.fd = fd;
            c.caller = *caller;
            c.caller.connection = id;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = id;
            if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                closeClient(id);
                continue;
            }
            c.events = EPOLLIN;
            client_count.store(clients.size());
        }
    }

    void refuseBusy(int fd, const std::string& why) {
        std::string line = errorLine(toJsonRpcError(makeError(ErrorCode::busy, why)));
        ssize_t n = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        ::close(fd);
    }

    // accept() ran out of descriptors or memory: the pending connection stays in the backlog and
    // the listener stays readable, so watching it now would spin. Rest it for accept_pause.
    void pauseListener(int err) {
        if (listener_paused_until) return;  // already out of epoll (a stale event of this batch)
        log("API: accept: " + errnoText(err) + "; not accepting for " +
            std::to_string(options.accept_pause.count()) + " ms");
        if (::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr) != 0) {
            fail("epoll_ctl (listener): " + errnoText(errno));
            stop_requested.store(true);
            return;
        }
        listener_paused_until = SteadyClock::now() + options.accept_pause;
    }

    void drainWake() {
        std::uint64_t value = 0;
        ssize_t n = ::read(wake_fd, &value, sizeof value);
        (void)n;
        std::vector<Outgoing> outgoing;
        std::vector<Broadcast> broadcasts;
        {
            std::lock_guard lock(shared->mutex);
            outgoing.swap(shared->outgoing);
            broadcasts.swap(shared->broadcasts);
        }
        for (Outgoing& o : outgoing) {
            auto it = clients.find(o.client);
            if (it == clients.end()) continue;  // gone meanwhile
            Client& c = it->second;
            if (o.finishes_call && c.inflight > 0) --c.inflight;
            if (!o.line.empty() && !c.closing) {
                if (!queue(o.client, c, o.line)) continue;
            }
            // A finished call may let buffered lines through, or end a half-closed connection.
            if (!processLines(o.client, c)) continue;
            if (!flush(o.client, c)) continue;
        }
        for (const Broadcast& b : broadcasts) {
            std::vector<std::uint64_t> ids;
            for (auto& [id, c] : clients)
                if (c.subscribed && !c.closing) ids.push_back(id);
            for (std::uint64_t id : ids) {
                auto it = clients.find(id);
                if (it == clients.end()) continue;
                Client& c = it->second;
                const std::string& line = mayReceivePersonalData(c.caller) ? b.full : b.redacted;
                if (queue(id, c, line)) flush(id, c);
            }
        }
    }

    void clientEvent(std::uint64_t id, std::uint32_t what) {
        auto it = clients.find(id);
        if (it == clients.end()) return;
        Client& c = it->second;
        if (what & (EPOLLERR | EPOLLHUP)) {
            // Gone in both directions: nobody would read an answer.
            closeClient(id);
            return;
        }
        if (what & EPOLLOUT) {
            if (!flush(id, c)) return;
        }
        if (what & EPOLLIN) {
            if (!readFrom(id, c)) return;
        }
    }

    // Reads what there is (bounded per event, for fairness) and handles complete lines.
    // False if the client is gone.
    bool readFrom(std::uint64_t id, Client& c) {
        char buf[65536];
        std::size_t total = 0;
        std::size_t used = 0;  // how much of buf held request bytes (PINs): wiped below
        while (total < 4 * sizeof buf && !c.closing && !c.read_closed) {
            ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                used = std::max(used, static_cast<std::size_t>(n));
                appendWiping(c.in, std::string_view(buf, static_cast<std::size_t>(n)));
                total += static_cast<std::size_t>(n);
                if (!processLines(id, c)) return false;
                continue;
            }
            if (n == 0) {
                c.read_closed = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            crypto::wipe(buf, used);
            closeClient(id);
            return false;
        }
        crypto::wipe(buf, used);
        if (c.read_closed && !c.closing) {
            // A last line without '\n' counts as a line.
            if (!c.in.empty() && c.in.find('\n') == std::string::npos) appendWiping(c.in, "\n");
            if (!processLines(id, c)) return false;
        }
        updateEvents(id, c);
        return finishIfDone(id, c);
    }

    // Handles the complete lines in c.in while the connection may start calls. False if the
    // client is gone.
    bool processLines(std::uint64_t id, Client& c) {
        std::size_t start = 0;
        while (!c.closing && c.inflight < options.max_inflight) {
            std::size_t nl = c.in.find('\n', start);
            if (nl == std::string::npos) break;
            std::string_view line(c.in.data() + start, nl - start);
            start = nl + 1;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.size() > options.max_line) {
                if (!tooLarge(id, c)) return false;
                break;
            }
            if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
            if (!handleLine(id, c, line)) return false;
        }
        if (c.closing) {
            crypto::wipe(c.in);
        } else {
            if (start > 0) {
                // Handled requests may hold PINs: the old buffer is wiped, not just shortened.
                std::string rest = c.in.substr(start);
                crypto::wipe(c.in);
                c.in = std::move(rest);
            }
            if (c.in.size() > options.max_line && c.in.find('\n') == std::string::npos &&
                !tooLarge(id, c))
                return false;
        }
        notePartialLine(c);
        updateEvents(id, c);
        return flush(id, c);
    }

    // Starts (or ends) the clock of a partial line: bytes after the last '\n' of `in`.
    void notePartialLine(Client& c) {
        // Only while the server reads from the connection: lines waiting for a running call
        // (max_inflight) leave the rest of the line unread in the socket.
        bool partial = !c.closing && !c.read_closed && c.inflight < options.max_inflight &&
                       !c.in.empty() && c.in.back() != '\n';
        if (!partial) {
            c.partial_since.reset();
        } else if (!c.partial_since) {
            c.partial_since = SteadyClock::now();
        }
    }

    // Answers -32600 and closes the connection once that is sent. False if the client is gone.
    bool tooLarge(std::uint64_t id, Client& c) {
        JsonRpcErrorObject e = makeJsonRpcError(
            kInvalidRequest,
            "request too large: at most " + std::to_string(options.max_line) + " bytes per line");
        c.closing = true;
        crypto::wipe(c.in);
        return queue(id, c, errorLine(e));
    }

    // False if the client is gone.
    bool handleLine(std::uint64_t id, Client& c, std::string_view line) {
        auto request = parseRequest(line);
        // A refused request's parameters (PINs) are wiped; a dispatched one's are moved to the
        // handler, which wipes them after the call.
        struct WipeParams {
            Expected<Request, JsonRpcErrorObject>& request;
            ~WipeParams() {
                if (request) wipeStrings(request->params);
            }
        } wipeParams{request};
        if (c.caller.role == Role::none) {
            // A caller without a role gets nothing: one not_allowed error, then goodbye.
            JsonRpcErrorObject e = toJsonRpcError(
                makeError(ErrorCode::not_allowed, "not allowed: no sscard role for this user"));
            if (request && request->id) e.id = *request->id;
            c.closing = true;
            return queue(id, c, errorLine(e));
        }
        if (!request) return queue(id, c, errorLine(request.error()));
        Request& r = *request;
        auto answer = [&](JsonRpcErrorObject e) {
            if (!r.id) return true;
            e.id = *r.id;
            return queue(id, c, errorLine(e));
        };

        const Permission* permission = findPermission(r.method);
        if (permission == nullptr)
            return answer(makeJsonRpcError(kMethodNotFound, "method not found: " + r.method));
        if (!roleAllows(c.caller.role, permission->min_role))
            return answer(toJsonRpcError(makeError(
                ErrorCode::not_allowed, "not allowed: " + r.method + " needs the " +
                                            std::string(minRoleName(permission->min_role)) +
                                            " role")));
        if (asksForPersonalData(*permission, r.params) && !mayReceivePersonalData(c.caller))
            return answer(toJsonRpcError(
                makeError(ErrorCode::not_allowed, "this caller may not receive holder data")));

        if (r.method == "events.subscribe") {
            c.subscribed = true;
            if (!r.id) return true;
            return queue(id, c, responseLine(*r.id, json{{"subscribed", true}}));
        }

        auto h = handlers.find(r.method);
        if (h == handlers.end())
            return answer(makeJsonRpcError(kMethodNotFound, "method not available: " + r.method));

        auto state = std::make_shared<Reply::State>();
        state->shared = shared;
        state->client = id;
        state->id = r.id;
        ++c.inflight;
        (void)pool.post([handler = h->second, caller = c.caller, params = std::move(r.params),
                         reply = Reply(std::move(state))]() mutable {
            try {
                handler(caller, params, reply);
            } catch (const std::exception&) {
                reply.error(
                    makeJsonRpcError(kInternalError, "internal error", {{"code", "internal"}}));
            } catch (...) {
                reply.error(
                    makeJsonRpcError(kInternalError, "internal error", {{"code", "internal"}}));
            }
            wipeStrings(params);  // PIN parameters
        });
        return true;
    }

    // Adds a line to the connection's output; disconnects it if that is more than max_output
    // unsent. False if the client is gone.
    bool queue(std::uint64_t id, Client& c, const std::string& line) {
        std::size_t pending = c.out.size() - c.out_offset;
        if (pending + line.size() > options.max_output) {
            log("API: client pid " + std::to_string(c.caller.pid) + " uid " +
                std::to_string(c.caller.uid) + " does not read its answers; disconnected");
            closeClient(id);
            return false;
        }
        if (c.out_offset > 0 && c.out_offset * 2 >= c.out.size()) {
            c.out.erase(0, c.out_offset);
            c.out_offset = 0;
        }
        c.out += line;
        return true;
    }

    // Sends what the socket takes. False if the client is gone.
    bool flush(std::uint64_t id, Client& c) {
        while (c.out_offset < c.out.size()) {
            ssize_t n = ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c.out_offset += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            closeClient(id);
            return false;
        }
        if (c.out_offset == c.out.size()) {
            c.out.clear();
            c.out_offset = 0;
        }
        updateEvents(id, c);
        return finishIfDone(id, c);
    }

    // Closes connections that have nothing more to say or hear. False if the client is gone.
    bool finishIfDone(std::uint64_t id, Client& c) {
        bool drained = c.out.empty();
        if (drained && (c.closing || (c.read_closed && c.inflight == 0 &&
                                      c.in.find('\n') == std::string::npos))) {
            closeClient(id);
            return false;
        }
        return true;
    }

    void updateEvents(std::uint64_t id, Client& c) {
        std::uint32_t want = 0;
        if (!c.closing && !c.read_closed && c.inflight < options.max_inflight) want |= EPOLLIN;
        if (!c.out.empty()) want |= EPOLLOUT;
        if (want == c.events) return;
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = id;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
        c.events = want;
    }

    void closeClient(std::uint64_t id) {
        auto it = clients.find(id);
        if (it == clients.end()) return;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second.fd, nullptr);
        ::close(it->second.fd);
        crypto::wipe(it->second.in);  // a partial or refused request may hold a PIN
        auto perUid = clients_per_uid.find(it->second.caller.uid);
        if (perUid != clients_per_uid.end() && --perUid->second == 0) clients_per_uid.erase(perUid);
        clients.erase(it);
        client_count.store(clients.size());
        if (options.on_disconnect) options.on_disconnect(id);
    }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
    stop();
}

bool Server::registerMethod(std::string method, Handler handler) {
    if (impl_->started || !requiredRole(method) || method == "events.subscribe" || !handler)
        return false;
    impl_->handlers[std::move(method)] = std::move(handler);
    return true;
}

Expected<void, Error> Server::checkHandlers() const {
    for (const Permission& p : permissionTable()) {
        if (p.method == "events.subscribe") continue;
        if (impl_->handlers.count(std::string(p.method)) == 0) {
            return unexpected(makeError(ErrorCode::internal, "the API's permission table names " +
                                                                 std::string(p.method) +
                                                                 ", which nothing handles"));
        }
    }
    return {};
}

Expected<void, Error> Server::start() {
    return impl_->start();
}

void Server::requestStop() noexcept {
    impl_->requestStop();
}

void Server::stop() {
    impl_->stop();
}

void Server::notify(std::string_view method, const json& params, const Redactor& redact) {
    Broadcast b;
    b.full = notificationLine(method, params);
    if (redact) {
        try {
            b.redacted = notificationLine(method, redact(params));
        } catch (...) {
            b.redacted.clear();  // never send unredacted data because the redactor failed
        }
    } else {
        b.redacted = b.full;
    }
    impl_->shared->broadcast(std::move(b));
}

std::size_t Server::clientCount() const {
    return impl_->client_count.load();
}

bool Server::failed() const {
    return impl_->io_failed.load();
}

const std::string& Server::socketPath() const {
    return impl_->options.socket_path;
}

}  // namespace sscard::api
