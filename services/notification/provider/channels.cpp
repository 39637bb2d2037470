#include "provider/channels.hpp"

namespace emporium::notification::provider {

const char* to_string(Delivery::Kind kind) {
  switch (kind) {
    case Delivery::Kind::Sent: return "sent";
    case Delivery::Kind::Retry: return "retry";
    case Delivery::Kind::Fail: return "fail";
  }
  return "unknown";
}

}  // namespace emporium::notification::provider
