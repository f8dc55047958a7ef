// MUST compile with the API layer's include root (the control: the probes above fail for the
// reason they name, not because the harness is broken).
#include "common/error.h"
#include "engine/embedder.h"
#include "service/services.h"
int main() {
  return 0;
}
