#include "base/errno_text.hpp"

#include <string.h>

namespace sscard {

std::string errnoText(int err) {
    char buf[256];
    // GNU strerror_r returns the message (which may or may not be buf).
    return std::string(strerror_r(err, buf, sizeof buf));
}

}  // namespace sscard
