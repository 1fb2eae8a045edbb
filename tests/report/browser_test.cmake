# report_browser_test: report_example writes a report, check_report.py checks it in Chromium.
# Run by CTest as `cmake -DEXAMPLE=... -DPYTHON=... -DCHECKER=... -DOUT=... -P browser_test.cmake`.
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${EXAMPLE}" "${OUT}/report_example.html" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "report_example failed (${status})")
endif()
execute_process(COMMAND "${PYTHON}" "${CHECKER}" --experiments 3
                        "${OUT}/report_example.html" "${OUT}/report_example.png"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "check_report.py failed (${status})")
endif()
