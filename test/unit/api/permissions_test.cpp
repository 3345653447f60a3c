#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "daemon/api/permissions.hpp"

using namespace sscard;
using namespace sscard::api;

TEST_CASE("the permission table has every contract method with its role, and the extensions") {
    const std::map<std::string, MinRole> contract = {
        {"status", MinRole::any},
        {"readers.list", MinRole::any},
        {"events.subscribe", MinRole::kiosk},
        {"card.read", MinRole::kiosk},
        {"card.check", MinRole::kiosk},
        {"pin.verify", MinRole::kiosk},
        {"pin.change", MinRole::kiosk},
        {"card.activate", MinRole::kiosk},
        {"pin.reset", MinRole::admin},
        {"list.sync", MinRole::admin},
        {"list.lookup", MinRole::admin},
        // Extensions (not in the contract): issuer operations are admin-only like pin.reset.
        {"pin.unblock", MinRole::admin},
        {"card.hsm_begin", MinRole::kiosk},
        {"card.hsm_finish", MinRole::kiosk},
    };
    std::set<std::string> seen;
    for (const Permission& p : permissionTable()) {
        CHECK_MESSAGE(seen.insert(std::string(p.method)).second, "listed twice: " << p.method);
        auto it = contract.find(std::string(p.method));
        REQUIRE_MESSAGE(it != contract.end(), "not a known method: " << p.method);
        CHECK_MESSAGE(p.min_role == it->second, p.method);
    }
    CHECK(seen.size() == contract.size());
    for (const auto& [method, role] : contract) {
        REQUIRE(requiredRole(method));
        CHECK(*requiredRole(method) == role);
    }
    CHECK_FALSE(requiredRole("rpc.discover"));
    CHECK_FALSE(requiredRole("Status"));
    CHECK_FALSE(requiredRole(""));
}

TEST_CASE("roles allow methods: none nothing, admin everything kiosk can") {
    for (MinRole m : {MinRole::any, MinRole::kiosk, MinRole::admin}) {
        CHECK_FALSE(roleAllows(Role::none, m));
        CHECK(roleAllows(Role::admin, m));
    }
    CHECK(roleAllows(Role::kiosk, MinRole::any));
    CHECK(roleAllows(Role::kiosk, MinRole::kiosk));
    CHECK_FALSE(roleAllows(Role::kiosk, MinRole::admin));
    CHECK(roleName(Role::kiosk) == "kiosk");
    CHECK(minRoleName(MinRole::any) == "any");
}

TEST_CASE("roles from uid and groups") {
    RolesConfig roles;  // kiosk = sscard-kiosk, admin = sscard-admin
    roles.personal_data = {"pharmacy"};

    Caller root = identify(0, 0, 1, {"root"}, roles);
    CHECK(root.role == Role::admin);
    CHECK(mayReceivePersonalData(root));

    Caller admin = identify(1000, 1000, 2, {"users", "sscard-admin"}, roles);
    CHECK(admin.role == Role::admin);
    CHECK(mayReceivePersonalData(admin));
    CHECK(admin.uid == 1000);
    CHECK(admin.pid == 2);

    Caller both = identify(1000, 1000, 2, {"sscard-kiosk", "sscard-admin"}, roles);
    CHECK(both.role == Role::admin);

    Caller kiosk = identify(1001, 1001, 3, {"sscard-kiosk"}, roles);
    CHECK(kiosk.role == Role::kiosk);
    // The service's own group is no kiosk group by default.
    CHECK(identify(1003, 1003, 6, {"sscard"}, roles).role == Role::none);
    CHECK_FALSE(mayReceivePersonalData(kiosk));

    Caller pharmacy = identify(1001, 1001, 3, {"sscard-kiosk", "pharmacy"}, roles);
    CHECK(pharmacy.role == Role::kiosk);
    CHECK(mayReceivePersonalData(pharmacy));

    // personal_data alone gives no role, and so no personal data.
    Caller pdOnly = identify(1002, 1002, 4, {"pharmacy"}, roles);
    CHECK(pdOnly.role == Role::none);
    CHECK_FALSE(mayReceivePersonalData(pdOnly));

    Caller nobody = identify(65534, 65534, 5, {"nogroup", "users"}, roles);
    CHECK(nobody.role == Role::none);
    CHECK_FALSE(mayReceivePersonalData(nobody));
    CHECK(identify(1003, 1003, 6, {}, roles).role == Role::none);

    // Names compare exactly.
    CHECK(identify(1004, 1004, 7, {"SSCARD", "sscard "}, roles).role == Role::none);

    // Several groups per role; empty lists.
    RolesConfig custom;
    custom.kiosk = {"kiosk", "pos"};
    custom.admin = {};
    CHECK(identify(1, 1, 1, {"pos"}, custom).role == Role::kiosk);
    CHECK(identify(1, 1, 1, {"sscard-admin"}, custom).role == Role::none);
    CHECK(identify(0, 0, 1, {}, custom).role == Role::admin);
}

TEST_CASE("group lookups") {
    gid_t zero = 0;
    auto names = groupNames(std::span<const gid_t>(&zero, 1));
    REQUIRE(names.size() == 1);
    CHECK(names[0] == "root");
    // An id without a group is skipped.
    gid_t none = 2147480000;
    CHECK(groupNames(std::span<const gid_t>(&none, 1)).empty());

    auto mine = userGroups(0, 0);
    CHECK(std::find(mine.begin(), mine.end(), gid_t{0}) != mine.end());
    // A uid without a passwd entry: only its primary group.
    CHECK(userGroups(2147480000, 4242) == std::vector<gid_t>{4242});
}

TEST_CASE("the table says which calls hand out holder data") {
    const Permission* read = findPermission("card.read");
    REQUIRE(read != nullptr);
    CHECK(asksForPersonalData(*read, nlohmann::json{{"holder", true}}));
    CHECK_FALSE(asksForPersonalData(*read, nlohmann::json{{"holder", false}}));
    CHECK_FALSE(asksForPersonalData(*read, nlohmann::json::object()));
    CHECK_FALSE(asksForPersonalData(*read, nlohmann::json{{"holder", "yes"}}));  // not a bool
    const Permission* check = findPermission("card.check");
    REQUIRE(check != nullptr);
    CHECK_FALSE(asksForPersonalData(*check, nlohmann::json{{"holder", true}}));
    // the HSM read's second step always returns holder data; its first step never does
    const Permission* finish = findPermission("card.hsm_finish");
    REQUIRE(finish != nullptr);
    CHECK(asksForPersonalData(*finish, nlohmann::json::object()));
    const Permission* begin = findPermission("card.hsm_begin");
    REQUIRE(begin != nullptr);
    CHECK_FALSE(asksForPersonalData(*begin, nlohmann::json::object()));
    CHECK(findPermission("no.such.method") == nullptr);
}
