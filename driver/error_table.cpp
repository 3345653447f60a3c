#include "driver/error_table.hpp"

#include <array>
#include <string_view>

namespace sscard::driver {

namespace {

struct Row {
    std::string_view code;  // the service's data.code, or the link's own
    long value;
    std::string_view text;  // what the holder or operator is told, before the service's message
};

// Every failure class of base/error.hpp, the planned HSM ones and the link's own. A code not in
// the table (a newer service) is kOtherFailure with the service's message.
constexpr std::array kTable{
    Row{"not_ssse_card", kWrongCardType, "卡类型不对(不是社会保障卡)"},
    Row{"no_card", kNoCard, "无卡"},
    Row{"card_removed", kNoAnswer, "卡无应答(操作中卡被拔出)"},
    Row{"card_error", kNoAnswer, "卡无应答或应答无法使用"},
    Row{"no_reader", kReaderLink, "读卡器连接错误"},
    Row{"daemon_unreachable", kReaderLink, "读卡器连接错误(无法连接 sscardd 服务)"},
    Row{"daemon_lost", kReaderLink, "读卡器连接错误(sscardd 服务无应答)"},
    Row{"busy", kReaderBusy, "读卡器忙"},
    Row{"not_allowed", kNotAvailable, "不允许或不支持该操作"},
    Row{"method_missing", kNotAvailable, "sscardd 服务不支持该操作(版本过旧)"},
    Row{"usage", kBadInput, "传入数据不合法"},
    Row{"data_mismatch", kDataMismatch, "传入数据与卡内不符"},
    Row{"pin_weak", kPinPolicy, "新密码不符合密码规则"},
    Row{"pin_wrong", kPinWrong, "密码错误"},
    Row{"pin_blocked", kPinBlocked, "密码已锁"},
    Row{"read_key_required", kNoReadKey, "无读卡密钥RKSSSE,请使用加密机两步读卡"},
    Row{"card_not_genuine", kHsmDisagrees, "内部认证与加密机不一致"},
    Row{"auth_failed", kInternalAuthFailed, "卡认证失败"},
    Row{"no_session", kBadInput, "请先执行 iReadCardBas_HSM_Step1(加密机读卡会话不存在或已过期)"},
    Row{"card_denied", kOtherFailure, "卡已被拒绝使用(冻结名单)"},
    Row{"list_unavailable", kOtherFailure, "冻结名单不可用"},
    Row{"config", kOtherFailure, "sscardd 配置错误"},
    Row{"sync_failed", kOtherFailure, "名单同步失败"},
    Row{"feed_rejected", kOtherFailure, "名单校验失败"},
    Row{"internal", kOtherFailure, "内部错误"},
};

// data.reason values that have a code of their own, whatever the failure class.
constexpr std::array kReasons{
    Row{"no_psam", kNoPsam, "无PSAM卡"},
    Row{"psam_algorithm", kPsamAlgorithm, "PSAM卡不支持该算法(SM4/SSF33)"},
    Row{"psam_no_key", kNoReadKey, "PSAM卡中无RKSSSE密钥"},
};

// PC/SC part 10: what a PIN pad answers instead of the card.
long pinpadCode(unsigned sw) {
    switch (sw) {
        case 0x6400:
            return kPinpadTimeout;
        case 0x6401:
            return kPinpadCancelled;
        case 0x6402:
            return kPinpadMismatch;
        case 0x6403:
            return kPinpadLength;
        default:
            return kOk;
    }
}

std::string pinpadText(long code) {
    switch (code) {
        case kPinpadTimeout:
            return "密码输入超时";
        case kPinpadCancelled:
            return "用户取消密码输入";
        case kPinpadMismatch:
            return "两次输入密码不一致";
        default:
            return "输入密码长度错误";
    }
}

}  // namespace

long statusWordCode(unsigned sw) {
    return -static_cast<long>(sw & 0xFFFFu);
}

Outcome outcomeOf(const Failure& failure) {
    Outcome out{kOtherFailure, "操作失败"};
    for (const Row& row : kTable) {
        if (row.code == failure.code) {
            out = Outcome{row.value, std::string(row.text)};
            break;
        }
    }
    // The finer causes the service gives for PSAM problems (docs/api.md#errors).
    for (const Row& row : kReasons) {
        if (failure.reason && row.code == *failure.reason)
            out = Outcome{row.value, std::string(row.text)};
    }
    // A status word the card (or its PIN pad) answered is the more precise answer.
    if (failure.sw && *failure.sw != 0x9000 &&
        (failure.code == "card_error" || failure.code == "auth_failed")) {
        if (long pad = pinpadCode(*failure.sw); pad != kOk) {
            out = Outcome{pad, pinpadText(pad)};
        } else {
            out = Outcome{statusWordCode(*failure.sw), "卡返回状态字"};
        }
    }
    if (failure.tries_left && (failure.code == "pin_wrong" || failure.code == "auth_failed"))
        out.text += ",剩余" + std::to_string(*failure.tries_left) + "次";
    if (!failure.message.empty()) out.text += ": " + failure.message;
    return out;
}

}  // namespace sscard::driver
