# The frozen-card list benchmark (included from test/perf/CMakeLists.txt). CI runs it at 100 k
# entries; run `bench_list 10000000` by hand for the 10 M figures.
add_executable(bench_list ${CMAKE_CURRENT_LIST_DIR}/bench_list.cpp)
target_link_libraries(bench_list PRIVATE sscard_flags sscard_blacklist PkgConfig::SQLITE3)
target_compile_definitions(bench_list PRIVATE
    SSCARD_FEED_SERVER_SH="${PROJECT_SOURCE_DIR}/test/env/feed-server.sh")
add_test(NAME perf.list COMMAND bench_list 100000)
set_tests_properties(perf.list PROPERTIES LABELS perf TIMEOUT 600 RUN_SERIAL ON)
