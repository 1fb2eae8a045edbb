// fuzz/loopback.h - socket calls for the harnesses that talk to a server over 127.0.0.1
// (server_request_fuzz, hub_http_fuzz), made safe against interruption.
//
// libFuzzer enforces -timeout with SIGALRM, installed without SA_RESTART, so a blocking
// connect, accept, send, recv or poll can return -1 with errno EINTR at any moment. Taken as a
// failure, that is a finding that is not one: server_request_fuzz reported "cannot connect to the
// server: Interrupted system call" after 17,896 inputs, an input that then replays clean.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace bertlite::fuzz {

// Calls `call` again while it fails with EINTR; returns what it finally returned.
template <typename Call>
auto retry_on_eintr(Call call) {
  for (;;) {
    const auto result = call();
    if (result >= 0 || errno != EINTR) return result;
  }
}

// A socket connected to 127.0.0.1:port, or -1 with errno set. A connect interrupted by a signal
// goes on in the background (calling connect() again would fail with EALREADY), so it is
// waited for until the socket is writable, and its outcome read from SO_ERROR.
inline int connect_loopback(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return s;
  if (errno == EINTR) {
    pollfd writable{s, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (retry_on_eintr([&] { return ::poll(&writable, 1, -1); }) == 1 &&
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
      return s;
    }
    if (error != 0) errno = error;
  }
  const int saved = errno;
  ::close(s);
  errno = saved;
  return -1;
}

}  // namespace bertlite::fuzz
