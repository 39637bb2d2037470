// Key material for tests that sign or verify tokens.
#pragma once

#include <string>

namespace emporium::testing {

// A PEM P-256 private key (PKCS#8), new for each call.
std::string generate_ec_private_key_pem();

}  // namespace emporium::testing
