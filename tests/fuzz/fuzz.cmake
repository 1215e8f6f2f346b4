# libFuzzer targets (SURVEYD_FUZZ=ON, clang only; scripts/fuzz builds and runs them). The
# daemon's sources (SURVEYD_SOURCES) less what the parsers and handlers never reach: no
# PostgreSQL, no dispatcher, no listener, no commands or their wiring. A new source file joins
# the targets unless it is one of those. analytics_sql, outbox, pg_text and store stay: they build
# SQL text and parameters without pqxx. The gateway adapters bring the HTTP client with them; the
# targets give them a client pool that never sends.
set(SURVEYD_FUZZ_SOURCES ${SURVEYD_SOURCES})
list(FILTER SURVEYD_FUZZ_SOURCES EXCLUDE REGEX "^src/(app|config|dispatch)/")
list(FILTER SURVEYD_FUZZ_SOURCES EXCLUDE REGEX
  "^src/store/(pg_|connect|connection_pool|feed_lock|ingest_parts|migrate|phone_vault)")
list(APPEND SURVEYD_FUZZ_SOURCES src/store/pg_text.cpp)
list(REMOVE_ITEM SURVEYD_FUZZ_SOURCES
  src/alerts/notifier.cpp src/alerts/smtp.cpp           # threads, an SMTP session
  src/core/failpoint.cpp src/core/key_ring.cpp
  src/feed/tcp_consumer.cpp src/gateway/factory.cpp     # a socket read, the adapters' wiring
  src/http/server.cpp src/metrics/process.cpp)          # a listener, /proc
# The dashboard and the OpenAPI document, compiled in as in the daemon (docs_routes.cpp).
file(GLOB_RECURSE SURVEYD_FUZZ_WEB_ASSETS CONFIGURE_DEPENDS web/*)
list(FILTER SURVEYD_FUZZ_WEB_ASSETS EXCLUDE REGEX "/node_modules/")
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/generated/embedded_assets.cpp
  COMMAND ${CMAKE_COMMAND} -DINPUT_DIR=${CMAKE_SOURCE_DIR}/web
          -DOUTPUT=${CMAKE_BINARY_DIR}/generated/embedded_assets.cpp
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
  DEPENDS ${SURVEYD_FUZZ_WEB_ASSETS} ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
          ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  COMMENT "Embedding web assets")
# The HTTP client's coroutines: clang 14 has them, but Asio only looks for them under GCC. The
# fuzz targets never run the client (the adapters get a pool that never sends), so its files
# are compiled plainly, without sanitizers or optimisation: instrumented, they took two of the
# build's six minutes (and UBSan's function check cannot instrument a coroutine's split parts in
# clang 14: "Cannot represent a difference across sections").
set_source_files_properties(src/http/client.cpp src/http/client_common.cpp src/http/client_pool.cpp
  PROPERTIES COMPILE_DEFINITIONS BOOST_ASIO_HAS_CO_AWAIT=1 COMPILE_OPTIONS "-fno-sanitize=all;-O0;-g0")
add_library(surveyd_fuzz_lib STATIC ${SURVEYD_FUZZ_SOURCES}
  ${CMAKE_BINARY_DIR}/generated/embedded_assets.cpp)
target_include_directories(surveyd_fuzz_lib PUBLIC include src tests)
# Most of the build's time is spent parsing the same Boost, JSON and spdlog headers in every
# unit: the same precompiled header as the daemon's library (clang's own). The client's files
# are compiled with other flags, which a precompiled header must match, so they go without.
target_precompile_headers(surveyd_fuzz_lib PRIVATE ${SURVEYD_PCH_HEADERS})
set_target_properties(surveyd_fuzz_lib PROPERTIES UNITY_BUILD ${SURVEYD_UNITY_BUILD} UNITY_BUILD_BATCH_SIZE 8)
set_source_files_properties(src/http/client.cpp src/http/client_common.cpp src/http/client_pool.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
target_compile_options(surveyd_fuzz_lib PUBLIC
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -gline-tables-only -O1)  # file and line in the sanitizers' reports
target_link_options(surveyd_fuzz_lib PUBLIC -fsanitize=address,undefined)
target_link_libraries(surveyd_fuzz_lib
  PUBLIC surveyd_options Boost::headers nlohmann_json::nlohmann_json spdlog::spdlog yaml-cpp
         OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

set(SURVEYD_FUZZ_TARGETS event_parser rules_loader http_request survey_form alert_answer
  gateway_callback sms_reply stats_query)
foreach(target ${SURVEYD_FUZZ_TARGETS})
  add_executable(fuzz_${target} tests/fuzz/fuzz_${target}.cpp)
  target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_${target} PRIVATE surveyd_fuzz_lib surveyd_warnings)
  target_compile_definitions(fuzz_${target} PRIVATE SURVEYD_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endforeach()
list(TRANSFORM SURVEYD_FUZZ_TARGETS PREPEND fuzz_ OUTPUT_VARIABLE SURVEYD_FUZZ_EXECUTABLES)
add_custom_target(fuzz_targets DEPENDS ${SURVEYD_FUZZ_EXECUTABLES})
