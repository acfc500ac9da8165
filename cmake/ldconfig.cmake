# ldconfig.cmake - run at install time after libgoc.so.N is in place
# (GOC_LIBDIR: the library folder, relative to the prefix or absolute).
#
# Into a folder the dynamic loader searches (/usr/local/lib, /usr/lib,
# ...: ldconfig's own list), the loader's cache needs ldconfig before a
# program finds libgoc.so.N: run it (as root; otherwise say so). Into any
# other folder ldconfig would not help: say how programs find the
# library (not when uninstalling: GOC_UNINSTALL). Nothing to do for a staged install (DESTDIR: the package
# manager runs ldconfig when the tree lands) or a CPack staging tree.
if(NOT "$ENV{DESTDIR}" STREQUAL "" OR CMAKE_INSTALL_PREFIX MATCHES "/_CPack_Packages/")
  return()
endif()
if(IS_ABSOLUTE "${GOC_LIBDIR}")
  set(_goc_dir "${GOC_LIBDIR}")
else()
  set(_goc_dir "${CMAKE_INSTALL_PREFIX}/${GOC_LIBDIR}")
endif()
get_filename_component(_goc_real "${_goc_dir}" REALPATH)

find_program(GOC_LDCONFIG ldconfig PATHS /sbin /usr/sbin)
if(NOT GOC_LDCONFIG)
  return()
endif()
# -v lists each folder it scans as "/folder: (from ...)"; -N -X: change
# nothing.
execute_process(COMMAND ${GOC_LDCONFIG} -v -N -X
  OUTPUT_VARIABLE _goc_out ERROR_QUIET RESULT_VARIABLE _goc_rc)
set(_goc_searched FALSE)
string(REPLACE "\n" ";" _goc_lines "${_goc_out}")
foreach(_goc_line IN LISTS _goc_lines)
  if(_goc_line MATCHES "^(/[^:\t ]*):")
    get_filename_component(_goc_d "${CMAKE_MATCH_1}" REALPATH)
    if(_goc_d STREQUAL _goc_real)
      set(_goc_searched TRUE)
    endif()
  endif()
endforeach()

if(_goc_searched)
  execute_process(COMMAND ${GOC_LDCONFIG} RESULT_VARIABLE _goc_rc
    ERROR_VARIABLE _goc_err)
  if(_goc_rc EQUAL 0)
    message(STATUS "goc: ran ldconfig (${_goc_dir})")
  else()
    message(WARNING "goc: ldconfig failed (${_goc_err}); run `sudo ldconfig` "
      "so that programs find libgoc.so in ${_goc_dir}")
  endif()
elseif(NOT GOC_UNINSTALL)
  message(STATUS "goc: ${_goc_dir} is not a folder the dynamic loader "
    "searches: link programs with -Wl,-rpath,${_goc_dir} or set "
    "LD_LIBRARY_PATH (docs/install.md)")
endif()
