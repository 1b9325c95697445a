// Listener: the node's one listening TCP socket, bound before anything else
// happens (design.md §14: a port in use, or a listen address the node cannot
// use, fails at once and leaves the data dir untouched). The server adopts
// the socket later and starts accepting on it.
#ifndef CONCORDANCE_GATEWAY_LISTENER_H_
#define CONCORDANCE_GATEWAY_LISTENER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace concordance::gateway {

class Listener {
 public:
  // Resolves `host` (a numeric address, or a name such as "localhost",
  // which must resolve to exactly one usable address family), binds
  // host:port and listens. port 0 takes any free port.
  static absl::StatusOr<Listener> Bind(const std::string& host, uint16_t port);

  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // The listening socket; Release() hands ownership to the caller.
  int fd() const { return fd_; }
  int Release();
  bool ipv6() const { return ipv6_; }
  // The numeric address bound ("127.0.0.1", "::1") and the port.
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  // True when bound to 127.0.0.0/8 or ::1.
  bool loopback() const { return loopback_; }

 private:
  Listener() = default;
  int fd_ = -1;
  bool ipv6_ = false;
  bool loopback_ = false;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_LISTENER_H_
