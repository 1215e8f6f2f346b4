#pragma once
// The PostgreSQL alert store, on a small pool of its own on the primary. (Alerts are written by
// the survey store, with the answers: PgStore::SubmitResponse.)
#include <memory>
#include <string>

#include "surveyd/store/alert_store.hpp"

namespace surveyd::store {

std::unique_ptr<AlertStore> MakePgAlertStore(const std::string& url, int pool_size = 2);

}  // namespace surveyd::store
