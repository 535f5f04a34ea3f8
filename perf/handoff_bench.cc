// Google Benchmark: the Synchronizer's leader hand-off latency (docs/perf.md: "measure a bounded spin
// before sleeping"). Two threads pass the leader token back and forth: the leader waits until the
// other thread is a follower, promotes it, and joins as a follower itself. One iteration is a
// round trip, i.e. two hand-offs (items_per_second counts hand-offs). Arg: the follower's spin count
// (0: it sleeps on its futex at once, so every hand-off is a wake-up of a sleeping thread).
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "lf/pattern/synchronizer.h"

namespace {

// Leader: waits until the other thread waits as a follower, then hands it the token.
void hand_over(lf::Synchronizer& sync) {
  while (sync.followers() == 0 && !sync.stopping()) std::this_thread::yield();
  sync.promote_new_leader();
}

void BM_LeaderHandOff(benchmark::State& state) {
  lf::Synchronizer sync(static_cast<int>(state.range(0)));
  lf::Synchronizer::Follower self;
  lf::Synchronizer::Follower peer;
  // The token is free: this thread leads first.
  if (sync.join(self) != lf::Synchronizer::Turn::kLead) return;
  std::thread other([&] {
    while (sync.join(peer) == lf::Synchronizer::Turn::kLead) hand_over(sync);
  });
  for (auto _ : state) {
    hand_over(sync);
    // Back as leader once `other` hands the token over.
    if (sync.join(self) != lf::Synchronizer::Turn::kLead) break;
  }
  sync.stop();
  other.join();
  state.SetItemsProcessed(2 * state.iterations());  // items: hand-offs
}
BENCHMARK(BM_LeaderHandOff)->ArgName("spin")->Arg(0)->Arg(200)->Arg(4000)->UseRealTime();

}  // namespace
