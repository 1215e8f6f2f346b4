#pragma once
// The WMNow-style messaging API adapter (../shared/spec/gateway.md, section 1).
#include <chrono>
#include <memory>
#include <string>

#include "surveyd/gateway/gateway.hpp"

namespace surveyd::gateway {

struct WmnowOptions {
  std::string base_url;  // "https://api.wmnow.example" or "http://127.0.0.1:8090"
  std::string api_key;   // Bearer token
  std::string sender = "Police";
  std::string status_callback;  // absolute URL of /api/v1/gateway/wmnow/status
  std::chrono::milliseconds timeout{10000};
};

std::unique_ptr<Gateway> MakeWmnowGateway(const WmnowOptions& options);

}  // namespace surveyd::gateway
