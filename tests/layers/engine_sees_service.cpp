// Must NOT compile with the engine's include root: the engine may not use the service layer.
#include "service/services.h"
