#include "surveyd/api/router.hpp"

#include <algorithm>

namespace surveyd::api {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = path.empty() || path.front() != '/' ? 0 : 1;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool Placeholder(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Matches `path` against `pattern`; fills params on success.
bool MatchPath(std::string_view pattern, std::string_view path,
               std::vector<std::pair<std::string, std::string>>& params) {
  const auto want = Segments(pattern);
  const auto have = Segments(path);
  params.clear();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string_view segment = want[i];
    if (Placeholder(segment) && segment.size() > 3 && segment[1] == '*') {
      if (i >= have.size()) return false;
      // The rest of the path, slashes and all, as received.
      std::size_t offset = 0;
      for (std::size_t j = 0; j < i; ++j) offset += have[j].size() + 1;
      if (!path.empty() && path.front() == '/') ++offset;
      const std::string_view rest = path.substr(std::min(offset, path.size()));
      if (rest.empty()) return false;
      params.emplace_back(std::string(segment.substr(2, segment.size() - 3)), std::string(rest));
      return true;
    }
    if (i >= have.size()) return false;
    if (Placeholder(segment)) {
      if (have[i].empty()) return false;
      params.emplace_back(std::string(segment.substr(1, segment.size() - 2)),
                          http::UrlDecode(have[i], false));
    } else if (segment != have[i]) {
      return false;
    }
  }
  return want.size() == have.size();
}

}  // namespace

bool Route::Allows(Role held) const {
  if (!role) return true;
  if (Grants(held, *role)) return true;
  return std::any_of(also.begin(), also.end(), [&](Role other) { return Grants(held, other); });
}

std::string_view Call::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

void Router::Add(Route route) {
  if (route.name.empty()) route.name = route.pattern;
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match match;
  std::vector<std::pair<std::string, std::string>> params;
  for (const Route& route : routes_) {
    if (!MatchPath(route.pattern, path, params)) continue;
    const bool method_ok = route.method == method || (route.method == "GET" && method == "HEAD");
    if (method_ok) {
      match.route = &route;
      match.params = std::move(params);
      match.allow.clear();
      match.path_route = nullptr;
      return match;
    }
    if (match.path_route == nullptr) {
      match.path_route = &route;
      match.params = params;
    }
    if (match.allow.find(route.method) == std::string::npos) {
      match.allow += (match.allow.empty() ? "" : ", ") + route.method;
    }
  }
  return match;
}

}  // namespace surveyd::api
