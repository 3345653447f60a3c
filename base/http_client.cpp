#include "base/http_client.hpp"

#include <curl/curl.h>

#include <mutex>
#include <utility>

namespace sscard::http {
namespace {

struct Transfer {
    const Request* request = nullptr;
    Result* result = nullptr;
};

std::size_t onData(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    const auto& limit = t->request->max_body_bytes;
    if (limit && t->result->received + len > *limit) {
        t->result->over_limit = true;
        return 0;
    }
    t->result->received += len;
    if (t->request->sink && !t->request->sink(std::string_view(data, len))) return 0;
    return len;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (!t->request->cancel()) return 0;
    t->result->cancelled = true;
    return 1;  // non-zero aborts the transfer
}

}  // namespace

void globalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

EasyHandle EasyHandle::create() {
    globalInit();
    EasyHandle h;
    h.curl_ = curl_easy_init();
    return h;
}

EasyHandle::EasyHandle(EasyHandle&& o) noexcept : curl_(std::exchange(o.curl_, nullptr)) {}

EasyHandle& EasyHandle::operator=(EasyHandle&& o) noexcept {
    if (this != &o) {
        if (curl_) curl_easy_cleanup(curl_);
        curl_ = std::exchange(o.curl_, nullptr);
    }
    return *this;
}

EasyHandle::~EasyHandle() {
    if (curl_) curl_easy_cleanup(curl_);
}

HeaderList::HeaderList(HeaderList&& o) noexcept : list_(std::exchange(o.list_, nullptr)) {}

HeaderList& HeaderList::operator=(HeaderList&& o) noexcept {
    if (this != &o) {
        curl_slist_free_all(list_);
        list_ = std::exchange(o.list_, nullptr);
    }
    return *this;
}

HeaderList::~HeaderList() {
    curl_slist_free_all(list_);
}

bool HeaderList::append(const std::string& line) {
    curl_slist* l = curl_slist_append(list_, line.c_str());
    if (!l) return false;
    list_ = l;
    return true;
}

Client::Client() : easy_(EasyHandle::create()) {}

bool Client::ensureValid() {
    if (!easy_) easy_ = EasyHandle::create();
    return valid();
}

Result Client::perform(const Request& request) {
    Result result;
    auto fail = [&](CURLcode rc) {
        result.curl_code = rc;
        result.error = curl_easy_strerror(rc);
        return result;
    };
    if (!easy_) return fail(CURLE_FAILED_INIT);
    CURL* curl = easy_.get();
    Transfer t{&request, &result};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
    if (!request.client_cert.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, request.client_cert.c_str());
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!request.client_key.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, request.client_key.c_str());
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
    if (request.total_timeout.count() > 0) {
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                         static_cast<long>(request.total_timeout.count()));
    }
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, request.low_speed_bytes_per_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.low_speed_time_s);
    if (request.max_body_bytes) {
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                         static_cast<curl_off_t>(*request.max_body_bytes));
    }
    if (request.method == Method::post) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    if (!request.user_agent.empty()) {
        curl_easy_setopt(curl, CURLOPT_USERAGENT, request.user_agent.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onData);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (request.cancel) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &onProgress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    }
    HeaderList headers;
    for (const auto& h : request.headers) {
        if (!headers.append(h)) return fail(CURLE_OUT_OF_MEMORY);
    }
    if (headers.get()) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());

    CURLcode rc = curl_easy_perform(curl);
    // The list dies with this call; the handle must not keep pointing at it.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    if (rc == CURLE_FILESIZE_EXCEEDED) result.over_limit = true;
    if (rc == CURLE_OPERATION_TIMEDOUT) result.timed_out = true;
    if (rc != CURLE_OK) {
        result.curl_code = rc;
        result.error = curl_easy_strerror(rc);
    }
    return result;
}

std::optional<std::string> Client::header(const char* name) const {
    if (!easy_) return std::nullopt;
    curl_header* h = nullptr;
    if (curl_easy_header(easy_.get(), name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return std::nullopt;
    }
    if (h->amount > 1 &&
        curl_easy_header(easy_.get(), name, h->amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return std::nullopt;
    }
    return std::string(h->value);
}

}  // namespace sscard::http
