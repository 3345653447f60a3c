# The local API's fuzz target (parseRequest and the JSON-RPC error builder): include(api.cmake) at
# the end of test/fuzz/CMakeLists.txt (after sscard_fuzz_target is defined). Seeds: corpus/api/,
# one request line each.
if(NOT SSCARD_FUZZ)
    return()
endif()

sscard_fuzz_target(fuzz_api ${CMAKE_CURRENT_LIST_DIR}/fuzz_api.cpp sscard_api)

# Replays the seed corpus once as a ctest (file arguments are only run, never written to).
file(GLOB _sscard_api_seeds ${CMAKE_CURRENT_LIST_DIR}/corpus/api/*)
add_test(NAME fuzz_api:seeds COMMAND fuzz_api ${_sscard_api_seeds})
set_tests_properties(fuzz_api:seeds PROPERTIES LABELS fuzz)
