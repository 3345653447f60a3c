#include "driver/reader_choice.hpp"

#include <vector>

namespace sscard::driver {

bool validType(int iType) {
    return iType >= 1 && iType <= 4;
}

Expected<std::string, Failure> chooseReader(int iType, const nlohmann::json& readers) {
    std::vector<std::string> order;
    switch (iType) {
        case 1:
            order = {"contact"};
            break;
        case 2:
            order = {"contactless"};
            break;
        case 3:
            order = {"contact", "contactless"};
            break;
        case 4:
            order = {"contactless", "contact"};
            break;
        default:
            return unexpected(makeFailure("usage", "iType must be 1 to 4"));
    }
    bool anyReader = false;
    if (readers.is_array()) {
        for (const auto& interface : order) {
            for (const auto& r : readers) {
                if (!r.is_object() || r.value("sam_slot", false)) continue;
                if (r.value("interface", "") != interface) continue;
                anyReader = true;
                if (r.value("card_present", false) && r.contains("name") && r["name"].is_string())
                    return r["name"].get<std::string>();
            }
        }
    }
    std::string what = iType == 1 ? "contact" : iType == 2 ? "contactless" : "card";
    if (!anyReader) return unexpected(makeFailure("no_reader", "no " + what + " reader"));
    return unexpected(makeFailure("no_card", "no card in a " + what + " reader"));
}

}  // namespace sscard::driver
