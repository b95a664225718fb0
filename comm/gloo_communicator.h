// Communicator over Gloo's TCP transport (internal to comm/).
#pragma once

#include <memory>

#include "comm/communicator.h"

namespace frugal::comm {

// Rendezvous through options.rendezvous ("file:///dir" or
// "redis://host[:port]") under the key prefix options.run_id, then a full
// mesh of TCP connections. Throws std::invalid_argument for a bad
// rendezvous string, CommError when a rank does not arrive in time.
// Sets SIGPIPE to ignored when it has its default action (Gloo's writes
// to a dead peer would otherwise kill the process).
std::unique_ptr<Communicator> ConnectGloo(const ConnectOptions& options);

}  // namespace frugal::comm
