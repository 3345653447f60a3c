#include "daemon/api/permissions.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace sscard::api {

namespace {

// THE permission table: method -> minimum role. Nothing else in the server decides who may call
// what; a method missing here answers "method not found" even if a handler is registered.
constexpr std::array<Permission, 14> kPermissions{{
    {"status", MinRole::any},
    {"readers.list", MinRole::any},
    {"events.subscribe", MinRole::kiosk},
    {"card.read", MinRole::kiosk, PersonalData::with_holder_param},
    {"card.check", MinRole::kiosk},
    {"card.hsm_begin", MinRole::kiosk},
    {"card.hsm_finish", MinRole::kiosk, PersonalData::always},
    {"pin.verify", MinRole::kiosk},
    {"pin.change", MinRole::kiosk},
    {"card.activate", MinRole::kiosk},
    {"pin.reset", MinRole::admin},
    {"pin.unblock", MinRole::admin},
    {"list.sync", MinRole::admin},
    {"list.lookup", MinRole::admin},
}};

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

bool anyIn(const std::vector<std::string>& groups, const std::vector<std::string>& configured) {
    return std::any_of(groups.begin(), groups.end(),
                       [&](const std::string& g) { return contains(configured, g); });
}

}  // namespace

std::string_view roleName(Role r) {
    switch (r) {
        case Role::none:
            return "none";
        case Role::kiosk:
            return "kiosk";
        case Role::admin:
            return "admin";
    }
    return "none";
}

std::string_view minRoleName(MinRole r) {
    switch (r) {
        case MinRole::any:
            return "any";
        case MinRole::kiosk:
            return "kiosk";
        case MinRole::admin:
            return "admin";
    }
    return "admin";
}

std::span<const Permission> permissionTable() {
    return kPermissions;
}

const Permission* findPermission(std::string_view method) {
    for (const Permission& p : kPermissions)
        if (p.method == method) return &p;
    return nullptr;
}

std::optional<MinRole> requiredRole(std::string_view method) {
    if (const Permission* p = findPermission(method)) return p->min_role;
    return std::nullopt;
}

bool asksForPersonalData(const Permission& permission, const nlohmann::json& params) {
    switch (permission.personal_data) {
        case PersonalData::none:
            return false;
        case PersonalData::always:
            return true;
        case PersonalData::with_holder_param:
            return params.is_object() && params.contains("holder") &&
                   params["holder"].is_boolean() && params["holder"].get<bool>();
    }
    return true;
}

bool roleAllows(Role role, MinRole min) {
    switch (role) {
        case Role::none:
            return false;
        case Role::kiosk:
            return min == MinRole::any || min == MinRole::kiosk;
        case Role::admin:
            return true;
    }
    return false;
}

bool mayReceivePersonalData(const Caller& caller) {
    if (caller.role == Role::admin) return true;
    return caller.role == Role::kiosk && caller.personal_data;
}

Caller identify(uid_t uid, gid_t gid, pid_t pid, const std::vector<std::string>& groups,
                const RolesConfig& roles) {
    Caller c;
    c.uid = uid;
    c.gid = gid;
    c.pid = pid;
    if (uid == 0 || anyIn(groups, roles.admin))
        c.role = Role::admin;
    else if (anyIn(groups, roles.kiosk))
        c.role = Role::kiosk;
    c.personal_data =
        c.role == Role::admin || (c.role == Role::kiosk && anyIn(groups, roles.personal_data));
    return c;
}

std::vector<std::string> groupNames(std::span<const gid_t> gids) {
    std::vector<std::string> names;
    std::vector<char> buf(4096);
    for (gid_t g : gids) {
        for (;;) {
            group gr{};
            group* result = nullptr;
            int rc = getgrgid_r(g, &gr, buf.data(), buf.size(), &result);
            if (rc == ERANGE && buf.size() < (1u << 20)) {
                buf.resize(buf.size() * 2);
                continue;
            }
            if (rc == 0 && result != nullptr && result->gr_name != nullptr)
                names.emplace_back(result->gr_name);
            break;
        }
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::vector<gid_t> userGroups(uid_t uid, gid_t primaryGid) {
    std::vector<gid_t> gids{primaryGid};
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* result = nullptr;
    for (;;) {
        int rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || result == nullptr) return gids;
        break;
    }
    int n = 64;
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::vector<gid_t> list(static_cast<std::size_t>(n));
        int count = n;
        if (getgrouplist(pw.pw_name, primaryGid, list.data(), &count) >= 0) {
            list.resize(static_cast<std::size_t>(count));
            gids.insert(gids.end(), list.begin(), list.end());
            break;
        }
        n = std::max(count, n * 2);
    }
    return gids;
}

std::optional<Caller> identifyPeer(int fd, const RolesConfig& roles) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return std::nullopt;

    // The kernel's own view of the peer's supplementary groups (as they were at connect time):
    // right even for users that only get a group through systemd's SupplementaryGroups= or a
    // group the process dropped (then it does not count).
    std::optional<std::vector<gid_t>> gids;
    std::vector<gid_t> supplementary(64);
    for (int attempt = 0; attempt < 8; ++attempt) {
        socklen_t bytes = static_cast<socklen_t>(supplementary.size() * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, supplementary.data(), &bytes) == 0) {
            supplementary.resize(bytes / sizeof(gid_t));
            gids = std::vector<gid_t>{cred.gid};
            gids->insert(gids->end(), supplementary.begin(), supplementary.end());
            break;
        }
        if (errno != ERANGE) break;
        supplementary.resize(
            std::max<std::size_t>(bytes / sizeof(gid_t), supplementary.size() * 2));
    }
    // An old kernel (ENOPROTOOPT), or one that keeps answering ERANGE (qemu-user does, whatever the
    // size): ask the user database instead.
    if (!gids) gids = userGroups(cred.uid, cred.gid);
    return identify(cred.uid, cred.gid, cred.pid, groupNames(*gids), roles);
}

}  // namespace sscard::api
