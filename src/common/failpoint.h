// Named failure points for reliability tests. EMBEDJOBS_FAILPOINTS="name=action,..." where
// action is `crash` (the process dies on the spot, as with SIGKILL), `sleep:MS`, or
// `error` (throws ej::Error(kInternal)); `N*action` (e.g. `1*error`) acts on the first N hits
// only, and every later hit is a no-op. Unset: every failpoint is a cheap no-op.
// Read once at first use; thread-safe.
//
// Points in the code: job.before_chunk_close, job.before_commit, job.after_commit,
// job.before_finish, job.chunk.<K> (a job's chunk K, before its rows are embedded: makes that
// chunk throw or kill its worker), idempotency.started (a keyed create is about to run),
// idempotency.after_commit (a create committed, its answer kept when it has a key, and not yet
// sent: a lost reply).
#pragma once

#include <string_view>

namespace ej {

void failpoint(std::string_view name);

// True when EMBEDJOBS_FAILPOINTS names any point (callers may skip building dynamic names).
bool failpoints_enabled();

}  // namespace ej
