// Running a helper process of the service (the list sync) and collecting its standard output.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::daemon {

struct ChildResult {
    int status = 0;  // exit status; 128 + signal when killed
    std::string output;
};

// Runs args[0] (a path) with args, without the caller's blocked signals. `pid` holds the child's
// pid while it runs, so that stopping the service can end it.
Expected<ChildResult, Error> runChild(const std::vector<std::string>& args,
                                      std::atomic<pid_t>& pid);

}  // namespace sscard::daemon
