# What embed_assets.cmake and embed_migrations.cmake share: each turns files into a C++ source of
# raw strings at build time, so that nothing is read from disk at run time.

# Appends to the variable named BODY_VAR one initializer line,
# {"NAME", R"DELIMITER(...)DELIMITER"}, holding FILE. A file that holds ")DELIMITER\"" itself
# would end its string early: that fails. (The parameters' names are prefixed: a function sees
# its caller's variables, and a parameter named like BODY_VAR's value would hide it.)
function(embed_file _embed_body_var _embed_name _embed_file _embed_delimiter)
  file(READ "${_embed_file}" text)
  string(FIND "${text}" ")${_embed_delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${_embed_file} contains the raw-string delimiter )${_embed_delimiter}\"")
  endif()
  string(APPEND ${_embed_body_var}
         "    {\"${_embed_name}\", R\"${_embed_delimiter}(${text})${_embed_delimiter}\"},\n")
  set(${_embed_body_var} "${${_embed_body_var}}" PARENT_SCOPE)
endfunction()

# Writes CONTENT to OUTPUT only on change, so that an unrelated reconfigure does not rebuild the
# library.
function(embed_write_if_changed output content)
  if(EXISTS "${output}")
    file(READ "${output}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${output}" "${content}")
endfunction()
