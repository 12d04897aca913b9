// How gitsyncd starts a child program with posix_spawn (`git receive-pack`, hooks): with no
// signal blocked (the daemon blocks SIGTERM, SIGINT and SIGHUP in every thread to take them
// synchronously, and a child would inherit that mask) and default dispositions.
#pragma once

#include <signal.h>
#include <spawn.h>

namespace gitsyncd {

// Initializes `attr` (the caller destroys it); `own_group`: the child leads a new process
// group, so it can be killed with everything it starts.
inline void InitChildSpawnAttributes(posix_spawnattr_t* attr, bool own_group) {
  posix_spawnattr_init(attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (own_group) {
    posix_spawnattr_setpgroup(attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(attr, flags);
}

}  // namespace gitsyncd
