// apps/options.h: the command-line option parser.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/options.h"

namespace frugal::cli {
namespace {

using namespace std::string_literals;  // "..."s keeps embedded NULs

Options Parse(const Args& args) {
  return Options("train", args, {"--epochs", "--lr", "--model"}, {"--json"});
}

TEST(CliOptions, ParsesValuesAndFlags) {
  const Options o =
      Parse({"--epochs", "12", "--json", "--lr", "0.5", "--model", "m"});
  EXPECT_EQ(o.Size("--epochs", 1), 12u);
  EXPECT_EQ(o.Float("--lr", 1), 0.5f);
  EXPECT_EQ(o.Required("--model"), "m");
  EXPECT_TRUE(o.Has("--json"));
  EXPECT_EQ(o.Size("--missing", 7), 7u);
}

TEST(CliOptions, MalformedCommandLinesAreUsageErrors) {
  EXPECT_THROW(Parse({"--bogus"}), UsageError);
  EXPECT_THROW(Parse({"--epochs", "1", "--epochs", "2"}), UsageError);
  EXPECT_THROW(Parse({"--epochs"}), UsageError);
  EXPECT_THROW(Parse({}).Required("--model"), UsageError);
}

// strtoull alone accepts a leading blank and a sign: " -5" used to be read
// as 2^64 - 5 epochs.
TEST(CliOptions, SizeIsPlainDigitsOnly) {
  for (const std::string& bad :
       std::vector<std::string>{"-5", " -5", " 5", "+5", "5 ", "", "0x10",
                                "1e3", "18446744073709551616",
                                "5\0"s
                                "9"s}) {
    EXPECT_THROW(Parse({"--epochs", bad}).Size("--epochs", 1), UsageError)
        << "'" << bad << "'";
  }
  EXPECT_EQ(Parse({"--epochs", "18446744073709551615"}).Size("--epochs", 1),
            size_t(18446744073709551615ull));
  EXPECT_EQ(Parse({"--epochs", "007"}).Size("--epochs", 1), 7u);
}

TEST(CliOptions, FloatMustBeFiniteAndWhole) {
  for (const std::string& bad :
       std::vector<std::string>{"nan", "inf", "-inf", "1e999", "", "1.5x",
                                "1\0"s
                                "5"s}) {
    EXPECT_THROW(Parse({"--lr", bad}).Float("--lr", 1), UsageError)
        << "'" << bad << "'";
  }
  EXPECT_EQ(Parse({"--lr", "-2.5e-3"}).Float("--lr", 1), -2.5e-3f);
}

}  // namespace
}  // namespace frugal::cli
