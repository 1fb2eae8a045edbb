# report_browser_test: report_example writes a report (and, with --stress, one pushed to the
# edges of every layout); check_report.py checks each in headless Chromium and leaves a
# screenshot beside it in OUT. Run by CTest as
#   cmake -DEXAMPLE=... -DPYTHON=... -DCHECKER=... -DOUT=... -P browser_test.cmake
file(MAKE_DIRECTORY "${OUT}")
foreach(variant report_example report_stress)
  if(variant STREQUAL "report_stress")
    set(flags --stress)
  else()
    set(flags)
  endif()
  execute_process(COMMAND "${EXAMPLE}" ${flags} "${OUT}/${variant}.html" RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "report_example ${flags} failed (${status})")
  endif()
  execute_process(COMMAND "${PYTHON}" "${CHECKER}" --experiments 3 --finetune
                          "${OUT}/${variant}.html" "${OUT}/${variant}.png"
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "check_report.py failed on ${variant}.html (${status})")
  endif()
endforeach()
