// A JSON parse that keeps only named members: the whole text is tokenised and checked (syntax,
// depth, trailing bytes), but only the members on a MemberTree's paths become values; the rest
// is skipped as it streams by, so a large delivery costs no allocation for what nobody reads.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace gitsyncd {

// The members to keep, from paths: "a.b" is member b of member a; "list[].x" is member x of
// each element of the array `list`. Any other array is kept empty, any other object keeps only
// the named members.
class MemberTree {
 public:
  struct Node {
    std::string key;
    std::vector<Node> children;
    bool list = false;  // an array whose elements are kept, each filtered by `children`
  };

  void Add(std::string_view path);
  const Node& root() const { return root_; }

 private:
  Node root_;
};

// Parses `text` keeping what `keep` names, with values allocated from `sp`. On a syntax error,
// `*used` is the byte offset where parsing stopped.
boost::json::value ParsePruned(const MemberTree& keep, std::string_view text, unsigned max_depth,
                               boost::json::storage_ptr sp, boost::json::error_code& ec, size_t* used);

}  // namespace gitsyncd
