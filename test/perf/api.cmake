# The local API benchmark (included from test/perf/CMakeLists.txt): concurrent clients calling
# `status`. CI runs it small (20 clients x 50 calls); run `bench_api 200 500` by hand for the
# figures of the issue (200 concurrent clients).
add_executable(bench_api ${CMAKE_CURRENT_LIST_DIR}/bench_api.cpp)
target_link_libraries(bench_api PRIVATE sscard_flags sscard_api)
add_test(NAME perf.api COMMAND bench_api 20 50)
set_tests_properties(perf.api PROPERTIES LABELS perf TIMEOUT 300)
