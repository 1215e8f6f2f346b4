#pragma once
// The PostgreSQL alert store, on a small pool of its own on the primary. (Alerts are written by
// the survey store, with the answers: PgStore::SubmitResponse.)
#include <memory>
#include <string>

#include "surveyd/core/key_ring.hpp"
#include "surveyd/store/alert_store.hpp"

namespace surveyd::store {

// `phone_keys` open the survey's number when an alert's number is revealed (privacy.phone_keys).
std::unique_ptr<AlertStore> MakePgAlertStore(const std::string& url, int pool_size,
                                             crypto::KeyRing phone_keys);

}  // namespace surveyd::store
