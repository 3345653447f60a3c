#include "daemon/error_json.hpp"

namespace sscard::daemon {

nlohmann::json errorJson(const Error& error) {
    nlohmann::json e{{"code", codeName(error.code)}, {"message", error.message}};
    if (error.tries_left) e["tries_left"] = *error.tries_left;
    if (error.pin_state) e["pin_state"] = *error.pin_state;
    if (error.reason) e["reason"] = *error.reason;
    if (error.sw) e["sw"] = swText(*error.sw);
    return e;
}

std::optional<Error> errorFromJson(const nlohmann::json& document, ErrorCode fallback) {
    if (!document.is_object() || !document.contains("error") || !document["error"].is_object())
        return std::nullopt;
    const auto& e = document["error"];
    auto code = e.contains("code") && e["code"].is_string()
                    ? codeFromName(e["code"].get<std::string>())
                    : std::nullopt;
    Error error =
        makeError(code.value_or(fallback), e.contains("message") && e["message"].is_string()
                                               ? e["message"].get<std::string>()
                                               : "failed without a message");
    if (e.contains("tries_left") && e["tries_left"].is_number_integer())
        error.tries_left = e["tries_left"].get<int>();
    if (e.contains("pin_state") && e["pin_state"].is_string())
        error.pin_state = e["pin_state"].get<std::string>();
    if (e.contains("reason") && e["reason"].is_string())
        error.reason = e["reason"].get<std::string>();
    if (e.contains("sw") && e["sw"].is_string()) error.sw = swFromText(e["sw"].get<std::string>());
    return error;
}

}  // namespace sscard::daemon
