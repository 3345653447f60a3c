// One HTTP client on libcurl: RAII owners of an easy handle and a header list, libcurl's global
// initialisation done once, and a Client that runs one request at a time on a reused handle
// (keeping connections alive between requests). Only http and https, never a redirect, TLS always
// verified (against ca_file when given).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/url.hpp"  // redactUrl, isPlainHttp: for every message about a request

struct curl_slist;

namespace sscard::http {

// curl_global_init, once per process (thread-safe).
void globalInit();

// Owns a CURL easy handle (void in libcurl's API).
class EasyHandle {
  public:
    EasyHandle() = default;      // empty
    static EasyHandle create();  // empty on failure
    EasyHandle(EasyHandle&& o) noexcept;
    EasyHandle& operator=(EasyHandle&& o) noexcept;
    EasyHandle(const EasyHandle&) = delete;
    EasyHandle& operator=(const EasyHandle&) = delete;
    ~EasyHandle();
    void* get() const { return curl_; }
    explicit operator bool() const { return curl_ != nullptr; }

  private:
    void* curl_ = nullptr;
};

// Owns a curl_slist (request header lines).
class HeaderList {
  public:
    HeaderList() = default;
    HeaderList(HeaderList&& o) noexcept;
    HeaderList& operator=(HeaderList&& o) noexcept;
    HeaderList(const HeaderList&) = delete;
    HeaderList& operator=(const HeaderList&) = delete;
    ~HeaderList();
    bool append(const std::string& line);  // false when out of memory (the list is unchanged)
    curl_slist* get() const { return list_; }

  private:
    curl_slist* list_ = nullptr;
};

enum class Method { get, post };

struct Request {
    std::string url;
    Method method = Method::get;
    std::string_view body;             // POST body; must outlive perform()
    std::vector<std::string> headers;  // "Name: value"; "Name:" removes a default header
    std::string user_agent;
    std::string ca_file;                           // empty: the system's CAs
    std::string client_cert;                       // PEM client certificate (TLS); empty: none
    std::string client_key;                        // its PEM private key
    std::chrono::milliseconds connect_timeout{0};  // 0: libcurl's default
    std::chrono::milliseconds total_timeout{0};    // 0: none
    long low_speed_bytes_per_s = 0;                // abort when slower than this ...
    long low_speed_time_s = 0;                     // ... for this long (0: never)
    std::optional<std::uint64_t> max_body_bytes;   // longer: Result::over_limit, aborted
    // Polled while the transfer runs; true aborts it (Result::cancelled).
    std::function<bool()> cancel;
    // Receives the body in pieces; false aborts the transfer (a write error). Unset: discarded.
    std::function<bool(std::string_view)> sink;
};

struct Result {
    int curl_code = 0;  // CURLcode; 0 is CURLE_OK
    std::string error;  // libcurl's text when curl_code != 0
    long status = 0;    // HTTP status of the response (0: none)
    bool cancelled = false;
    bool over_limit = false;
    bool timed_out = false;      // the request's connect or total timeout ran out
    std::uint64_t received = 0;  // body bytes handed to the sink
    bool ok() const { return curl_code == 0; }
};

class Client {
  public:
    Client();  // creates the handle; valid() says whether that worked
    bool valid() const { return static_cast<bool>(easy_); }
    // Creates the handle if it is missing; false when libcurl cannot.
    bool ensureValid();

    Result perform(const Request& request);

    // A header of the last response, by case-insensitive name (curl_easy_header): the value of
    // its last occurrence, nullopt when absent.
    std::optional<std::string> header(const char* name) const;

  private:
    EasyHandle easy_;
};

}  // namespace sscard::http
