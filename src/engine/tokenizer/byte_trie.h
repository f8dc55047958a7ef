// ByteTrie: an immutable prefix tree over byte strings with an int32 value per key, built once
// from (key, value) pairs. Children of a node are stored contiguously and sorted by byte, so a
// lookup costs one short scan per input byte. Owns its node array; const methods are safe to call
// from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ej::engine::tok {

class ByteTrie {
 public:
  ByteTrie() = default;
  // Later duplicates of a key override earlier ones. Empty keys are ignored.
  explicit ByteTrie(std::vector<std::pair<std::string, int32_t>> entries);

  // Calls f(length, value) for every key that is a prefix of s, shortest first.
  template <typename F>
  void common_prefixes(std::string_view s, F&& f) const {
    if (nodes_.empty()) return;
    uint32_t node = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      node = child(node, static_cast<uint8_t>(s[i]));
      if (node == kNone) return;
      if (nodes_[node].value >= 0) f(i + 1, nodes_[node].value);
    }
  }

  // Length of the longest key that is a prefix of s (0 if none); *value receives its value.
  size_t longest_prefix(std::string_view s, int32_t* value) const {
    size_t best = 0;
    common_prefixes(s, [&](size_t len, int32_t v) {
      best = len;
      *value = v;
    });
    return best;
  }

  bool empty() const { return nodes_.size() <= 1; }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Node {
    uint32_t first_child = 0;
    uint32_t num_children = 0;
    int32_t value = -1;
    uint8_t label = 0;
  };
  uint32_t child(uint32_t node, uint8_t b) const {
    if (node == 0) return root_index_[b];
    const Node& n = nodes_[node];
    uint32_t lo = n.first_child;
    uint32_t hi = lo + n.num_children;
    while (hi - lo > 8) {  // children are sorted by label
      uint32_t mid = lo + (hi - lo) / 2;
      uint8_t l = nodes_[mid].label;
      if (l == b) return mid;
      if (l < b) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (uint32_t k = lo; k < hi; ++k) {
      uint8_t l = nodes_[k].label;
      if (l == b) return k;
      if (l > b) break;
    }
    return kNone;
  }

  std::vector<Node> nodes_;
  uint32_t root_index_[256] = {};
};

}  // namespace ej::engine::tok
