# slipway_cc_library(NAME name SRCS ... DEPS ...): a static library rooted at the repo top, so
# includes read "storage/digest.h" everywhere.
function(slipway_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# slipway_cc_test(NAME name SRCS ... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary
# registered with ctest per test case.
function(slipway_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${ARG_NAME}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
include(GoogleTest)

# slipway_module_tests(DIR dir NAME name DEPS ... [LABELS ...] [TIMEOUT s]): one test binary
# built from every tests/<dir>/*_test.cc.
function(slipway_module_tests)
  cmake_parse_arguments(ARG "" "DIR;NAME;TIMEOUT" "DEPS;LABELS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_DIR}/*_test.cc)
  if(NOT srcs)
    message(FATAL_ERROR "tests/${ARG_DIR} has no *_test.cc")
  endif()
  slipway_cc_test(NAME ${ARG_NAME} SRCS ${srcs} DEPS ${ARG_DEPS}
                  LABELS ${ARG_LABELS} TIMEOUT ${ARG_TIMEOUT})
endfunction()
