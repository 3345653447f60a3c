// sscardd: the service (`run`), and the technician's and administrator's commands.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/diag.hpp"
#include "daemon/list_commands.hpp"
#include "daemon/output.hpp"
#include "daemon/reader_setup.hpp"
#include "daemon/service/service.hpp"
#include "daemon/status_client.hpp"
#include "daemon/watch.hpp"

namespace {

using namespace sscard;
using namespace sscard::daemon;

struct CommonOptions {
    std::optional<std::string> config;
    bool json = false;
};

void addCommon(CLI::App* cmd, CommonOptions& common, bool withJson = true) {
    cmd->add_option("--config", common.config,
                    "configuration file (default /etc/sscard/sscardd.toml)");
    if (withJson) cmd->add_flag("--json", common.json, "print JSON");
}

bool argvHas(int argc, char** argv, const char* flag) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], flag) == 0) return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sscardd: social security card service for kiosks and point-of-sale terminals"};
    app.require_subcommand(0, 1);
    app.set_version_flag("--version", "sscardd " SSCARD_VERSION);

    CommonOptions common;
    DiagOptions diagOptions;
    std::vector<std::string> apdus;
    bool t0Fixups = false;

    auto* runCmd = app.add_subcommand("run", "the service, as systemd starts it");
    addCommon(runCmd, common, /*withJson=*/false);

    auto* serviceStatusCmd = app.add_subcommand(
        "status", "ask the running service for its status (readers, list, outbox)");
    addCommon(serviceStatusCmd, common);

    auto* diag = app.add_subcommand("diag", "technician diagnostics");
    diag->require_subcommand(1);

    auto* readersCmd = diag->add_subcommand("readers", "list readers with card presence and ATR");
    addCommon(readersCmd, common);

    auto* readCmd =
        diag->add_subcommand("read", "read the card (the only one with a card if no --reader)");
    addCommon(readCmd, common);
    readCmd->add_option("--reader", diagOptions.reader, "reader name");
    readCmd->add_flag("--holder", diagOptions.holder, "also read holder data (EF06)");
    readCmd->add_flag("--trace", diagOptions.trace,
                      "print the APDU trace on stderr (PINs redacted)");

    auto* apduCmd = diag->add_subcommand("apdu", "send raw APDUs in one transaction");
    addCommon(apduCmd, common);
    apduCmd->add_option("--reader", diagOptions.reader, "reader name");
    apduCmd->add_flag("--t0-fixups", t0Fixups,
                      "answer 61xx with GET RESPONSE and 6Cxx with the right Le");
    apduCmd->add_option("apdu", apdus, "command APDUs in hex")->required();

    auto* watchCmd = diag->add_subcommand("watch", "print reader and card events as they happen");
    addCommon(watchCmd, common);

    auto* checkCmd =
        diag->add_subcommand("check", "read the card and decide against the local list");
    addCommon(checkCmd, common);
    checkCmd->add_option("--reader", diagOptions.reader, "reader name");
    checkCmd->add_flag("--trace", diagOptions.trace,
                       "print the APDU trace on stderr (PINs redacted)");

    auto* syncCmd = app.add_subcommand("sync", "sync the frozen-card list once now");
    addCommon(syncCmd, common);

    auto* list = app.add_subcommand("list", "the local frozen-card list");
    list->require_subcommand(1);
    auto* statusCmd = list->add_subcommand("status", "list version, entries, age, stale or not");
    addCommon(statusCmd, common);
    LookupQuery lookup;
    auto* lookupCmd = list->add_subcommand("lookup", "what the list says about one card");
    addCommon(lookupCmd, common);
    auto* byId =
        lookupCmd->add_option("--card-id", lookup.cardId, "card identifier (32 hex digits)");
    auto* byRegion = lookupCmd->add_option("--region", lookup.region, "region code (6 digits)");
    auto* byNumber = lookupCmd->add_option("--card-number", lookup.cardNumber, "card number");
    byId->excludes(byRegion)->excludes(byNumber);
    byRegion->needs(byNumber);
    byNumber->needs(byRegion);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        if (argvHas(argc, argv, "--json")) {
            return Output{true}.fail(makeError(ErrorCode::usage, e.what()));
        }
        app.exit(e);
        return exitStatus(ErrorCode::usage);
    }
    if (app.get_subcommands().empty()) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    }

    Output out{common.json};
    auto config = loadConfigOrDefault(common.config);
    if (!config) return out.fail(toError(config.error()));
    diagOptions.out = out;
    diagOptions.prefer = config->readers.prefer == ReaderPreference::contactless
                             ? apdu::Interface::contactless
                             : apdu::Interface::contact;
    diagOptions.trace = diagOptions.trace || config->log.apdu_trace;
    diagOptions.keys = config->keys;

    if (runCmd->parsed()) return runService(*config);
    if (serviceStatusCmd->parsed()) return runStatusClient(*config, out);

    auto readers = makeReaderDirectory(*config);
    if (readersCmd->parsed()) return diagReaders(readers, diagOptions);
    if (readCmd->parsed()) return diagRead(readers, diagOptions);
    if (apduCmd->parsed()) return diagApdu(readers, diagOptions, apdus, t0Fixups);
    if (watchCmd->parsed()) return diagWatch(*config, out);
    if (checkCmd->parsed()) return diagCheck(readers, diagOptions, *config);
    if (syncCmd->parsed()) return runSync(*config, out);
    if (statusCmd->parsed()) return runListStatus(*config, out);
    if (lookupCmd->parsed()) return runListLookup(*config, out, lookup);
    return out.fail(makeError(ErrorCode::usage, "unknown command"));
}
