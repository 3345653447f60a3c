#include "daemon/key_config.hpp"

namespace sscard::daemon {

namespace {
std::uint8_t byte(int v) {
    return static_cast<std::uint8_t>(v);
}
}  // namespace

ssse::PsamOptions psamOptions(const KeysConfig& keys) {
    ssse::PsamOptions options;
    options.aid = fromHex(keys.psam_aid).value_or(options.aid);
    options.levels = keys.psam_levels;
    options.keys[ssse::KeyPurpose::puk] = {byte(keys.psam_puk_usage), byte(keys.psam_puk_key),
                                           byte(keys.psam_puk_key_des)};
    options.keys[ssse::KeyPurpose::read] = {byte(keys.psam_read_usage), byte(keys.psam_read_key),
                                            byte(keys.psam_read_key_des)};
    options.keys[ssse::KeyPurpose::internal] = {byte(keys.psam_internal_usage),
                                                byte(keys.psam_internal_key),
                                                byte(keys.psam_internal_key_des)};
    return options;
}

ssse::AuthKeyIds authKeyIds(const KeysConfig& keys) {
    return {byte(keys.card_internal_id), byte(keys.card_read_id)};
}

ssse::IssuerKeyIds issuerKeyIds(const KeysConfig& keys) {
    return {byte(keys.card_puk_id)};
}

Expected<std::unique_ptr<ssse::SoftwareKeySource>, Error> loadSoftwareKeys(
    const KeysConfig& keys, std::function<void(std::string_view)> warn) {
    ssse::SoftwareKeyOptions options;
    options.enabled = keys.allow_software_keys;
    options.warn = std::move(warn);
    return ssse::SoftwareKeySource::load(keys.file, std::move(options));
}

}  // namespace sscard::daemon
