// A temporary directory for an API server's socket, removed afterwards.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace sscard::api::test {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/sscard-api-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        path_ = d ? d : "";
        if (!path_.empty()) ::chmod(path_.c_str(), 0755);  // other users' tests traverse it
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace sscard::api::test
