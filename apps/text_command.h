// `frugal text train|evaluate|predict`: the classifier from raw CSV
// (nn/classifier.h) on the command line.
#pragma once

#include <string>
#include <vector>

namespace frugal::cli {

// Runs `frugal text <args...>`; returns the exit status (0 success, 1
// runtime error, 2 malformed command line, after printing the message and
// kTextUsage to stderr). Runtime errors propagate as exceptions.
int RunText(const std::vector<std::string>& args);

extern const char kTextUsage[];

}  // namespace frugal::cli
