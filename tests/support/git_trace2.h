// Reads Git's own trace of how long its commands took (GIT_TRACE2_EVENT: one JSON object per
// line), so a bench can tell a Git server's time apart from ours where no web server logs it,
// as with sshd or a `git receive-pack` the daemon spawns for a file:// remote.
#pragma once

#include <string>
#include <vector>

namespace gitsyncd::testing {

// The run time in seconds of each top-level git command called `name` ("receive-pack",
// "upload-pack") in `events`, the text of a GIT_TRACE2_EVENT file, in the order they ended.
// Top-level: started by something other than git (sshd's shell, the daemon); the children a
// command starts are part of its time. A line still being written is skipped.
std::vector<double> Trace2CommandSeconds(const std::string& events, const std::string& name);

}  // namespace gitsyncd::testing
