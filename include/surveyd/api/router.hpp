#pragma once
// The API's route table: each route is {method, path pattern, role needed, handler}, so every
// endpoint is a small function and the role matrix can be read (and tested) in one place.
// Patterns are literal segments and {name} placeholders ("/api/v1/surveys/{id}"); a last
// segment "{*name}" takes the rest of the path ("/s/{*rest}").
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/api/auth.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::api {

// One request as a route handler sees it.
struct Call {
  const http::Request& request;
  std::vector<std::pair<std::string, std::string>> params;  // from the pattern, percent-decoded
  const Principal* principal = nullptr;                     // null on public routes

  std::string_view Param(std::string_view name) const;  // empty when absent
};

using RouteHandler = std::function<http::Response(const Call&)>;

struct Route {
  std::string method;        // "GET" (also answers HEAD), "POST", ...
  std::string pattern;       // "/api/v1/stats"
  std::optional<Role> role;  // nullopt: public (the handler checks what it needs, e.g. HMAC)
  std::string name;          // for logs, metrics and the audit trail; defaults to the pattern
  RouteHandler handler;
  std::vector<Role> also = {};  // other roles that may use it (alerts: supervisor or safeguarding)

  // Whether a caller holding `held` may use the route: `role` or one of `also` grants it.
  bool Allows(Role held) const;
};

class Router {
 public:
  void Add(Route route);

  struct Match {
    const Route* route = nullptr;  // null: nothing matched the method and path
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // when the path matched but the method did not: "GET, POST"
    // Then, the first route of that path (with `params` of it): a wrong method at a protected
    // route is audited under its name.
    const Route* path_route = nullptr;
  };
  Match Find(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace surveyd::api
