// Compiled by the layering tests (tests/layering/CMakeLists.txt): it
// builds only where pv-hv's own headers are on the include path.
#include "domain.h"

int layering_probe() { return static_cast<int>(pv::ExitStatus::kPoweroff); }
