#pragma once
// How the store reports what went wrong. pqxx never leaves store/: a lost connection, a statement
// that took too long or a pool with no free connection becomes Unavailable; expected outcomes
// (duplicates, rejections) are values of each interface.
#include <stdexcept>

namespace surveyd::store {

// The database cannot be reached or failed unexpectedly; loops catch it, back off and go on,
// and the HTTP side answers 503 with Retry-After.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace surveyd::store
