# Tap → read through libnfc (PN532 emulator) vs insertion → read through PC/SC (included from
# test/perf/CMakeLists.txt). Needs pcscd with the vpcd readers, like perf.card_read.
add_executable(bench_nfc ${CMAKE_CURRENT_LIST_DIR}/bench_nfc.cpp)
target_link_libraries(bench_nfc PRIVATE sscard_cli)
add_test(NAME perf.nfc
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_nfc.sh $<TARGET_FILE:bench_nfc> 10)
set_tests_properties(perf.nfc PROPERTIES FIXTURES_REQUIRED pcscd RESOURCE_LOCK pcscd
    LABELS perf TIMEOUT 600 ENVIRONMENT "SSCARD_ENV_DIR=/tmp/sscard-env")
