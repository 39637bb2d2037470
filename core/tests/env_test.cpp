#include "emporium/config/env.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace emporium {
namespace {

TEST(Env, TypedAccessorsNameTheVariable) {
  auto env = Env::from_map({{"PORT", "80x"}, {"N", "5"}, {"B", "maybe"}, {"L", " a, b ,,c "}});
  try {
    env.integer("PORT", 1, 0, 65535);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("PORT"), std::string::npos);
  }
  EXPECT_EQ(env.integer("N", 1, 0, 10), 5);
  EXPECT_THROW(env.integer("N", 1, 6, 10), ConfigError);
  EXPECT_EQ(env.integer("ABSENT", 7, 0, 10), 7);
  EXPECT_THROW(env.boolean("B", false), ConfigError);
  EXPECT_THROW(env.required("ABSENT"), ConfigError);
  EXPECT_EQ(env.list("L", ""), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Env, DotenvIsReadAndTheEnvironmentWins) {
  char path[] = "/tmp/emporium-env-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "# comment\nEMPORIUM_T1=from_file\nexport EMPORIUM_T2=\"quoted "
           "value\"\nEMPORIUM_T3=file\n";
  }
  setenv("EMPORIUM_T3", "from_env", 1);
  auto env = Env::load(path);
  EXPECT_EQ(env.string("EMPORIUM_T1", ""), "from_file");
  EXPECT_EQ(env.string("EMPORIUM_T2", ""), "quoted value");
  EXPECT_EQ(env.string("EMPORIUM_T3", ""), "from_env");
  unsetenv("EMPORIUM_T3");
  std::remove(path);
}

TEST(Env, MalformedDotenvLineStopsStartUp) {
  char path[] = "/tmp/emporium-env-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "JUST_A_WORD\n";
  }
  EXPECT_THROW(Env::load(path), ConfigError);
  std::remove(path);
}

}  // namespace
}  // namespace emporium
