#pragma once
// Blocking jobs on threads of their own, with a bound on how many may wait: analysts' queries
// run here, on their own connections, so a heavy dashboard cannot take the threads that serve
// the citizens' pages, and a burst of them is refused ("busy") instead of piling up.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace surveyd {

class WorkQueue {
 public:
  // `threads` workers; at most `max_waiting` jobs wait for one while all are busy.
  WorkQueue(int threads, int max_waiting);
  ~WorkQueue();  // Stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Runs `job` on a worker and waits until it has run; an exception it throws is rethrown
  // here. Returns false at once, without running it, when too many jobs are in hand already or
  // the queue is stopping.
  bool Run(const std::function<void()>& job);

  // Jobs already in hand finish; later ones are refused. Joins the workers.
  void Stop();

  std::size_t InFlight() const;  // running + waiting

 private:
  struct Job;
  void Work();

  const std::size_t capacity_;  // threads + max_waiting
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> waiting_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace surveyd
