#pragma once
// The daemon as a list of components, each with Start, Stop and Health, started in order and
// stopped in reverse: stopping first asks every component to take no new work (BeginStop, which
// returns at once), then waits for each in turn to finish or hand back what it holds (Stop).
// Readiness, the systemd watchdog and SIGHUP reloads walk the same list.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/systemd.hpp"
#include "surveyd/core/heartbeat.hpp"

namespace surveyd::app {

// A component could not start; the message is for the operator ("cannot listen on ..."), the
// code for the process (2: the configuration or the rules are wrong, 1: anything else).
class StartError : public std::runtime_error {
 public:
  explicit StartError(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

struct ComponentHealth {
  bool ok = true;
  nlohmann::json details = nlohmann::json::object();  // for ops (/api/v1/health)
  // Working, but not all of it (texts paused while the gateway fails or refuses us): said in
  // the health and on /readyz, without making the instance unready, since what still works (the
  // survey pages, delivery reports, STOP replies) must keep reaching it.
  bool degraded = false;
};

class Component {
 public:
  virtual ~Component() = default;
  // The name of its readiness check and watchdog loop: "database", "rules", "dispatcher"...
  virtual std::string Name() const = 0;
  virtual void Start() {}      // throws StartError
  virtual void BeginStop() {}  // take no new work; returns at once
  virtual void Stop() {}       // finish or hand back work in flight; safe to call twice
  virtual void Reload() {}     // SIGHUP
  // nullopt: not part of readiness.
  virtual std::optional<ComponentHealth> Health() const { return std::nullopt; }
  // A watched loop's last progress (see core/heartbeat.hpp); nullopt: not watched, or not running.
  virtual std::optional<Heartbeat::SteadyTime> LastProgress() const { return std::nullopt; }
};

class Components {
 public:
  void Add(Component& component) { components_.push_back(&component); }

  // Starts, in order, each component added since the last call; when one fails, stops every one
  // started so far and rethrows.
  void StartAll();
  // BeginStop on every started component (last first), then Stop on each (last first).
  void StopAll();
  void ReloadAll();

  struct Readiness {
    bool ready = false;
    nlohmann::json checks;
    std::vector<std::string> degraded;  // components working in part (ComponentHealth)
  };
  Readiness Check() const;

  // The watchdog's probes: every component, those that report progress being watched.
  std::vector<LoopProbe> Probes() const;

 private:
  std::vector<Component*> components_;
  std::size_t started_ = 0;
};

}  // namespace surveyd::app
