# add_subdirectory for each listed child folder that has a CMakeLists.txt (lets modules arrive one by one).
function(sscard_add_existing_subdirs)
    foreach(dir ${ARGN})
        if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
            add_subdirectory(${dir})
        endif()
    endforeach()
endfunction()

# sscard_unit_test(NAME SOURCES a.cpp b.cpp LIBS sscard_apdu ...): a doctest executable whose test
# cases each become a ctest test named NAME:case.
function(sscard_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/test/unit/doctest_main.cpp)
    target_link_libraries(${name} PRIVATE doctest::doctest sscard_flags ${T_LIBS})
    doctest_discover_tests(${name} TEST_PREFIX "${name}:" PROPERTIES LABELS unit)
endfunction()
