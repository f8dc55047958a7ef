// Must NOT compile with the hub's include root: model acquisition is not inference.
#include "engine/embedder.h"
