// Plain-socket HTTP/1.1 for tests of the server over loopback: what a misbehaving or simple
// client does (partial requests, stalls, raw bytes), which a real HTTP client would not send.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace emporium::testing {

// A connected socket to 127.0.0.1:port with a 10 s receive timeout, or -1.
int connect_to(std::uint16_t port);
// Sends all of `data` (stops quietly when the peer closed).
void send_all(int fd, const std::string& data);
// Reads one response: headers, then Content-Length bytes (none when `head`); or what came
// before the peer closed or the receive timeout passed.
std::string read_response(int fd, bool head = false);
// send_all + read_response on `fd`.
std::string roundtrip(int fd, const std::string& request, bool head = false);
// The same on a new connection, closed afterwards.
std::string request_on(std::uint16_t port, const std::string& request, bool head = false);
// True when the peer closed `fd` within `timeout`.
bool closed_within(int fd, std::chrono::milliseconds timeout);
// A loopback port nothing listens on at the time of the call.
std::uint16_t free_port();

}  // namespace emporium::testing
