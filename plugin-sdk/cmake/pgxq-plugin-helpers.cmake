# pgxq_add_plugin(<name> <sources...>): builds <name>.so as a MODULE library the way pgxqd
# loads it: no "lib" prefix, linked to the SDK target that fits its sources (C or C++), with no
# undefined symbols left for the daemon to provide, and only the entry function
# (pgxq_plugin_entry) in its dynamic symbol table. Hidden visibility alone is not enough for
# C++: the weak instantiations of std:: templates and their type info keep default visibility
# and would be exported (and could bind to another plugin's copies), so a linker version script
# makes everything but the entry local.
function(pgxq_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  set(_cxx FALSE)
  foreach(src IN LISTS ARGN)
    if(src MATCHES "\\.(cpp|cc|cxx|C)$")
      set(_cxx TRUE)
    endif()
  endforeach()
  if(_cxx)
    if(TARGET pgxq::plugin)
      target_link_libraries(${name} PRIVATE pgxq::plugin)
    else()
      target_link_libraries(${name} PRIVATE pgxq_plugin_sdk_cpp)
    endif()
  else()
    if(TARGET pgxq::plugin_c)
      target_link_libraries(${name} PRIVATE pgxq::plugin_c)
    else()
      target_link_libraries(${name} PRIVATE pgxq_plugin_sdk)
    endif()
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT APPLE)
    set(_exports ${CMAKE_CURRENT_BINARY_DIR}/pgxq-plugin-exports.map)
    file(CONFIGURE OUTPUT ${_exports} CONTENT "{\n  global: pgxq_plugin_entry;\n  local: *;\n};\n")
    target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:--version-script=${_exports}")
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${_exports})
  endif()
endfunction()
