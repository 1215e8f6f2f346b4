#include "surveyd/core/work_queue.hpp"

#include <algorithm>

namespace surveyd {

struct WorkQueue::Job {
  const std::function<void()>* work = nullptr;
  std::exception_ptr error;
  bool done = false;
  std::condition_variable finished;
};

WorkQueue::WorkQueue(int threads, int max_waiting)
    : capacity_(static_cast<std::size_t>(std::max(1, threads) + std::max(0, max_waiting))) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
}

WorkQueue::~WorkQueue() { Stop(); }

bool WorkQueue::Run(const std::function<void()>& work) {
  Job job;
  job.work = &work;
  std::unique_lock lock(mutex_);
  if (stopping_ || in_flight_ >= capacity_) return false;
  ++in_flight_;
  waiting_.push_back(&job);
  wake_.notify_one();
  job.finished.wait(lock, [&] { return job.done; });
  if (job.error) std::rethrow_exception(job.error);
  return true;
}

void WorkQueue::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, nothing left
    Job* job = waiting_.front();
    waiting_.pop_front();
    lock.unlock();
    try {
      (*job->work)();
    } catch (...) {  // handed back to the caller, which handles it like any other failure
      job->error = std::current_exception();
    }
    lock.lock();
    --in_flight_;
    job->done = true;
    job->finished.notify_one();
  }
}

void WorkQueue::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

std::size_t WorkQueue::InFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace surveyd
