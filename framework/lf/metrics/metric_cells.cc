#include "lf/metrics/metric_cells.h"

#include <algorithm>

namespace lf::metrics::detail {

namespace {

void add_cell(CellTable::Kind kind, std::uint64_t& total, std::uint64_t value) {
  if (kind == CellTable::Kind::kReal) {
    total =
        std::bit_cast<std::uint64_t>(std::bit_cast<double>(total) + std::bit_cast<double>(value));
  } else {
    total += value;
  }
}

// Hands the thread's cells to the table, and takes them back (their totals kept) at exit.
struct CellsSlot {
  CellsSlot() { CellTable::instance().attach(&cells); }
  ~CellsSlot() {
    CellTable::instance().detach(&cells);
    // Counts made later in this thread's exit (other thread_local destructors) go nowhere.
    t_cells = &CellTable::discarding_cells();
  }
  ThreadCells cells;
};

}  // namespace

ThreadCells& attach_cells() {
  thread_local CellsSlot slot;
  t_cells = &slot.cells;
  return slot.cells;
}

Cell* ThreadCells::add_block(std::uint32_t first) {
  return CellTable::instance().add_block(*this, first);
}

CellTable& CellTable::instance() {
  // Leaked on purpose: threads may exit (and detach) during static destruction.
  static CellTable* table = new CellTable;
  return *table;
}

ThreadCells& CellTable::discarding_cells() {
  static ThreadCells* sink = [] {
    auto* cells = new ThreadCells;
    cells->discarding_ = true;
    return cells;
  }();
  return *sink;
}

std::uint32_t CellTable::allocate(std::uint32_t count, Kind last) {
  std::lock_guard lock(mutex_);
  auto first = static_cast<std::uint32_t>(kinds_.size());
  if (first % kCellsPerBlock + count > kCellsPerBlock) {
    first = (first / kCellsPerBlock + 1) * kCellsPerBlock;  // the rest of this block stays unused
  }
  kinds_.resize(first + count, Kind::kCount);
  kinds_.back() = last;
  retired_.resize(kinds_.size(), 0);
  return first;
}

Cell* CellTable::add_block(ThreadCells& cells, std::uint32_t first) {
  static CellBlock scratch;  // written by anyone, read by nobody
  if (first == kNoCell) return &scratch.cells[0];
  if (cells.discarding_) return &scratch.cells[first % kCellsPerBlock];
  std::lock_guard lock(mutex_);
  if (first >= kinds_.size()) return &scratch.cells[0];
  const std::size_t block = first / kCellsPerBlock;
  if (cells.blocks_.size() <= block) cells.blocks_.resize(block + 1);
  if (cells.blocks_[block] == nullptr) cells.blocks_[block] = std::make_unique<CellBlock>();
  return &cells.blocks_[block]->cells[first % kCellsPerBlock];
}

void CellTable::attach(ThreadCells* cells) {
  std::lock_guard lock(mutex_);
  live_.push_back(cells);
}

void CellTable::detach(ThreadCells* cells) {
  std::lock_guard lock(mutex_);
  add_cells(*cells, retired_);
  std::erase(live_, cells);
}

std::vector<std::uint64_t> CellTable::totals() {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> totals = retired_;
  for (const ThreadCells* cells : live_) add_cells(*cells, totals);
  return totals;
}

std::uint64_t CellTable::total(std::uint32_t cell) {
  std::lock_guard lock(mutex_);
  if (cell >= kinds_.size()) return 0;
  std::uint64_t total = retired_[cell];
  const std::size_t block = cell / kCellsPerBlock;
  for (const ThreadCells* cells : live_) {
    if (block < cells->blocks_.size() && cells->blocks_[block] != nullptr) {
      add_cell(kinds_[cell], total,
               cells->blocks_[block]->cells[cell % kCellsPerBlock].load(std::memory_order_relaxed));
    }
  }
  return total;
}

void CellTable::add_cells(const ThreadCells& cells, std::vector<std::uint64_t>& totals) const {
  for (std::size_t block = 0; block < cells.blocks_.size(); ++block) {
    if (cells.blocks_[block] == nullptr) continue;
    for (std::size_t i = 0; i < kCellsPerBlock; ++i) {
      const std::size_t cell = block * kCellsPerBlock + i;
      if (cell >= totals.size()) break;
      add_cell(kinds_[cell], totals[cell],
               cells.blocks_[block]->cells[i].load(std::memory_order_relaxed));
    }
  }
}

}  // namespace lf::metrics::detail
