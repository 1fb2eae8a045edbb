// io/http.h - the small HTTP(S) client the hub download needs: HEAD and streaming GET.
//
// A thin layer over cpp-httplib that keeps it out of every other header. It does what the
// Hugging Face Hub protocol needs and no more: redirects are followed by hand so a caller can
// read the headers of a redirect response (the hub puts file metadata there) and so the
// Authorization header never leaves the origin it was meant for. Bodies stream into a
// callback, never into memory. Compression is refused (Accept-Encoding: identity) so byte
// counts and Range offsets are file offsets. Requests say "User-Agent: bertlite/<version>"
// unless the caller sets one.
//
// Errors are IoError one-liners naming the URL. Does not: retry, cache, or use proxies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bertlite::io::http {

// An absolute http:// or https:// URL split into what a connection needs.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  int port = 0;        // explicit, or 80 / 443 from the scheme
  std::string target;  // path and query, always starting with '/'

  // Parses an absolute URL. Throws InvalidArgument naming it.
  static Url parse(std::string_view url);
  // "scheme://host:port": two URLs may share credentials only if their origins are equal.
  std::string origin() const;
  std::string str() const;
  // The URL a Location header points to, relative to this one (RFC 3986 reference forms
  // "//host/x", "/x", "x" and absolute URLs).
  Url resolve(std::string_view location) const;
};

// Header names compare case-insensitively; order is kept as sent.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;
  Headers headers;
  std::string url;  // the URL that produced this response (after any redirects followed)

  // The first header called `name` (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
  bool is_redirect() const {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }
};

struct Timeouts {
  int connect_seconds = 10;
  int read_seconds = 10;  // longest silence between two reads
};

// HEAD `url`, following redirects only while they stay on url's origin; a redirect to another
// origin (a CDN) is returned as is, with its headers. Throws IoError if no response arrives.
Response head(const std::string& url, const Headers& headers, const Timeouts& timeouts);

// GET `url`, following up to 10 redirects and dropping Authorization once a redirect leaves
// url's origin. `on_response` sees the final status and headers first and returns whether to
// receive the body; `on_data` then gets it in pieces and returns false to stop. Throws IoError
// if no response arrives or the body ends before its Content-Length ("... after N of M bytes");
// a stop requested by `on_data` is not an error.
Response get(const std::string& url, const Headers& headers, const Timeouts& timeouts,
             const std::function<bool(const Response&)>& on_response,
             const std::function<bool(const char* data, std::size_t size)>& on_data);

// GET a small body into a string (tests, control endpoints). Throws like get().
Response get_text(const std::string& url, const Headers& headers, const Timeouts& timeouts,
                  std::string* body);

// `text` (a URL, a header value: bytes a server chose) with every control, space, DEL and
// non-ASCII byte percent-encoded: a valid request target once resolved, and safe to print in an
// error message (no terminal escape sequences, no raw invalid UTF-8). '%' itself is kept, so an
// already encoded URL is unchanged.
std::string printable(std::string_view text);

// Percent-encodes everything but unreserved characters and `safe` (Python's urllib.parse.quote).
std::string quote(std::string_view text, std::string_view safe = "/");

// A decimal header value (Content-Length, X-Linked-Size, a port): digits only, at most 19 of
// them so it cannot overflow; nullopt otherwise.
std::optional<std::uint64_t> parse_length(const std::optional<std::string>& text);

}  // namespace bertlite::io::http
