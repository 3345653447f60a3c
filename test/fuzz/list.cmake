# The list feed's fuzz target: include(list.cmake) at the end of test/fuzz/CMakeLists.txt (after
# sscard_fuzz_target is defined). Seeds: corpus/feed/ — each file's first byte picks the parser
# (0 top file, 1 manifest, 2 snapshot/delta, 3 CSV), the rest is its input.
if(NOT SSCARD_FUZZ)
    return()
endif()

sscard_fuzz_target(fuzz_feed ${CMAKE_CURRENT_LIST_DIR}/fuzz_feed.cpp sscard_blacklist)

# Replays the seed corpus once as a ctest (file arguments are only run, never written to).
file(GLOB _sscard_feed_seeds ${CMAKE_CURRENT_LIST_DIR}/corpus/feed/*)
add_test(NAME fuzz_feed:seeds COMMAND fuzz_feed ${_sscard_feed_seeds})
set_tests_properties(fuzz_feed:seeds PROPERTIES LABELS fuzz)
