#pragma once
// Group commit across callers. Requests that each write a few items (an event pushed over HTTP,
// a delivery report) would each pay a transaction and a flush of the log to disk. Here the
// caller that finds the writer free writes everything queued meanwhile in one call, while the
// others wait for their share of the results; a caller alone is written at once, so nothing
// waits on a timer. The same idea as PostgreSQL's own group commit of the WAL, one level up,
// where it also saves the statements.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace surveyd {

template <typename Item, typename Result>
class GroupCommit {
 public:
  // Writes the items in one go and returns one result per item, in order.
  using Apply = std::function<std::vector<Result>(const std::vector<Item>&)>;

  // Whether what a group's write threw may be one request's fault. When it cannot be (the
  // database is down), writing each request again alone would only repeat the failure while
  // the others wait: every request gets the error at once.
  using RequestMayBeAtFault = std::function<bool(const std::exception_ptr&)>;

  // A group takes whole requests up to `max_items` (a larger request is a group of its own).
  explicit GroupCommit(std::size_t max_items, RequestMayBeAtFault request_may_be_at_fault = nullptr)
      : max_items_(max_items), request_may_be_at_fault_(std::move(request_may_be_at_fault)) {}

  // Writes `items` together with whatever other callers queued, by one call of `apply` made
  // by one of the callers: every caller's `apply` must do the same thing. Returns this caller's
  // results, in order. If the group's write throws, each request of the group is written again
  // alone, so that one bad request fails alone (unless the failure cannot be a request's); what
  // that throws is rethrown to its own caller.
  //
  // The writer's turn passes from hand to hand: a caller that finds the writer free writes at
  // once; one that finds it busy waits, and when a write ends its writer wakes exactly the
  // callers it wrote and, if any are queued, the first of them to write the next group (which
  // holds it). Each waiting caller is woken once: with one wake-up shared by all, every write
  // woke every caller still queued only for most of them to wait again, and those wake-ups
  // were a third of the context switches a push cost (docs/benchmark-history.md).
  std::vector<Result> Submit(std::vector<Item> items, const Apply& apply) {
    Request request;
    request.items = std::move(items);
    std::unique_lock lock(mutex_);
    queue_.push_back(&request);
    if (writing_) {
      request.wake.wait(lock, [&request] { return request.done || request.turn; });
    } else {
      writing_ = true;  // the writer was free, so nothing was queued before this request
    }
    if (!request.done) {
      // This caller's turn to write, and its request first in the queue: in the group it takes.
      std::vector<Request*> group = TakeGroup();
      lock.unlock();
      Write(group, apply);
      lock.lock();
      // Woken under the lock: a caller that saw `done` may return and free its request at once.
      for (Request* written : group) {
        written->done = true;
        if (written != &request) written->wake.notify_one();
      }
      if (queue_.empty()) {
        writing_ = false;
      } else {
        queue_.front()->turn = true;
        queue_.front()->wake.notify_one();
      }
    }
    if (request.error) std::rethrow_exception(request.error);
    return std::move(request.results);
  }

  // Calls of `apply` for a group (one or more requests) made so far, and requests waiting for
  // the writer now: for tests and metrics.
  std::size_t writes() const {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  struct Request {
    std::vector<Item> items;
    std::vector<Result> results;
    std::exception_ptr error;
    bool done = false;  // written, results or error set
    bool turn = false;  // first in the queue: this caller writes the next group
    std::condition_variable wake;
  };

  // Called with the lock held.
  std::vector<Request*> TakeGroup() {
    std::vector<Request*> group;
    std::size_t items = 0;
    while (!queue_.empty()) {
      Request* next = queue_.front();
      if (!group.empty() && items + next->items.size() > max_items_) break;
      items += next->items.size();
      group.push_back(next);
      queue_.pop_front();
    }
    return group;
  }

  // Called without the lock: each request in `group` is this writer's alone until it is done.
  void Write(const std::vector<Request*>& group, const Apply& apply) {
    {
      std::lock_guard lock(mutex_);
      ++writes_;
    }
    if (group.size() == 1) {
      WriteAlone(*group.front(), apply);
      return;
    }
    std::vector<Item> all;
    for (const Request* request : group) {
      all.insert(all.end(), request->items.begin(), request->items.end());
    }
    try {
      std::vector<Result> results = apply(all);
      if (results.size() != all.size())
        throw std::logic_error("group commit: not one result per item");
      std::size_t at = 0;
      for (Request* request : group) {
        for (std::size_t i = 0; i < request->items.size(); ++i) {
          request->results.push_back(std::move(results[at + i]));
        }
        at += request->items.size();
      }
    } catch (...) {
      const std::exception_ptr error = std::current_exception();
      for (Request* request : group) {
        if (request_may_be_at_fault_ && !request_may_be_at_fault_(error)) {
          request->results.clear();
          request->error = error;
        } else {
          WriteAlone(*request, apply);
        }
      }
    }
  }

  static void WriteAlone(Request& request, const Apply& apply) {
    try {
      request.results = apply(request.items);
      if (request.results.size() != request.items.size()) {
        throw std::logic_error("group commit: not one result per item");
      }
    } catch (...) {
      request.results.clear();
      request.error = std::current_exception();
    }
  }

  const std::size_t max_items_;
  const RequestMayBeAtFault request_may_be_at_fault_;
  mutable std::mutex mutex_;
  std::deque<Request*> queue_;
  bool writing_ = false;  // a caller is writing, or has been handed the turn to
  std::size_t writes_ = 0;
};

}  // namespace surveyd
