# One helper per kind of target. All C++ targets share one precompiled header (the torch
# headers), built once by diffuse_pch and reused with REUSE_FROM.

set(DIFFUSE_PCH_HEADER "${CMAKE_SOURCE_DIR}/cmake/pch.h")

# Common warnings and the shared precompiled header.
function(diffuse_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
  if(DIFFUSE_USE_PCH)
    if(TARGET diffuse_pch AND NOT target STREQUAL "diffuse_pch")
      target_precompile_headers(${target} REUSE_FROM diffuse_pch)
    endif()
  endif()
endfunction()

# diffuse_add_library(NAME ALIAS SOURCES...): a static library with a diffuse:: alias.
function(diffuse_add_library name alias)
  add_library(${name} STATIC ${ARGN})
  add_library(diffuse::${alias} ALIAS ${name})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  diffuse_target_defaults(${name})
endfunction()

# diffuse_add_modality(NAME [SOURCES...] [LIBS...]): modalities/<name>, library diffuse_<name>.
function(diffuse_add_modality name)
  cmake_parse_arguments(M "" "" "SOURCES;LIBS" ${ARGN})
  diffuse_add_library(diffuse_${name} ${name} ${M_SOURCES})
  target_link_libraries(diffuse_${name} PUBLIC diffuse::core PRIVATE ${M_LIBS})
endfunction()

# diffuse_add_test(NAME SOURCES... [LIBS ...] [LABELS ...]): one GoogleTest binary whose cases
# are discovered by ctest. LABELS defaults to `unit`.
function(diffuse_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE diffuse::core GTest::gtest_main ${T_LIBS})
  diffuse_target_defaults(${name})
  target_include_directories(${name} PRIVATE ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
