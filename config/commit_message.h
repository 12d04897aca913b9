// Commit message templates (`commit_message:` of a connector or sync): placeholders in braces,
// checked when the config is loaded and expanded for every commit gitsyncd makes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gitsyncd {

// The default: names the changed files ("gitsyncd app: a.yaml, b.yaml and 3 more").
inline constexpr const char* kDefaultCommitMessage = "gitsyncd {binding}: {files}";
inline constexpr size_t kMaxCommitTemplateLength = 1000;  // bytes, as written in the config
inline constexpr size_t kMaxCommitMessageLength = 8192;   // bytes of a whole message, listing included
inline constexpr size_t kMaxFilesNamed = 10;              // {files} names at most this many

// What the placeholders stand for in one commit.
struct CommitMessageValues {
  std::string binding;    // {binding}
  std::string connector;  // {connector}
  std::string branch;     // {branch}
  std::string host;       // {host}: this machine's host name
  std::vector<std::string> files;  // {files} (at most kMaxFilesNamed, then "and N more"), {count}
};

// The placeholders a template may use, for messages: "{binding}, {branch}, ...".
std::string CommitPlaceholderList();

// Why `text` cannot be a template ("" when it can): an unknown placeholder, an unclosed '{',
// a stray '}', more than kMaxCommitTemplateLength bytes, or an empty first line. `{{` and `}}`
// stand for literal braces.
std::string CommitTemplateProblem(const std::string& text);

// The template expanded, cut to kMaxCommitMessageLength bytes (at a UTF-8 character
// boundary). The template must have passed CommitTemplateProblem.
std::string ExpandCommitMessage(const std::string& text, const CommitMessageValues& values);

// Joins a title and a body ("title\n\nbody"), the whole cut to kMaxCommitMessageLength bytes.
std::string CappedCommitMessage(const std::string& title, const std::string& body);

}  // namespace gitsyncd
