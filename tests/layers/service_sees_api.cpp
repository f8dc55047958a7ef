// Must NOT compile with the service layer's include root: services never see HTTP.
#include "api/http_server.h"
