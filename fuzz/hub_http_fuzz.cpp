// fuzz/hub_http_fuzz.cpp - fuzz target: arbitrary bytes as the Hugging Face Hub's answers to a
// download (`bertlite embed --model org/name` on a machine that does not have it yet).
//
// Input: raw HTTP responses separated by 0xFF. Two loopback listeners stand in for the network:
// the hub (HF_ENDPOINT) and a second origin (a CDN that a redirect may point to). The k-th
// connection to either gets the k-th response verbatim, then the connection is closed; once the
// responses run out, connections are closed unanswered. In each response "{HUB}" and "{CDN}"
// become the two listeners' URLs, so seeds can redirect without knowing the ports. The harness
// then calls hub_try_download(org/model, config.json) as a user's --model would, with a token.
//
// What must hold (a violation traps, see fuzz_checks.h):
//   - hub_try_download returns or throws a bertlite::Error with a message; no other exception,
//     crash, sanitizer report, or hang (the client's timeouts are 1 s);
//   - a returned file lies inside the cache folder once symlinks are resolved, whatever the
//     X-Repo-Commit, ETag and Location headers said, and its bytes were served in a response;
//   - nothing is written outside the cache folder, and no .incomplete download is left in
//     snapshots/;
//   - a returned file is then found by hub_cached_file without a request;
//   - the token is never sent to the other origin;
//   - error messages hold no control or non-ASCII bytes from the responses (no terminal escape
//     sequences a hostile server could make bertlite print).
//
// Content-length lies, chunked bodies, truncated headers and redirect loops all come from the
// input. Hosts other than the two listeners are not resolved by this machine's resolver quickly
// everywhere; seeds only name {HUB} and {CDN}.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/hub.h"
#include "loopback.h"
#include "util/file.h"

namespace bertlite::fuzz {
namespace {

namespace fs = std::filesystem;

// The responses of the current input, shared by both listeners in the order connections come.
struct Script {
  std::mutex mutex;
  std::vector<std::string> responses;
  std::size_t next = 0;
  bool token_left_the_hub = false;

  // The response for a new connection, or nullopt when the script is used up.
  std::optional<std::string> take() {
    std::lock_guard lock(mutex);
    if (next >= responses.size()) return std::nullopt;
    return responses[next++];
  }
};

Script& script() {
  static Script& s = *new Script;  // never destroyed: the listeners' threads outlive main()
  return s;
}

// A loopback TCP listener answering each connection from script(). Lives for the process.
class Listener {
 public:
  explicit Listener(bool is_hub) : is_hub_(is_hub) {
    socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (socket_ < 0 || ::bind(socket_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(socket_, 64) != 0 ||
        ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::perror("hub_http_fuzz: cannot listen on 127.0.0.1");  // not a finding
      std::abort();
    }
    port_ = ntohs(address.sin_port);
    std::thread([this] { serve(); }).detach();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    for (;;) {
      const int client = ::accept(socket_, nullptr, nullptr);
      if (client < 0) continue;
      timeval timeout{1, 0};
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      // The request line and headers (the client sends no body).
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
        const ssize_t n = retry_on_eintr([&] { return ::recv(client, buffer, sizeof buffer, 0); });
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      // The token in a header; the fuzzer may well put the string itself in a redirect's URL.
      if (!is_hub_ && request.find("Bearer secret-fuzz-token") != std::string::npos) {
        std::lock_guard lock(script().mutex);
        script().token_left_the_hub = true;
      }
      if (const std::optional<std::string> response = script().take()) {
        std::size_t sent = 0;
        while (sent < response->size()) {
          const ssize_t n = retry_on_eintr([&] {
            return ::send(client, response->data() + sent, response->size() - sent, MSG_NOSIGNAL);
          });
          if (n <= 0) break;
          sent += static_cast<std::size_t>(n);
        }
      }
      ::shutdown(client, SHUT_WR);
      ::close(client);
    }
  }

  bool is_hub_;
  int socket_ = -1;
  int port_ = 0;
};

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
}

bool inside(const fs::path& path, const fs::path& folder) {
  const std::string p = path.string(), f = folder.string() + "/";
  return p.compare(0, f.size(), f) == 0;
}

void run(const std::uint8_t* data, std::size_t size) {
  // Never destroyed: their threads serve until the process exits.
  static Listener& hub = *new Listener(true);
  static Listener& cdn = *new Listener(false);
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<std::string> responses;
  std::string served;  // everything the listeners may send, for the "bytes were served" check
  for (std::size_t start = 0; start <= input.size();) {
    const std::size_t end = std::min(input.find('\xFF', start), input.size());
    std::string response(input.substr(start, end - start));
    replace_all(response, "{HUB}", hub.url());
    replace_all(response, "{CDN}", cdn.url());
    served += response;
    responses.push_back(std::move(response));
    start = end + 1;
  }
  {
    std::lock_guard lock(script().mutex);
    script().responses = std::move(responses);
    script().next = 0;
    script().token_left_the_hub = false;
  }

  remove_scratch_file("hub");
  const fs::path cache = scratch_folder() / "hub";
  fs::create_directories(cache);
  io::HubSettings settings;
  settings.cache_dir = cache;
  settings.endpoint = hub.url();
  settings.token = "secret-fuzz-token";
  settings.etag_timeout_seconds = 1;
  settings.download_timeout_seconds = 1;

  std::optional<fs::path> file;
  try {
    file = io::hub_try_download(settings, "org/model", "config.json");
  } catch (const Error& error) {
    FUZZ_CHECK(error.what()[0] != '\0');
    trace("error:", error.what());
    for (const char* c = error.what(); *c; ++c) {
      const auto byte = static_cast<unsigned char>(*c);
      FUZZ_CHECK(byte >= 0x20 && byte < 0x7F);
    }
  }

  {
    std::lock_guard lock(script().mutex);
    FUZZ_CHECK(!script().token_left_the_hub);
    script().responses.clear();  // whatever the client asks from now on goes unanswered
  }
  // Nothing beside the cache folder; nothing half-downloaded where a reader would look.
  for (const auto& entry : fs::directory_iterator(scratch_folder())) {
    FUZZ_CHECK(entry.path().filename() == "hub");
  }
  const fs::path canonical_cache = fs::canonical(cache);
  for (const auto& entry : fs::recursive_directory_iterator(cache)) {
    const std::string name = entry.path().filename().string();
    if (inside(entry.path(), cache / "models--org--model" / "snapshots")) {
      FUZZ_CHECK(!name.ends_with(".incomplete"));
    }
    std::error_code error;
    const fs::path target = fs::weakly_canonical(entry.path(), error);
    FUZZ_CHECK(error || inside(target, canonical_cache));
  }
  if (!file) return;
  trace("downloaded", file->string());
  FUZZ_CHECK(fs::is_regular_file(*file));
  FUZZ_CHECK(inside(fs::canonical(*file), canonical_cache));
  const std::string contents = util::read_file(*file);
  FUZZ_CHECK(served.find(contents) != std::string::npos);
  // Settled in the cache: found again without the network.
  const std::optional<fs::path> cached = io::hub_cached_file(settings, "org/model", "config.json");
  FUZZ_CHECK(cached && fs::equivalent(*cached, *file));
}

}  // namespace
}  // namespace bertlite::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return bertlite::fuzz::run_guarded(bertlite::fuzz::run, data, size);
}
