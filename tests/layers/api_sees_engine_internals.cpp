// Must NOT compile with the API layer's include root: only the engine's interface header is
// visible there, not its model code.
#include "engine/encoder_model.h"
