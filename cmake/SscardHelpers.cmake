# sscard_unit_test(NAME SOURCES a.cpp b.cpp LIBS sscard_apdu ...): a doctest executable whose test
# cases each become a ctest test named NAME:case.
function(sscard_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    # ctest's discovery splits a test name at ';', and the halves match no test case: doctest then
    # runs nothing and passes. So no name may have one.
    foreach(source IN LISTS T_SOURCES)
        get_filename_component(path ${source} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
        file(READ ${path} text)
        if(text MATCHES "TEST_CASE\\([ \n]*\"[^\"]*;")
            message(FATAL_ERROR "${source}: a TEST_CASE name with ';' (ctest would never run it)")
        endif()
    endforeach()
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE sscard_doctest_main sscard_flags ${T_LIBS})
    # A test that cannot run here prints "sscard-test-skip: why" and returns: ctest shows it as
    # skipped, not passed.
    doctest_discover_tests(${name} TEST_PREFIX "${name}:"
        PROPERTIES LABELS unit SKIP_REGULAR_EXPRESSION "sscard-test-skip:")
endfunction()
