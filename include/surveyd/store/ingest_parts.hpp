#pragma once
// A feed batch split into parts that can be written at once, each in a transaction of its own.
//
// Two lines belong to one part when they name the same event id, the same incident or the same
// caller's number, directly or through other lines of the batch: deciding an event reads what is
// stored about its incident and number, and the part's transaction locks them. Parts that share
// none of these neither wait on each other's locks nor need each other's rows, so PostgreSQL can
// write them side by side on two cores. The rules text the caller's number, normalised as here
// (rules::Decide), so these are all that a decision reads, counts or locks.
#include <cstddef>
#include <vector>

#include "surveyd/core/ingest_item.hpp"

namespace surveyd::store {

// At most `parts` groups of indices into `items`, each in the batch's order, as even in size as
// the batch's connected lines allow, the largest first; empty groups are left out (one group: the
// batch does not split).
std::vector<std::vector<std::size_t>> SplitByContact(const std::vector<IngestItem>& items,
                                                     std::size_t parts);

}  // namespace surveyd::store
