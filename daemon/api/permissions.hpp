// Who may call what on the local API (docs/api.md#permission-table).
//
// A caller's role comes from its Unix credentials at connect time (SO_PEERCRED for uid/gid/pid,
// SO_PEERGROUPS for the supplementary groups the kernel holds for it), mapped by [roles]:
//   uid 0                        -> admin
//   a member of a roles.admin group -> admin
//   a member of a roles.kiosk group -> kiosk
//   anything else                -> none   (gets nothing: see server.hpp)
// Admin includes everything kiosk may do. Each method's minimum role, and whether it hands out
// personal data, is in ONE table, permissions.cpp, which the server alone enforces before any
// handler runs; a method that is not in the table is not callable by anyone.
//
// Personal data (the holder fields of a card) goes to admins, and to kiosk callers that are also
// members of a roles.personal_data group (extension key; default none).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace sscard::api {

enum class Role { none = 0, kiosk = 1, admin = 2 };

// Minimum role a method needs: `any` means every caller with a role (kiosk or admin); a caller
// without a role gets nothing, whatever the method.
enum class MinRole { any, kiosk, admin };

std::string_view roleName(Role r);        // "none", "kiosk", "admin"
std::string_view minRoleName(MinRole r);  // "any", "kiosk", "admin"

// Whether a call hands out personal data (the holder fields of a card), and so needs the
// personal-data right on top of its role.
enum class PersonalData {
    none,
    always,
    with_holder_param,  // when the boolean parameter "holder" is true (card.read)
};

struct Permission {
    std::string_view method;
    MinRole min_role;
    PersonalData personal_data = PersonalData::none;
};

// The table (every method of the contract, in contract order).
std::span<const Permission> permissionTable();

// The method's minimum role; nullopt if the method is unknown.
std::optional<MinRole> requiredRole(std::string_view method);

// The method's table entry; nullptr if the method is unknown.
const Permission* findPermission(std::string_view method);

// Whether a caller with `role` may call a method needing `min`. Role::none may call nothing.
bool roleAllows(Role role, MinRole min);

// The identity of one connection, fixed when it connects.
struct Caller {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    pid_t pid = 0;
    Role role = Role::none;
    bool personal_data = false;    // a kiosk caller in a roles.personal_data group (admins: true)
    std::uint64_t connection = 0;  // the server's id of the caller's connection (0: none)
};

// admin: yes; kiosk: only when in a roles.personal_data group; none: no.
bool mayReceivePersonalData(const Caller& caller);

// Whether this call (method and its params) asks for personal data, by the table.
bool asksForPersonalData(const Permission& permission, const nlohmann::json& params);

// The pure mapping: uid and the names of all the caller's groups (primary and supplementary) to
// role and personal-data right. Group names are compared exactly.
Caller identify(uid_t uid, gid_t gid, pid_t pid, const std::vector<std::string>& groupNames,
                const RolesConfig& roles);

// Names of the groups with these ids (looked up through NSS; ids without a name are skipped).
std::vector<std::string> groupNames(std::span<const gid_t> gids);

// The groups of a user as the system database has them (getgrouplist on the uid's passwd entry,
// plus `primaryGid`); only `primaryGid` if the uid has no passwd entry. The server uses this only
// when the kernel cannot tell it the peer's groups (no SO_PEERGROUPS).
std::vector<gid_t> userGroups(uid_t uid, gid_t primaryGid);

// The identity of the process at the other end of a connected Unix socket; nullopt if the
// kernel does not say (then the connection is refused).
std::optional<Caller> identifyPeer(int fd, const RolesConfig& roles);

}  // namespace sscard::api
