// Internal to the metrics (metric_handles.h, metric_registry.cc). The per-thread storage of the
// registered counters and histograms: the registry numbers cells, each thread keeps its own copy
// of every cell it uses, and a read sums the threads. Thread safe as each function says.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "lf/metrics/metrics.h"

namespace lf::metrics::detail {

using Cell = std::atomic<std::uint64_t>;
// Cells come in blocks, allocated per thread on its first use of one; a metric's cells never
// straddle two blocks, so a use finds them with one lookup.
inline constexpr std::uint32_t kCellsPerBlock = 256;
inline constexpr std::uint32_t kNoCell = 0xffffffff;  // a handle registered nowhere

struct alignas(64) CellBlock {
  std::array<Cell, kCellsPerBlock> cells{};
};

// One thread's cells. Only the owner writes a cell (load + store, as metrics.h's counters) and
// adds blocks (under the CellTable's lock, which reads them); not thread safe otherwise.
class ThreadCells {
 public:
  Cell* at(std::uint32_t first) {
    const std::size_t block = first / kCellsPerBlock;
    if (block < blocks_.size() && blocks_[block] != nullptr) {
      return &blocks_[block]->cells[first % kCellsPerBlock];
    }
    return add_block(first);
  }

 private:
  friend class CellTable;
  Cell* add_block(std::uint32_t first);

  std::vector<std::unique_ptr<CellBlock>> blocks_;
  bool discarding_ = false;  // a thread that is exiting: its counts go nowhere
};

// The calling thread's cells once it has used a metric; a plain pointer, as in metrics.h.
inline thread_local ThreadCells* t_cells = nullptr;
ThreadCells& attach_cells();

inline Cell* cells_at(std::uint32_t first) {
  ThreadCells* cells = t_cells;
  return (cells != nullptr ? *cells : attach_cells()).at(first);
}
// A histogram's sum: a double in a cell's bits (a count is added with metrics.h's bump()).
inline void bump_real(Cell& cell, double x) noexcept {
  const double sum = std::bit_cast<double>(cell.load(std::memory_order_relaxed)) + x;
  cell.store(std::bit_cast<std::uint64_t>(sum), std::memory_order_relaxed);
}

// The numbering of the cells, every live thread's cells and the totals of exited threads.
// Thread safe.
class CellTable {
 public:
  enum class Kind : std::uint8_t { kCount, kReal };

  static CellTable& instance();

  // `count` new cells, in one block, the last of kind `last`; the first one's number.
  std::uint32_t allocate(std::uint32_t count, Kind last);
  // Every cell summed over the threads, by number (a kReal one holds a double's bits).
  [[nodiscard]] std::vector<std::uint64_t> totals();
  [[nodiscard]] std::uint64_t total(std::uint32_t cell);

  void attach(ThreadCells* cells);
  void detach(ThreadCells* cells);  // keeps its totals
  Cell* add_block(ThreadCells& cells, std::uint32_t first);
  static ThreadCells& discarding_cells();

 private:
  CellTable() = default;
  void add_cells(const ThreadCells& cells, std::vector<std::uint64_t>& totals) const;

  std::mutex mutex_;
  std::vector<Kind> kinds_;  // by cell number
  std::vector<ThreadCells*> live_;
  std::vector<std::uint64_t> retired_;  // by cell number: the totals of exited threads
};

}  // namespace lf::metrics::detail
