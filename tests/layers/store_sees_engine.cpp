// Must NOT compile with the store's include root: storage knows nothing of tensors.
#include "engine/embedder.h"
