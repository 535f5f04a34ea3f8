#include "lf/models/model.h"

#include <array>

namespace lf {

namespace {
constexpr std::array kModels{Model::kSingle,          Model::kReactor,
                             Model::kHalfSyncHalfAsync, Model::kLeaderFollowers,
                             Model::kLeaderFollowersEdge, Model::kLeaderFollowersSpin,
                             Model::kLeaderFollowersHandOff};
}  // namespace

std::span<const Model> all_models() noexcept { return kModels; }

std::string_view to_string(Model model) noexcept {
  switch (model) {
    case Model::kSingle: return "single";
    case Model::kReactor: return "reactor";
    case Model::kHalfSyncHalfAsync: return "hsha";
    case Model::kLeaderFollowers: return "lf";
    case Model::kLeaderFollowersEdge: return "lf-et";
    case Model::kLeaderFollowersSpin: return "lf-spin";
    case Model::kLeaderFollowersHandOff: return "lf-handoff";
  }
  return "?";
}

std::optional<Model> parse_model(std::string_view name) noexcept {
  for (const Model model : kModels) {
    if (to_string(model) == name) return model;
  }
  return std::nullopt;
}

bool is_leader_followers(Model model) noexcept {
  return model == Model::kLeaderFollowers || model == Model::kLeaderFollowersEdge ||
         model == Model::kLeaderFollowersSpin || model == Model::kLeaderFollowersHandOff;
}

}  // namespace lf
