#include "base/url.hpp"

namespace sscard::http {

std::string redactUrl(std::string_view url) {
    std::size_t scheme = url.find("://");
    std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
    std::size_t end = url.find_first_of("/?#", start);
    if (end == std::string_view::npos) end = url.size();
    std::size_t at = url.substr(start, end - start).rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + at));
}

bool isPlainHttp(std::string_view url) {
    constexpr std::string_view kHttp = "http://";
    if (url.size() < kHttp.size()) return false;
    for (std::size_t i = 0; i < kHttp.size(); ++i) {
        char c = url[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kHttp[i]) return false;
    }
    return true;
}

}  // namespace sscard::http
