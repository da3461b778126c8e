# The status page's files (index.html, status.js, status.css), compiled into pgxq_http as byte
# arrays so the daemon serves them without reading anything from disk. Included from
# daemon/CMakeLists.txt; also run as a script (cmake -P) at build time to write the source, so
# editing an asset rebuilds only that source.
set(PGXQ_STATUS_ASSETS index.html status.js status.css)

if(CMAKE_SCRIPT_MODE_FILE)
  # cmake -DASSET_DIR=... -DOUTPUT=... -P embed.cmake
  set(text "// Generated at build time from daemon/http/assets by embed.cmake. Do not edit.\n")
  string(APPEND text "#include <string_view>\n\nnamespace pgxq::http::assets {\n\nnamespace {\n")
  set(views "")
  foreach(asset IN LISTS PGXQ_STATUS_ASSETS)
    string(MAKE_C_IDENTIFIER ${asset} id)
    file(READ ${ASSET_DIR}/${asset} hex HEX)
    string(LENGTH "${hex}" hex_length)
    math(EXPR size "${hex_length} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
    # One line of bytes per line of the asset keeps the generated file readable.
    string(REPLACE "'\\x0a'," "'\\x0a',\n  " bytes "${bytes}")
    string(APPEND text "constexpr char ${id}_bytes[${size} + 1] = {\n  ${bytes}'\\0'};\n")
    string(APPEND views "extern const std::string_view ${id};\nconst std::string_view ${id}(${id}_bytes, ${size});\n")
  endforeach()
  string(APPEND text "\n}  // namespace\n\n${views}\n}  // namespace pgxq::http::assets\n")
  file(WRITE ${OUTPUT}.tmp "${text}")
  file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
  file(REMOVE ${OUTPUT}.tmp)
  return()
endif()

if(TARGET pgxq_http)
  set(_asset_dir ${CMAKE_CURRENT_LIST_DIR})
  set(_asset_source ${PROJECT_BINARY_DIR}/generated/status_assets.cpp)
  list(TRANSFORM PGXQ_STATUS_ASSETS PREPEND ${_asset_dir}/ OUTPUT_VARIABLE _asset_files)
  add_custom_command(
    OUTPUT ${_asset_source}
    COMMAND ${CMAKE_COMMAND} -DASSET_DIR=${_asset_dir} -DOUTPUT=${_asset_source} -P ${_asset_dir}/embed.cmake
    DEPENDS ${_asset_files} ${_asset_dir}/embed.cmake
    COMMENT "Embedding the status page's files"
    VERBATIM)
  target_sources(pgxq_http PRIVATE ${_asset_source})
endif()
