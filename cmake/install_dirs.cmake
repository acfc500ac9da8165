# install_dirs.cmake - run first at install time: record the folders this
# install is about to create (GOC_DEST_DIRS: the destinations, relative to
# the prefix or absolute; each missing folder on the way, DESTDIR
# included), one a line, in GOC_DIRS_FILE next to CMake's file manifest,
# so that cmake/uninstall.cmake removes exactly the folders the install
# made, once they are empty, and no folder that was there before.
set(_goc_created "")
foreach(_goc_rel IN LISTS GOC_DEST_DIRS)
  if(IS_ABSOLUTE "${_goc_rel}")
    set(_goc_path "$ENV{DESTDIR}${_goc_rel}")
  else()
    set(_goc_path "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${_goc_rel}")
  endif()
  get_filename_component(_goc_path "${_goc_path}" ABSOLUTE)
  string(REPLACE "/" ";" _goc_parts "${_goc_path}")
  set(_goc_dir "")
  foreach(_goc_part IN LISTS _goc_parts)
    if(_goc_part STREQUAL "")
      continue()
    endif()
    string(APPEND _goc_dir "/${_goc_part}")
    if(NOT EXISTS "${_goc_dir}")
      list(APPEND _goc_created "${_goc_dir}")
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES _goc_created)
string(REPLACE ";" "\n" _goc_created "${_goc_created}")
file(WRITE "${GOC_DIRS_FILE}" "${_goc_created}\n")
