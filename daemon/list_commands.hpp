// `sscardd sync`, `sscardd list status|lookup` and `sscardd diag check`.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/diag.hpp"
#include "daemon/output.hpp"

namespace sscard::daemon {

int runSync(const Config& config, const Output& out);
int runListStatus(const Config& config, const Output& out);

struct LookupQuery {
    std::optional<std::string> cardId;
    std::optional<std::string> region;
    std::optional<std::string> cardNumber;
};
int runListLookup(const Config& config, const Output& out, const LookupQuery& query);

int diagCheck(ReaderDirectory& readers, const DiagOptions& options, const Config& config);

}  // namespace sscard::daemon
