# sscard_unit_test(NAME SOURCES a.cpp b.cpp LIBS sscard_apdu ...): a doctest executable whose test
# cases each become a ctest test named NAME:case.
function(sscard_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE sscard_doctest_main sscard_flags ${T_LIBS})
    # A test that cannot run here prints "sscard-test-skip: why" and returns: ctest shows it as
    # skipped, not passed.
    doctest_discover_tests(${name} TEST_PREFIX "${name}:"
        PROPERTIES LABELS unit SKIP_REGULAR_EXPRESSION "sscard-test-skip:")
endfunction()
