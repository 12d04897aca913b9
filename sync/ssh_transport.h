// The transport of every ssh:// and scp-like remote (user@host:path), in place of libgit2's
// own: the smart protocol over an exec channel ("git-upload-pack '<path>'" or
// "git-receive-pack '<path>'") of an SSH session lent by sync/ssh_session_pool.h, so
// consecutive operations on one remote share one connection, key exchange and login.
//  - Identity and credentials come from the operation's callbacks (RemoteAuth) exactly as
//    with libgit2's transport: a new session's host key goes to the certificate check, and
//    so does a pooled session's on every later use (a key removed or @revoked in known_hosts
//    since then is refused at once); the private key comes from the credential callback.
//  - A pooled session found closed (server restarted, connection dropped, channel refused)
//    is replaced by a new one, once, within the same operation; a stalled one is not retried.
//  - Every read and write is bounded by the socket I/O timeout (socket_stream.h) and the
//    socket is shut down by the worker's cancel token (api/io_cancel.h) while in use.
#pragma once

namespace gitsyncd {

// Registers the transport with libgit2 for ssh://, ssh+git://, git+ssh:// and scp-like
// URLs; called once by EnsureLibgit2 after git_libgit2_init.
int InstallSshTransport();

}  // namespace gitsyncd
