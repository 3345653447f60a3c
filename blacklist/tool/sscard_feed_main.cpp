// sscard-feed: the publisher of the frozen-card list feed (docs/cli.md#sscard-feed).
//   sscard-feed keygen --out DIR
//   sscard-feed publish --key FILE [--key FILE…] --input LIST.csv --out DIR [--expires DURATION]
// Exit status: 0 success; 2 usage error or rejected input (bad CSV rows are listed with their line
// numbers); 1 other failures.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "blacklist/publish.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/wipe.hpp"

using namespace sscard;
using namespace sscard::blacklist;

namespace {

int keygen(const std::string& out) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    auto kp = crypto::ed25519Generate();
    if (!kp) {
        std::cerr << "sscard-feed: " << kp.error().message << "\n";
        return 1;
    }
    std::filesystem::path dir(out);
    auto w = crypto::writeEd25519PrivateKey(dir / "feed.key", kp->secret);
    crypto::wipe(kp->secret);
    if (!w) {
        std::cerr << "sscard-feed: " << w.error().message << "\n";
        return 1;
    }
    auto p = crypto::writeEd25519PublicKey(dir / "feed.pub", kp->public_key);
    if (!p) {
        std::cerr << "sscard-feed: " << p.error().message << "\n";
        return 1;
    }
    std::cout << "key id " << keyId(kp->public_key) << "\n"
              << (dir / "feed.key").string() << " (private, mode 0600)\n"
              << (dir / "feed.pub").string() << "\n";
    return 0;
}

int publishCmd(const std::vector<std::string>& key_files, const std::string& input,
               const std::string& out, const std::string& expires, std::size_t history) {
    PublishOptions o;
    o.out_dir = out;
    o.history = history;
    auto d = parseDuration(expires);
    if (!d || *d <= 0) {
        std::cerr << "sscard-feed: bad --expires \"" << expires << "\" (e.g. 90s, 15m, 24h, 7d)\n";
        return 2;
    }
    o.expires_s = *d;
    for (const auto& kf : key_files) {
        auto sec = crypto::readEd25519PrivateKey(kf);
        if (!sec) {
            std::cerr << "sscard-feed: " << sec.error().message << "\n";
            return 2;
        }
        auto pub = crypto::ed25519PublicFromSecret(*sec);
        if (!pub) {
            std::cerr << "sscard-feed: " << pub.error().message << "\n";
            return 1;
        }
        o.keys.push_back({std::move(*sec), std::move(*pub)});
    }
    auto csv = readCsvFile(input);
    if (!csv.ok()) {
        for (const auto& p : csv.problems) {
            std::cerr << input << ":" << p.line << ": " << p.message << "\n";
        }
        std::cerr << "sscard-feed: " << input << " refused; nothing published\n";
        return 2;
    }
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    auto r = publish(csv.records, o);
    for (auto& k : o.keys) crypto::wipe(k.secret);
    if (!r) {
        std::cerr << "sscard-feed: " << r.error().message << "\n";
        return r.error().code == ErrorCode::usage ? 2 : 1;
    }
    std::cout << "published version " << r->version << ": " << r->count << " entries, snapshot "
              << r->snapshot_bytes << " bytes";
    for (const auto& [from, bytes] : r->deltas) {
        std::cout << ", delta from " << from << " " << bytes << " bytes";
    }
    std::cout << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sscard-feed: publishes the signed frozen-card list feed"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "sscard-feed " SSCARD_VERSION);
    std::string kg_out;
    auto* kg = app.add_subcommand("keygen", "create a signing key pair DIR/feed.key, DIR/feed.pub");
    kg->add_option("--out", kg_out, "directory")->required();
    std::vector<std::string> keys;
    std::string input, out, expires = "24h";
    std::size_t history = 8;
    auto* pub = app.add_subcommand("publish", "publish LIST.csv as the next feed version in DIR");
    pub->add_option("--key", keys, "private key file (repeat to sign with several keys)")
        ->required();
    pub->add_option("--input", input, "CSV export")->required();
    pub->add_option("--out", out, "feed directory")->required();
    pub->add_option("--expires", expires, "top file lifetime (default 24h)");
    pub->add_option("--history", history, "deltas from this many earlier versions (default 8)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (kg->parsed()) return keygen(kg_out);
    return publishCmd(keys, input, out, expires, history);
}
