// Pushes to a file:// remote through `git receive-pack`, the program a served Git remote runs
// on its side (git http-backend, sshd, git daemon). libgit2 1.5's own local transport writes
// the remote ref with force, without checking that it still holds the value the push was
// planned on (src/libgit2/transports/local.c, local_push_update_remote_ref), so a push that
// someone else made in between is rewound and lost. receive-pack moves each ref only if it
// still holds the old value, checked under the ref's lock, and a crash of gitsyncd cannot
// leave that lock behind: the lock belongs to the receive-pack process, which finishes or
// gives up cleanly when its input ends. See docs/sync.md, "Crash safety".
#pragma once

#include <git2.h>

#include <string>

namespace gitsyncd {

// True for a remote URL that names a repository on this machine (file://...).
bool IsFileUrl(const std::string& url);

// A git_transport_cb for git_remote_callbacks.transport: the smart protocol over the stdin
// and stdout of a `git receive-pack <path>` child. Push only (fetches keep libgit2's local
// transport, which reads and never writes refs on the remote).
int ReceivePackTransport(git_transport** out, git_remote* owner, void* payload);

}  // namespace gitsyncd
