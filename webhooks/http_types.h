// The listener's view of one HTTP exchange, free of Beast types so handlers and their tests
// compile without it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "webhooks/payload_parser.h"

namespace gitsyncd {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent
  HeaderMap headers;   // lowercased names
  std::string body;
  std::string remote_address;
  bool from_loopback = false;

  std::string Header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// The answer every HTTP surface gives to a refused or failed request: {"error": message}.
HttpResponse JsonErrorResponse(int status, std::string_view message);

}  // namespace gitsyncd
