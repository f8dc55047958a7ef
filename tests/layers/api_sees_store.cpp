// Must NOT compile with the API layer's include root: HTTP never sees SQL rows.
#include "store/store.h"
