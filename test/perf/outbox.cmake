# The outbox/audit durability benchmark (included from test/perf/CMakeLists.txt).
add_executable(bench_outbox ${CMAKE_CURRENT_LIST_DIR}/bench_outbox.cpp)
target_link_libraries(bench_outbox PRIVATE sscard_flags sscard_outbox)
add_test(NAME perf.outbox COMMAND bench_outbox 200)
set_tests_properties(perf.outbox PROPERTIES LABELS perf TIMEOUT 300)

# Bounded growth: 20 000 checks with a 1 000-event outbox and a 5 000-row audit log stay under
# 8 MiB on disk and 64 MiB of RSS growth (the README has a 100 000-check run).
add_executable(bench_bounded_growth ${CMAKE_CURRENT_LIST_DIR}/bench_bounded_growth.cpp)
target_link_libraries(bench_bounded_growth PRIVATE sscard_flags sscard_service)
# Under AddressSanitizer the RSS is ASan's: its quarantine keeps up to 256 MiB of freed memory, so
# the RSS bound there only catches a runaway; the release build checks the real bound (64 MiB).
if(SSCARD_SANITIZE)
    set(sscard_bounded_rss_mb 1024)
else()
    set(sscard_bounded_rss_mb 64)
endif()
add_test(NAME perf.bounded_growth
    COMMAND bench_bounded_growth 20000 1000 5000 8 ${sscard_bounded_rss_mb})
set_tests_properties(perf.bounded_growth PROPERTIES LABELS perf TIMEOUT 300)
