// Named failure points for reliability tests. EMBEDJOBS_FAILPOINTS="name=action,..." where
// action is `crash` (the process dies on the spot, as with SIGKILL), `sleep:MS`, or
// `error` (throws ej::Error(kInternal)). Unset: every failpoint is a cheap no-op.
// Read once at first use; thread-safe.
#pragma once

#include <string_view>

namespace ej {

void failpoint(std::string_view name);

}  // namespace ej
