# emporium_service(<name> EXECUTABLE <binary> SOURCES <files…> TESTS <files…>)
# Declares a service the way DESIGN §3 shapes it: `<name>_lib` (every source but main.cpp, its
# migrations embedded, namespace emporium::<name>), the executable from main.cpp, and
# `<name>_tests` linking the library and core/testing. Sources are listed by the caller, never
# globbed.
function(emporium_service name)
  cmake_parse_arguments(S "" "EXECUTABLE" "SOURCES;TESTS" ${ARGN})
  add_library(${name}_lib STATIC ${S_SOURCES})
  target_include_directories(${name}_lib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name}_lib PUBLIC emporium_app)
  target_precompile_headers(${name}_lib PRIVATE <nlohmann/json.hpp> <string> <vector> <optional>)
  emporium_embed_migrations(${name}_lib emporium::${name} ${CMAKE_CURRENT_SOURCE_DIR}/migrations)

  add_executable(${S_EXECUTABLE} main.cpp)
  target_link_libraries(${S_EXECUTABLE} PRIVATE ${name}_lib)

  add_executable(${name}_tests ${S_TESTS})
  target_link_libraries(${name}_tests PRIVATE ${name}_lib emporium_testing GTest::gtest_main)
  target_precompile_headers(${name}_tests PRIVATE <nlohmann/json.hpp> <gtest/gtest.h> <string>
                            <vector> <optional>)
  gtest_discover_tests(${name}_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
