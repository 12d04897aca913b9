#include "webhooks/json_member_filter.h"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <array>
#include <cstring>

namespace gitsyncd {

namespace json = boost::json;

void MemberTree::Add(std::string_view path) {
  Node* node = &root_;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    bool list = segment.size() > 2 && segment.substr(segment.size() - 2) == "[]";
    if (list) segment.remove_suffix(2);
    auto it = std::find_if(node->children.begin(), node->children.end(),
                           [&](const Node& c) { return c.key == segment; });
    if (it == node->children.end()) it = node->children.insert(node->children.end(), Node{std::string(segment), {}, false});
    it->list = it->list || list;
    node = &*it;
  }
}

namespace {

// A basic_parser handler that builds the pruned document described by a MemberTree.
class MemberFilter {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  MemberFilter(const MemberTree::Node* root, json::storage_ptr sp, unsigned char* temp, size_t temp_size)
      : root_(root), sp_(std::move(sp)), st_(json::storage_ptr(), temp, temp_size) {}

  json::value Release() { return st_.release(); }

  bool on_document_begin(json::error_code&) {
    st_.reset(sp_);
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return Begin(false); }
  bool on_object_end(std::size_t, json::error_code&) { return End(); }
  bool on_array_begin(json::error_code&) { return Begin(true); }
  bool on_array_end(std::size_t, json::error_code&) { return End(); }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    AppendKey(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    AppendKey(s);
    Key();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (!in_string_) {
      in_string_ = true;
      keep_string_ = Next();
    }
    if (keep_string_) st_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    bool keep = in_string_ ? keep_string_ : Next();
    in_string_ = false;
    if (keep) st_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    if (Next()) st_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    if (Next()) st_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (Next()) st_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    if (Next()) st_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    if (Next()) st_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    const MemberTree::Node* node;
    bool array;
    bool keep_elements;
    size_t count;
  };
  static constexpr size_t kMaxKey = 32;  // longer keys match no member

  // A value starts: true when it is kept (and counted in its container).
  bool Next() {
    if (skip_depth_ > 0) return false;
    if (skip_value_) {
      skip_value_ = false;
      return false;
    }
    if (depth_ == 0) return true;  // the root
    Frame& f = frames_[depth_ - 1];
    if (f.array && !f.keep_elements) return false;
    ++f.count;
    return true;
  }
  bool Begin(bool array) {
    const Frame* parent = depth_ == 0 ? nullptr : &frames_[depth_ - 1];
    const MemberTree::Node* node = !parent ? root_ : parent->array ? parent->node : pending_;
    bool nested_in_array = parent && parent->array;
    if (!Next()) {
      ++skip_depth_;
      return true;
    }
    if (depth_ == frames_.size()) {  // deeper than any path kept: skipped whole
      st_.push_null();
      ++skip_depth_;
      return true;
    }
    frames_[depth_++] = {node, array, array && node->list && !nested_in_array, 0};
    return true;
  }
  bool End() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    const Frame& f = frames_[--depth_];
    if (f.array) {
      st_.push_array(f.count);
    } else {
      st_.push_object(f.count);
    }
    return true;
  }
  void AppendKey(json::string_view s) {
    if (skip_depth_ > 0 || key_size_ > kMaxKey) return;
    size_t n = std::min(s.size(), kMaxKey + 1 - key_size_);
    std::memcpy(key_ + key_size_, s.data(), n);
    key_size_ += n;
  }
  void Key() {
    std::string_view key(key_, key_size_);
    if (skip_depth_ == 0) {
      const MemberTree::Node* hit = nullptr;
      if (key.size() <= kMaxKey) {
        for (const MemberTree::Node& c : frames_[depth_ - 1].node->children) {
          if (c.key == key) {
            hit = &c;
            break;
          }
        }
      }
      if (hit) {
        st_.push_key(json::string_view(key.data(), key.size()));
        pending_ = hit;
      } else {
        skip_value_ = true;
      }
    }
    key_size_ = 0;
  }

  const MemberTree::Node* root_;
  json::storage_ptr sp_;
  json::value_stack st_;
  std::array<Frame, 8> frames_{};
  size_t depth_ = 0;
  const MemberTree::Node* pending_ = nullptr;  // the member whose value comes next
  size_t skip_depth_ = 0;               // > 0 inside a skipped container
  bool skip_value_ = false;             // the next value belongs to a skipped member
  bool in_string_ = false, keep_string_ = false;
  char key_[kMaxKey + 1];
  size_t key_size_ = 0;
};

}  // namespace

json::value ParsePruned(const MemberTree& keep, std::string_view text, unsigned max_depth, json::storage_ptr sp,
                        json::error_code& ec, size_t* used) {
  json::parse_options options;
  options.max_depth = max_depth;
  // The pruned document holds a few dozen values: a stack scratch buffer for the parser's
  // value stack means no heap allocation in the common case (values go to `sp`).
  unsigned char temp[2048];
  json::basic_parser<MemberFilter> parser(options, &keep.root(), std::move(sp), temp, sizeof temp);
  *used = parser.write_some(true, text.data(), text.size(), ec);
  if (!ec && *used < text.size()) ec = json::error::extra_data;
  if (!ec) parser.write_some(false, nullptr, 0, ec);
  if (ec) return nullptr;
  return parser.handler().Release();
}

}  // namespace gitsyncd
