// The text of an errno value ("No such file or directory"), thread-safe.
#pragma once

#include <string>

namespace sscard {

std::string errnoText(int err);

}  // namespace sscard
