#include "lf/models/dispatcher.h"

#include "lf/metrics/metrics.h"
#include "lf/models/half_sync_half_async_dispatcher.h"
#include "lf/models/leader_followers_dispatcher.h"
#include "lf/models/loop_per_thread_dispatcher.h"
#include "lf/pattern/event_handler.h"

namespace lf {

bool Dispatcher::run_handler(EventHandler& handler) {
  metrics::add(metrics::Counter::kEventsDispatched);
  return handler.run();
}

std::unique_ptr<Dispatcher> make_dispatcher(const DispatcherOptions& options) {
  DispatcherOptions resolved = options;
  resolved.threads = resolve_threads(options.threads);
  switch (options.model) {
    case Model::kSingle:
      return std::make_unique<LoopPerThreadDispatcher>(Model::kSingle, 0, resolved.suspension);
    case Model::kReactor:
      return std::make_unique<LoopPerThreadDispatcher>(Model::kReactor, resolved.threads,
                                                       resolved.suspension);
    case Model::kHalfSyncHalfAsync:
      return std::make_unique<HalfSyncHalfAsyncDispatcher>(resolved.threads, resolved.suspension);
    case Model::kLeaderFollowersEdge:
      resolved.suspension = Suspension::kEdgeTriggered;
      break;
    case Model::kLeaderFollowersSpin:
      if (resolved.follower_spin == 0) resolved.follower_spin = Dispatcher::kDefaultFollowerSpin;
      break;
    case Model::kLeaderFollowersHandOff:
      resolved.hand_off = true;
      break;
    case Model::kLeaderFollowers:
      break;
  }
  return std::make_unique<LeaderFollowersDispatcher>(resolved);
}

}  // namespace lf
