// io/http.cpp - HEAD and streaming GET over cpp-httplib, with redirects followed by hand.
#include "io/http.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include "bertlite/error.h"

namespace bertlite::io::http {
namespace {

// Enough for the hub's resolve -> CDN hop plus a renamed-repo hop, with room to spare; a loop
// longer than this is a misconfigured server.
constexpr int kMaxRedirects = 10;
constexpr const char* kUserAgent = "bertlite/0.1.0";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "connection closed or timed out";
    case httplib::Error::Write:
      return "write failed";
    case httplib::Error::SSLConnection:
      return "TLS connection failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the system's CA certificates";
    case httplib::Error::SSLServerVerification:
      return "server certificate could not be verified";
    default:
      return httplib::to_string(error);
  }
}

// One connection's worth of client, configured the same way for every request.
std::unique_ptr<httplib::Client> make_client(const Url& url, const Timeouts& timeouts) {
  auto client = std::make_unique<httplib::Client>(url.scheme + "://" + host_for_url(url.host) +
                                                  ":" + std::to_string(url.port));
  if (!client->is_valid()) {
    throw IoError(url.str() + ": cannot open a " + url.scheme + " connection" +
                  (url.scheme == "https" ? " (built without TLS support)" : ""));
  }
  client->set_connection_timeout(timeouts.connect_seconds, 0);
  client->set_read_timeout(timeouts.read_seconds, 0);
  client->set_write_timeout(timeouts.read_seconds, 0);
  client->set_follow_location(false);  // redirects are followed below, header by header
  client->set_decompress(false);       // and bodies are the file's bytes, never re-encoded
  client->set_keep_alive(false);
  return client;
}

httplib::Headers to_httplib(const Headers& headers, bool keep_authorization) {
  httplib::Headers out;
  bool has_encoding = false;
  bool has_agent = false;
  for (const auto& [name, value] : headers) {
    if (!keep_authorization && iequals(name, "Authorization")) continue;
    has_encoding = has_encoding || iequals(name, "Accept-Encoding");
    has_agent = has_agent || iequals(name, "User-Agent");
    out.emplace(name, value);
  }
  if (!has_encoding) out.emplace("Accept-Encoding", "identity");
  if (!has_agent) out.emplace("User-Agent", kUserAgent);
  return out;
}

Response from_httplib(const httplib::Response& res, const Url& url) {
  Response out;
  out.status = res.status;
  out.url = url.str();
  for (const auto& [name, value] : res.headers) out.headers.emplace_back(name, value);
  return out;
}

}  // namespace

Url Url::parse(std::string_view text) {
  const auto fail = [&](const char* why) {
    return InvalidArgument("URL '" + printable(text) + "': " + why);
  };
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) throw fail("expected scheme://host/path");
  Url url;
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https")
    throw fail("only http and https are supported");
  std::string_view rest = text.substr(colon + 3);
  const std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  rest.remove_prefix(authority_end);
  if (authority.find('@') != std::string_view::npos) throw fail("credentials in URLs are refused");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw fail("unclosed IPv6 bracket");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw fail("unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t port_colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port_text = authority.substr(port_colon + 1);
  }
  if (url.host.empty()) throw fail("no host");
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    const auto port = parse_length(std::string(port_text));
    if (!port || *port == 0 || *port > 65535) throw fail("bad port");
    url.port = static_cast<int>(*port);
  }
  rest = rest.substr(0, rest.find('#'));
  url.target = rest.empty() ? "/" : std::string(rest);
  if (url.target.front() == '?') url.target = "/" + url.target;
  return url;
}

std::string Url::origin() const {
  return scheme + "://" + host_for_url(host) + ":" + std::to_string(port);
}

std::string Url::str() const {
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on the one-liner.
  std::string out = scheme + "://" + host_for_url(host);
  if (!default_port) {
    out += ':';
    out += std::to_string(port);
  }
  out += target;
  return out;
}

Url Url::resolve(std::string_view raw_location) const {
  // A Location header is whatever the server sent; browsers encode its unsafe bytes the same way.
  const std::string encoded = printable(raw_location);
  const std::string_view location = encoded;
  const std::size_t scheme_end = location.find("://");
  const std::size_t first_special = location.find_first_of("/?#");
  if (scheme_end != std::string_view::npos && scheme_end < first_special) return parse(location);
  if (location.substr(0, 2) == "//") return parse(scheme + ":" + std::string(location));
  Url out = *this;
  if (!location.empty() && location.front() == '/') {
    out.target = std::string(location);
  } else if (!location.empty() && location.front() == '?') {
    out.target = target.substr(0, target.find('?')) + std::string(location);
  } else {
    const std::string path = target.substr(0, target.find('?'));
    out.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  out.target = out.target.substr(0, out.target.find('#'));
  return out;
}

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

Response head(const std::string& url_text, const Headers& headers, const Timeouts& timeouts) {
  Url url = Url::parse(url_text);
  const httplib::Headers request_headers = to_httplib(headers, true);
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    auto client = make_client(url, timeouts);
    httplib::Result result = client->Head(url.target, request_headers);
    if (!result) throw IoError("HEAD " + url.str() + ": " + describe(result.error()));
    Response response = from_httplib(*result, url);
    const auto location = response.header("Location");
    if (!response.is_redirect() || !location) return response;
    const Url next = url.resolve(*location);
    // Metadata of a file served elsewhere (a CDN) is on this redirect response itself.
    if (next.origin() != url.origin()) return response;
    url = next;
  }
  throw IoError("HEAD " + url_text + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

Response get(const std::string& url_text, const Headers& headers, const Timeouts& timeouts,
             const std::function<bool(const Response&)>& on_response,
             const std::function<bool(const char*, std::size_t)>& on_data) {
  Url url = Url::parse(url_text);
  const std::string first_origin = url.origin();
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    // A token for the hub must not reach a CDN or any other host a redirect names.
    const httplib::Headers request_headers = to_httplib(headers, url.origin() == first_origin);
    auto client = make_client(url, timeouts);
    Response response;
    bool got_response = false;
    bool redirected = false;
    bool stopped = false;
    std::uint64_t received = 0;
    httplib::Result result = client->Get(
        url.target, request_headers,
        [&](const httplib::Response& res) {
          response = from_httplib(res, url);
          got_response = true;
          if (response.is_redirect() && response.header("Location")) {
            redirected = true;
            return false;
          }
          stopped = !on_response(response);
          return !stopped;
        },
        [&](const char* data, std::size_t size) {
          received += size;
          stopped = !on_data(data, size);
          return !stopped;
        });
    if (redirected) {
      url = url.resolve(*response.header("Location"));
      continue;
    }
    if (stopped) return response;
    const auto expected = parse_length(response.header("Content-Length"));
    if (!result || (expected && received < *expected)) {
      if (!got_response) throw IoError("GET " + url.str() + ": " + describe(result.error()));
      throw IoError("GET " + url.str() + ": transfer ended after " + std::to_string(received) +
                    " of " + (expected ? std::to_string(*expected) : std::string("?")) + " bytes" +
                    (result ? "" : " (" + describe(result.error()) + ")"));
    }
    return response;
  }
  throw IoError("GET " + url_text + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

Response get_text(const std::string& url, const Headers& headers, const Timeouts& timeouts,
                  std::string* body) {
  body->clear();
  return get(
      url, headers, timeouts, [](const Response&) { return true; },
      [&](const char* data, std::size_t size) {
        body->append(data, size);
        return true;
      });
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F) {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

std::string quote(std::string_view text, std::string_view safe) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || c == '-' || c == '.' || c == '_' || c == '~' ||
        safe.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_length(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

}  // namespace bertlite::io::http
