#include "surveyd/store/ingest_parts.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>

#include "surveyd/core/phone.hpp"

namespace surveyd::store {
namespace {

// Lines joined by what they name (union-find with path halving).
class Links {
 public:
  explicit Links(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }

  std::size_t Root(std::size_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void Join(std::size_t a, std::size_t b) {
    a = Root(a);
    b = Root(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<std::size_t> parent_;
};

// The first line that named each value of one kind (event id, incident, number).
class Named {
 public:
  void Link(std::string_view value, std::size_t item, Links& links) {
    if (value.empty()) return;
    const auto [it, fresh] = first_.try_emplace(std::string(value), item);
    if (!fresh) links.Join(it->second, item);
  }

 private:
  std::unordered_map<std::string, std::size_t> first_;
};

}  // namespace

std::vector<std::vector<std::size_t>> SplitByContact(const std::vector<IngestItem>& items,
                                                     std::size_t parts) {
  Links links(items.size());
  Named ids, incidents, numbers;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const IngestItem& item = items[i];
    // A rejected line names what could be read of it (IngestItem), as the store holds it.
    const Event* event = item.event ? &*item.event : nullptr;
    ids.Link(event != nullptr ? event->event_id : item.event_id, i, links);
    incidents.Link(event != nullptr ? event->incident.id : item.incident_id, i, links);
    const std::string* phone = &item.phone;
    if (event != nullptr) {
      phone = event->caller && event->caller->phone ? &*event->caller->phone : nullptr;
    }
    // As written, the same number may differ ("07700 900123", "+447700900123").
    if (phone != nullptr && !phone->empty()) numbers.Link(phone::Normalize(*phone).e164, i, links);
  }

  std::unordered_map<std::size_t, std::vector<std::size_t>> by_root;
  for (std::size_t i = 0; i < items.size(); ++i) by_root[links.Root(i)].push_back(i);
  std::vector<std::vector<std::size_t>> groups;
  groups.reserve(by_root.size());
  for (auto& [root, members] : by_root) groups.push_back(std::move(members));
  // Largest first, each to the part with the fewest lines so far: even enough for the few large
  // groups and many small ones of a real feed. Ties by the first line, so a batch always splits
  // the same way.
  std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() > b.size() : a.front() < b.front();
  });
  std::vector<std::vector<std::size_t>> split(std::max<std::size_t>(parts, 1));
  for (auto& group : groups) {
    auto& smallest =
        *std::min_element(split.begin(), split.end(),
                          [](const auto& a, const auto& b) { return a.size() < b.size(); });
    smallest.insert(smallest.end(), group.begin(), group.end());
  }
  for (auto& part : split) std::sort(part.begin(), part.end());
  split.erase(std::remove_if(split.begin(), split.end(), [](const auto& p) { return p.empty(); }),
              split.end());
  std::stable_sort(split.begin(), split.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return split;
}

}  // namespace surveyd::store
