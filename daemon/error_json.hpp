// A failure as the command line prints it with --json ({"error":{"code","message",…}}) and back:
// the service reads the answer of the `sscardd sync --json` child through the same shape.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace sscard::daemon {

// {"code", "message", ["tries_left"], ["pin_state"]}
nlohmann::json errorJson(const Error& error);

// The Error of a {"error": {...}} document (`fallback` when its code is missing or unknown);
// nullopt when `document` is not one.
std::optional<Error> errorFromJson(const nlohmann::json& document,
                                   ErrorCode fallback = ErrorCode::internal);

}  // namespace sscard::daemon
