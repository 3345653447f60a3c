#include "daemon/status_client.hpp"

#include <chrono>
#include <cstdio>

#include "daemon/api/client.hpp"

namespace sscard::daemon {

int runStatusClient(const Config& config, const Output& out) {
    auto client = api::Client::connect(config.api.socket);
    if (!client) return out.fail(client.error());
    auto status = client->call("status", nlohmann::json::object(), std::chrono::seconds(10));
    if (!status) return out.fail(status.error());
    if (out.json) {
        out.printJson(*status);
        return 0;
    }
    std::printf("sscardd %s, up %s s\n", status->value("version", "?").c_str(),
                status->value("uptime_s", nlohmann::json(0)).dump().c_str());
    for (const auto& r : status->value("readers", nlohmann::json::array())) {
        std::printf("reader  %-32s %-12s %s\n", r.value("name", "").c_str(),
                    r.value("interface", "").c_str(),
                    r.value("card_present", false) ? "card" : "empty");
    }
    const auto& list = (*status)["list"];
    std::printf("list    version %s, age %s s, %s\n",
                list.value("version", nlohmann::json(0)).dump().c_str(),
                list.value("age_s", nlohmann::json(nullptr)).dump().c_str(),
                list.value("stale", true) ? "STALE" : "fresh");
    if (!list.value("feed_set", true)) {
        std::printf("list    no feed set ([list] feed_url is empty): the list is never synced\n");
    }
    if (status->contains("outbox")) {
        const auto& outbox = (*status)["outbox"];
        std::printf("outbox  %s queued\n",
                    outbox.value("queued", nlohmann::json(nullptr)).dump().c_str());
        if (outbox.value("consecutive_failures", 0) > 0 && outbox.contains("last_error") &&
            outbox["last_error"].is_string()) {
            std::printf("backend failing (%d in a row): %s\n",
                        outbox.value("consecutive_failures", 0),
                        outbox["last_error"].get_ref<const std::string&>().c_str());
        }
    }
    return 0;
}

}  // namespace sscard::daemon
