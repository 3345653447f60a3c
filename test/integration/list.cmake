# The frozen-card list against a real nginx on loopback (TLS, test CA): sync, deltas, fallbacks, the
# TUF attacks, kill -9 during a large sync. Included from test/integration/CMakeLists.txt.
add_executable(integration_list ${CMAKE_CURRENT_LIST_DIR}/list_feed_test.cpp)
target_link_libraries(integration_list PRIVATE sscard_doctest_main sscard_flags sscard_blacklist)
target_compile_definitions(integration_list PRIVATE
    SSCARD_FEED_BIN="$<TARGET_FILE:sscard-feed>"
    SSCARD_FEED_SERVER_SH="${PROJECT_SOURCE_DIR}/test/env/feed-server.sh")
add_dependencies(integration_list sscard-feed)
add_test(NAME integration.list COMMAND integration_list)
set_tests_properties(integration.list PROPERTIES LABELS "integration" TIMEOUT 600 RUN_SERIAL ON)
