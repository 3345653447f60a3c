#include "daemon/list_commands.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "apdu/ssse/application.hpp"
#include "blacklist/sync.hpp"
#include "blacklist/sync_json.hpp"
#include "daemon/card_check.hpp"
#include "daemon/card_json.hpp"

namespace sscard::daemon {

namespace {

blacklist::SyncOptions syncOptions(const Config& config) {
    blacklist::SyncOptions o;
    o.feed_url = config.list.feed_url;
    for (const auto& k : config.list.trusted_keys) o.trusted_keys.emplace_back(k);
    o.database = config.list.database;
    o.ca_file = config.list.ca_file;
    o.allow_insecure_http = config.list.allow_insecure_http;
    o.threshold = config.list.threshold;
    o.max_clock_skew_s =
        std::chrono::duration_cast<std::chrono::seconds>(config.list.max_clock_skew).count();
    o.limits.sync_deadline = config.list.sync_timeout;
    return o;
}

// Progress for big downloads, only on a terminal.
void showProgress(std::uint64_t done, std::uint64_t total) {
    if (total < 1024 * 1024) return;
    std::fprintf(stderr, "\rdownloading the list: %3d%% (%llu of %llu KiB)",
                 static_cast<int>(done * 100 / total), static_cast<unsigned long long>(done / 1024),
                 static_cast<unsigned long long>(total / 1024));
    if (done >= total) std::fputc('\n', stderr);
}

}  // namespace

int runSync(const Config& config, const Output& out) {
    auto options = syncOptions(config);
    if (!out.json && isatty(STDERR_FILENO)) options.progress = showProgress;
    auto result = blacklist::syncOnce(options);
    if (!result) return out.fail(result.error());
    if (out.json) {
        out.printJson(blacklist::toJson(*result));
    } else {
        std::printf("list version %lld (%s; was %lld), %llu entries, %llu bytes downloaded\n",
                    static_cast<long long>(result->version),
                    std::string(blacklist::outcomeName(result->outcome)).c_str(),
                    static_cast<long long>(result->previous_version),
                    static_cast<unsigned long long>(result->entries),
                    static_cast<unsigned long long>(result->downloaded_bytes));
        if (!result->note.empty()) std::printf("note: %s\n", result->note.c_str());
    }
    return 0;
}

int runListStatus(const Config& config, const Output& out) {
    ListAccess list(config.list.database);
    auto meta = list.meta();
    if (!meta) return out.fail(meta.error());
    nlohmann::json status = blacklist::statusJson(meta->value_or(blacklist::ListMeta{}), unixNow(),
                                                  graceSeconds(config));
    status["database"] = config.list.database;
    if (out.json) {
        out.printJson(status);
        return 0;
    }
    if (!*meta) {
        std::printf("no list yet (database %s); run `sscardd sync`\n",
                    config.list.database.c_str());
        return 0;
    }
    std::printf("version   %lld\nentries   %lld\nage       %s s\nstale     %s\ndatabase  %s\n",
                static_cast<long long>((*meta)->version), static_cast<long long>((*meta)->count),
                status["age_s"].dump().c_str(), status["stale"].get<bool>() ? "yes" : "no",
                config.list.database.c_str());
    return 0;
}

int runListLookup(const Config& config, const Output& out, const LookupQuery& query) {
    blacklist::CardFacts facts;
    if (query.cardId) {
        if (!blacklist::encodeCardId(*query.cardId)) {
            return out.fail(makeError(ErrorCode::usage, "--card-id needs 32 hex digits"));
        }
        std::string upper = *query.cardId;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        facts.card_id = upper;
        facts.region = upper.substr(0, 6);
    }
    if (query.region) facts.region = *query.region;
    if (query.cardNumber) facts.card_number = *query.cardNumber;
    if (!query.cardId && !(query.region && query.cardNumber)) {
        return out.fail(
            makeError(ErrorCode::usage, "give --card-id HEX, or --region R and --card-number N"));
    }
    ListAccess list(config.list.database);
    auto meta = list.meta();
    if (!meta) return out.fail(meta.error());
    if (!*meta) {
        return out.fail(
            makeError(ErrorCode::list_unavailable,
                      "no list yet in " + config.list.database + "; run `sscardd sync`"));
    }
    auto entries = list.lookup(facts);
    if (!entries) return out.fail(entries.error());
    std::int64_t now = blacklist::effectiveNow(**meta, unixNow());
    nlohmann::json matches = nlohmann::json::array();
    bool denies = false;
    for (const auto& e : *entries) {
        auto j = blacklist::toJson(e);
        j["denies_now"] = blacklist::entryDenies(e, now);
        denies = denies || j["denies_now"].get<bool>();
        matches.push_back(j);
    }
    nlohmann::json result{
        {"entries", matches},
        {"denies", denies},
        {"list", blacklist::toJson(blacklist::listState(**meta, unixNow(), graceSeconds(config)))}};
    if (out.json) {
        out.printJson(result);
    } else if (matches.empty()) {
        std::printf("not on the list (version %lld)\n", static_cast<long long>((*meta)->version));
    } else {
        for (const auto& m : matches) std::printf("%s\n", dumpJson(m).c_str());
    }
    return 0;
}

int diagCheck(ReaderDirectory& readers, const DiagOptions& options, const Config& config) {
    auto connection = connectChosen(readers, options);
    if (!connection) return options.out.fail(connection.error());
    auto& card = **connection;
    ssse::ReadStrategyCache cache;
    auto read = ssse::readCard(card, cache, false);
    if (!read) return options.out.fail(read.error());
    ListAccess list(config.list.database);
    auto decision = list.decide(read->card, config);
    if (!decision) return options.out.fail(decision.error());
    auto json = decisionJson(
        cardReadJson(card.readerName(), card.interface(), card.atr(), read->card, nullptr),
        *decision);
    if (options.out.json) {
        options.out.printJson(json);
    } else {
        std::printf("%s: %s (%s)\n",
                    json["card"]["card_number"].is_string()
                        ? json["card"]["card_number"].get<std::string>().c_str()
                        : "-",
                    json["decision"].get<std::string>().c_str(),
                    json["reason"].get<std::string>().c_str());
        std::printf("%s\n", dumpJson(json).c_str());
    }
    // A deny is a successful check: the decision is the answer (card_denied is for operations
    // that refuse a card, such as activation).
    return 0;
}

}  // namespace sscard::daemon
