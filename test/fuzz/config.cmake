# The configuration parser's fuzz target: include(config.cmake) at the end of
# test/fuzz/CMakeLists.txt (after sscard_fuzz_target is defined). Seeds: corpus/config/.
if(NOT SSCARD_FUZZ)
    return()
endif()

sscard_fuzz_target(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp sscard_config)

# Replays the seed corpus once as a ctest (file arguments are only run, never written to).
file(GLOB _sscard_config_seeds ${CMAKE_CURRENT_LIST_DIR}/corpus/config/*)
add_test(NAME fuzz_config:seeds COMMAND fuzz_config ${_sscard_config_seeds})
set_tests_properties(fuzz_config:seeds PROPERTIES LABELS fuzz)
