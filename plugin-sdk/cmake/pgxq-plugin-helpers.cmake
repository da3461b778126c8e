# pgxq_add_plugin(<name> <sources...>): builds <name>.so as a MODULE library the way pgxqd
# loads it: no "lib" prefix, hidden visibility (only the entry function is exported, through
# PGXQ_PLUGIN_EXPORT), linked to the SDK target that fits its sources (C or C++), with no
# undefined symbols left for the daemon to provide.
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
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
endfunction()
