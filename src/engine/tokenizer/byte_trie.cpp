#include "engine/tokenizer/byte_trie.h"

#include <algorithm>
#include <deque>

namespace ej::engine::tok {

ByteTrie::ByteTrie(std::vector<std::pair<std::string, int32_t>> entries) {
  std::erase_if(entries, [](const auto& e) { return e.first.empty(); });
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (uint32_t& r : root_index_) r = kNone;
  nodes_.push_back(Node{});
  struct Work {
    uint32_t node;
    size_t lo, hi, depth;
  };
  std::deque<Work> queue;
  queue.push_back({0, 0, entries.size(), 0});
  while (!queue.empty()) {
    Work w = queue.front();
    queue.pop_front();
    size_t i = w.lo;
    // Keys ending exactly here come first in sorted order; the last duplicate wins.
    while (i < w.hi && entries[i].first.size() == w.depth) {
      nodes_[w.node].value = entries[i].second;
      ++i;
    }
    nodes_[w.node].first_child = static_cast<uint32_t>(nodes_.size());
    while (i < w.hi) {
      auto b = static_cast<uint8_t>(entries[i].first[w.depth]);
      size_t j = i;
      while (j < w.hi && static_cast<uint8_t>(entries[j].first[w.depth]) == b) ++j;
      Node child;
      child.label = b;
      auto index = static_cast<uint32_t>(nodes_.size());
      nodes_.push_back(child);
      ++nodes_[w.node].num_children;
      if (w.node == 0) root_index_[b] = index;
      queue.push_back({index, i, j, w.depth + 1});
      i = j;
    }
  }
}

}  // namespace ej::engine::tok
