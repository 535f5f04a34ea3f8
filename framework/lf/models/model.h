// Public. Model: the concurrency model (dispatcher) a Server runs its handlers under, so that the
// same handlers can be compared under each (docs/architecture.md).
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace lf {

enum class Model {
  kSingle,                   // "single": one thread, one epoll, events processed inline
  kReactor,                  // "reactor": an acceptor loop + N loops, one thread each (muduo)
  kHalfSyncHalfAsync,        // "hsha": one I/O thread, a queue, N worker threads
  kLeaderFollowers,          // "lf": N threads share one epoll (EPOLLONESHOT)
  kLeaderFollowersEdge,      // "lf-et": as lf, edge triggered with per-handler state
  kLeaderFollowersSpin,      // "lf-spin": as lf, a new follower spins before it sleeps
  kLeaderFollowersHandOff,   // "lf-handoff": as lf, the leader hands events to followers
};

// The model a Server runs when none is chosen: lf-et, the fastest that passes every test. It
// differs from lf only in how a handle is kept from a second thread (docs/architecture.md):
// lf re-arms with one epoll_ctl per event, lf-et registers once, edge triggered.
inline constexpr Model kDefaultModel = Model::kLeaderFollowersEdge;

// Every model, in the order above.
[[nodiscard]] std::span<const Model> all_models() noexcept;
// The model's name as the command line takes it ("lf", "reactor", ...).
[[nodiscard]] std::string_view to_string(Model model) noexcept;
// The model named `name`, or nullopt.
[[nodiscard]] std::optional<Model> parse_model(std::string_view name) noexcept;
// True for lf and its variants (they run a ThreadSet).
[[nodiscard]] bool is_leader_followers(Model model) noexcept;

}  // namespace lf
