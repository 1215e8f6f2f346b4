#include "surveyd/core/log_context.hpp"

#include "surveyd/core/crypto.hpp"

namespace surveyd {
namespace {

thread_local LogContext current;

}  // namespace

const LogContext& CurrentLogContext() { return current; }

ScopedLogContext::ScopedLogContext(LogContext context) : previous_(std::move(current)) {
  current = std::move(context);
}

ScopedLogContext::~ScopedLogContext() { current = std::move(previous_); }

std::string NewRequestId() { return crypto::Hex(crypto::RandomBytes(8)); }

}  // namespace surveyd
