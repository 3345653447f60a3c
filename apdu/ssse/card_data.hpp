// What a terminal reads from a social security card (EF05 card management data, EF06 holder data).
// Fields a card leaves empty (all 00 or all FF) are nullopt.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sscard::ssse {

struct Date {
    int year = 0;
    int month = 0;
    int day = 0;
    std::string iso() const;  // "2010-10-01"
    friend bool operator==(const Date&, const Date&) = default;
    friend auto operator<=>(const Date&, const Date&) = default;
};

struct CardInfo {
    std::optional<std::string> card_id;       // 卡识别码, 32 upper-case hex digits
    std::optional<std::string> region;        // first 6 digits of the card id
    std::optional<std::string> card_number;   // 卡号, 9 characters
    bool card_number_valid = false;           // check character verified
    std::optional<std::string> card_type;     // 1 preschool, 2 student, 3 adult, 4 elderly
    std::optional<std::string> spec_version;  // "3.00"
    int generation = 1;                       // from the spec version; empty means 1st
    std::optional<std::string> issuer_id;     // 初始化机构编号, 24 hex digits
    std::optional<Date> issued_on;
    std::optional<Date> expires_on;
    // Fields the card refused without a key (JSON names: "card_number", …), in EF05 order.
    std::vector<std::string> protected_fields;
};

// Personal data: only for callers allowed to see it, masked in logs.
struct HolderInfo {
    std::optional<std::string> ssn;         // 社会保障号码
    std::optional<std::string> name;        // UTF-8: 姓名 followed by 姓名扩展
    std::optional<std::string> sex;         // 1 male, 2 female, 9 unspecified
    std::optional<std::string> ethnicity;   // GB 3304 two digits
    std::optional<std::string> birthplace;  // 6-digit area code
    std::optional<Date> birth_date;
    // Fields the card refused without the read key (JSON names: "ssn", "name", …).
    std::vector<std::string> protected_fields;
};

}  // namespace sscard::ssse
