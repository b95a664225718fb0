// `frugal launch`: runs N ranks of a data-parallel job on this machine.
#pragma once

#include <string>
#include <vector>

namespace frugal::cli {

extern const char kLaunchUsage[];

// args: the arguments after "launch". Returns the exit status: 0 when every
// rank exits 0; else the first failing rank's status (1 when it was killed
// by a signal), 2 for a malformed command line (message on stderr).
int RunLaunch(const std::vector<std::string>& args);

}  // namespace frugal::cli
