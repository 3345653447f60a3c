# The outbox/audit durability benchmark (included from test/perf/CMakeLists.txt).
add_executable(bench_outbox ${CMAKE_CURRENT_LIST_DIR}/bench_outbox.cpp)
target_link_libraries(bench_outbox PRIVATE sscard_flags sscard_outbox)
add_test(NAME perf.outbox COMMAND bench_outbox 200)
set_tests_properties(perf.outbox PROPERTIES LABELS perf TIMEOUT 300)
